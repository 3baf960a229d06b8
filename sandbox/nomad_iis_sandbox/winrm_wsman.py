"""A node's WinRM listener: WS-Management with the WinRS shell (`POST /wsman`) as Windows' WinRM
service answers it (MS-WSMV, https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/;
the replies recorded in pypsrp's test fixtures, `tests/tests_pypsrp/responses/`; README, "WinRM").

Create, Command, Receive, Send, Signal and Delete of `.../windows/shell/cmd` shells. Every reply
echoes the request's MessageID in `RelatesTo` (pypsrp checks it). Receive long-polls: it answers
as soon as output exists or the command is done, and with the OperationTimeout fault (HTTP 500,
WSManFault 2150858793) when nothing came within the request's OperationTimeout, which clients
answer with another Receive. Unknown shell and command IDs get the InvalidSelectors faults.
Namespaces are matched by URI, never by prefix: pywinrm and pypsrp use prefixes of their own.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import logging
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from aiohttp import web

from .cluster import Cluster, Node
from .winrm_auth import ENCRYPTED_TYPE, SERVER, Authenticated, BadRequest, PlaintextRefused, WinrmAuth, register_users, wrap
from .winrm_commands import Output, Runner

log = logging.getLogger(__name__)

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
X = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
P = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
DONE = f"{RSP}/CommandState/Done"
RUNNING = f"{RSP}/CommandState/Running"
CHUNK = 100 * 1024  # stdout bytes per Stream element, as Windows splits big outputs
DEFAULT_OPERATION_TIMEOUT = 60.0
TIMED_OUT = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
BAD_COMMAND = ("The Windows Remote Shell received a request to perform an operation on a command identifier that does "
               "not exist. Either the command has completed execution or the client specified an invalid command "
               "identifier. ")
NO_SHELL = ("The request for the Windows Remote Shell with ShellId {} failed because the shell was not found on the "
            "server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the "
            "server. Provide the correct ShellId or create a new shell and retry the operation.")
UNENCRYPTED = ("The WS-Management service cannot process the request: the request is not encrypted, and the service "
               "configuration does not allow unencrypted traffic (AllowUnencrypted = false).")
SECRET_PARAM = re.compile(r"(?i)(/(?:[\w.]*password|[\w.]*secret)[:=])(\"[^\"]*\"|\S+)")


@dataclass
class Command:
    id: str
    line: str
    output: Output = field(default_factory=Output)
    rc: int | None = None
    sent_out: int = 0
    sent_err: int = 0
    task: asyncio.Task | None = None

    @property
    def done(self) -> bool:
        return self.rc is not None


@dataclass
class Shell:
    id: str
    user: str
    codepage: str
    runner: Runner
    commands: dict[str, Command] = field(default_factory=dict)

    def encode(self, text: str) -> bytes:
        codec = "utf-8" if self.codepage == "65001" else f"cp{self.codepage}"
        try:
            codecs.lookup(codec)
        except LookupError:
            codec = "utf-8"
        return text.encode(codec, "replace")


@dataclass
class WinrmNode:
    """What the HTTP and the HTTPS listener of a node share: its shells."""
    cluster: Cluster
    node: Node
    shells: dict[str, Shell] = field(default_factory=dict)

    def close(self) -> None:
        for shell in self.shells.values():
            for command in shell.commands.values():
                if command.task is not None and not command.task.done():
                    command.task.cancel()
        self.shells.clear()


class Fault(Exception):
    def __init__(self, code: str, subcode: str, wsman_code: int, message: str, detail: str = ""):
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.wsman_code = wsman_code
        self.message = message
        self.detail = detail


def invalid_selectors(message: str) -> Fault:
    return Fault("s:Sender", "w:InvalidSelectors", 2150858843, message,
                 f"<w:FaultDetail>{escape('http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors')}"
                 "</w:FaultDetail>")


def bad_parameter() -> Fault:
    return Fault("s:Sender", "w:InvalidParameter", 87, "The parameter is incorrect. ",
                 "<w:FaultDetail>http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue</w:FaultDetail>")


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (f'<s:Envelope xml:lang="en-US" xmlns:s="{S}" xmlns:a="{A}" xmlns:x="{X}" xmlns:w="{W}" '
            f'xmlns:rsp="{RSP}" xmlns:p="{P}"><s:Header><a:Action>{escape(action)}</a:Action>'
            f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID><a:To>{ANONYMOUS}</a:To>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
            ).encode("utf-8")


def fault_body(fault: Fault, machine: str) -> str:
    return (f"<s:Fault><s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value>"
            f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.message)}</s:Text></s:Reason>'
            f'<s:Detail>{fault.detail}<f:WSManFault xmlns:f="{F}" Code="{fault.wsman_code}" Machine="{escape(machine)}">'
            f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>")


def duration_seconds(text: str | None) -> float | None:
    """An xs:duration such as `PT20S` or `PT20.000S` in seconds."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", (text or "").strip())
    if not match:
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def redact(line: str, secrets: list[str]) -> str:
    """A command line for the request log: `/password:...` values and the users' passwords hidden."""
    line = SECRET_PARAM.sub(lambda m: m.group(1) + "********", line)
    for secret in secrets:
        if secret:
            line = line.replace(secret, "********")
    return line


class Request:
    """One parsed WS-Man request."""

    def __init__(self, body: bytes):
        try:
            self.root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise bad_parameter() from exc
        header = self.root.find(f"{{{S}}}Header")
        self.body = self.root.find(f"{{{S}}}Body")
        if header is None or self.body is None:
            raise bad_parameter()
        self.action = (header.findtext(f"{{{A}}}Action") or "").strip()
        self.message_id = (header.findtext(f"{{{A}}}MessageID") or "").strip()
        self.resource_uri = (header.findtext(f"{{{W}}}ResourceURI") or "").strip()
        self.timeout = duration_seconds(header.findtext(f"{{{W}}}OperationTimeout")) or DEFAULT_OPERATION_TIMEOUT
        self.options = {(o.get("Name") or ""): (o.text or "").strip()
                        for o in header.iterfind(f"{{{W}}}OptionSet/{{{W}}}Option")}
        self.shell_id = None
        for selector in header.iterfind(f"{{{W}}}SelectorSet/{{{W}}}Selector"):
            if selector.get("Name") == "ShellId":
                # MS-WSMV's examples pad it and prefix `uuid:`.
                self.shell_id = re.sub(r"^uuid:", "", (selector.text or "").strip(), flags=re.IGNORECASE).upper()


class Service:
    """The WS-Man operations of one node."""

    def __init__(self, state: WinrmNode):
        self.state = state
        self.node = state.node

    def shell(self, req: Request) -> Shell:
        shell = self.state.shells.get(req.shell_id or "")
        if shell is None:
            raise invalid_selectors(NO_SHELL.format(req.shell_id or ""))
        return shell

    @staticmethod
    def command(shell: Shell, command_id: str | None) -> Command:
        command = shell.commands.get((command_id or "").strip().upper())
        if command is None:
            raise invalid_selectors(BAD_COMMAND)
        return command

    async def handle(self, req: Request, auth: Authenticated, entry: dict, client_ip: str) -> bytes:
        action = req.action
        name = action.rsplit("/", 1)[-1]
        entry["winrm"] = {"action": name, "user": auth.user, "shell_id": req.shell_id}
        if action == TRANSFER + "Create":
            return self.create(req, auth, entry, client_ip)
        if action == TRANSFER + "Delete":
            shell = self.shell(req)
            for command in shell.commands.values():
                if command.task is not None and not command.task.done():
                    command.task.cancel()
            del self.state.shells[shell.id]
            return envelope(TRANSFER + "DeleteResponse", req.message_id, "")
        if action == f"{RSP}/Command":
            return self.run_command(req, entry)
        if action == f"{RSP}/Receive":
            return await self.receive(req, entry)
        if action == f"{RSP}/Signal":
            return self.signal(req, entry)
        if action == f"{RSP}/Send":
            self.shell(req)
            return envelope(f"{RSP}/SendResponse", req.message_id, "<rsp:SendResponse/>")
        raise Fault("s:Sender", "w:ActionNotSupported", 2150858754,
                    f"The action is not supported by the service: {action}")

    def create(self, req: Request, auth: Authenticated, entry: dict, client_ip: str) -> bytes:
        if req.resource_uri.lower() != SHELL_URI:
            # PowerShell remoting (PSRP) and WMI resources are not reproduced.
            raise Fault("s:Sender", "w:DestinationUnreachable", 2150858770,
                        f"The WS-Management service cannot process the request because the resource URI "
                        f"{req.resource_uri} is not served by the sandbox (only {SHELL_URI}). ")
        shell_id = str(uuid.uuid4()).upper()
        codepage = req.options.get("WINRS_CODEPAGE") or "437"  # the host's OEM code page (en-US)
        shell = Shell(shell_id, auth.user, codepage, Runner(self.node, auth.user))
        self.state.shells[shell_id] = shell
        entry["winrm"]["shell_id"] = shell_id
        body = (f"<x:ResourceCreated><a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters>"
                f"<w:ResourceURI>{SHELL_URI}</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">{shell_id}"
                f"</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
                f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{SHELL_URI}</rsp:ResourceUri>"
                f"<rsp:Owner>{escape(self.node.name.upper()[:15])}\\{escape(auth.user)}</rsp:Owner>"
                f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
                f"<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
                f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
                f"</rsp:Shell>")
        return envelope(TRANSFER + "CreateResponse", req.message_id, body)

    def run_command(self, req: Request, entry: dict) -> bytes:
        shell = self.shell(req)
        line_el = req.body.find(f"{{{RSP}}}CommandLine")
        if line_el is None:
            raise bad_parameter()
        program = (line_el.findtext(f"{{{RSP}}}Command") or "").strip()
        arguments = [a.text or "" for a in line_el.iterfind(f"{{{RSP}}}Arguments")]
        line = " ".join([program, *arguments]).strip()
        command = Command(str(uuid.uuid4()).upper(), line)
        users = self.node.cfg.winrm.users or {}
        entry["winrm"]["command"] = redact(line, list(users.values()))
        shell.commands[command.id] = command

        async def execute() -> None:
            try:
                command.rc = await shell.runner.run(line, command.output)
            except asyncio.CancelledError:
                command.rc = 1
                raise
            except Exception:  # noqa: BLE001 - a crash of the runner is the command's failure
                log.exception("command %r failed", line)
                command.output.err("The sandbox failed to run the command; see its log.\r\n")
                command.rc = 1
            finally:
                command.output.changed.set()

        command.task = asyncio.ensure_future(execute())
        return envelope(f"{RSP}/CommandResponse", req.message_id,
                        f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>")

    async def receive(self, req: Request, entry: dict) -> bytes:
        shell = self.shell(req)
        stream = req.body.find(f"{{{RSP}}}Receive/{{{RSP}}}DesiredStream")
        command = self.command(shell, stream.get("CommandId") if stream is not None else None)
        entry["winrm"]["command_id"] = command.id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + req.timeout
        while not command.done and command.sent_out == len(command.output.stdout) \
                and command.sent_err == len(command.output.stderr):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Fault("s:Receiver", "w:TimedOut", 2150858793, TIMED_OUT)
            command.output.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(command.output.changed.wait(), remaining)
        out = shell.encode("".join(command.output.stdout[command.sent_out:]))
        err = shell.encode("".join(command.output.stderr[command.sent_err:]))
        command.sent_out, command.sent_err = len(command.output.stdout), len(command.output.stderr)
        streams = []
        for offset in range(0, len(out), CHUNK):
            streams.append(self._stream("stdout", command.id, out[offset:offset + CHUNK]))
        if err:
            streams.append(self._stream("stderr", command.id, err))
        done = command.done and command.sent_out == len(command.output.stdout) \
            and command.sent_err == len(command.output.stderr)
        if done:
            streams.append(f'<rsp:Stream Name="stdout" CommandId="{command.id}" End="true"></rsp:Stream>'
                           f'<rsp:Stream Name="stderr" CommandId="{command.id}" End="true"></rsp:Stream>'
                           f'<rsp:CommandState CommandId="{command.id}" State="{DONE}">'
                           f"<rsp:ExitCode>{command.rc}</rsp:ExitCode></rsp:CommandState>")
            entry["winrm"]["exit_code"] = command.rc
        else:
            streams.append(f'<rsp:CommandState CommandId="{command.id}" State="{RUNNING}"></rsp:CommandState>')
        return envelope(f"{RSP}/ReceiveResponse", req.message_id,
                        "<rsp:ReceiveResponse>" + "".join(streams) + "</rsp:ReceiveResponse>")

    @staticmethod
    def _stream(name: str, command_id: str, data: bytes) -> str:
        return f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(data).decode()}</rsp:Stream>'

    def signal(self, req: Request, entry: dict) -> bytes:
        shell = self.shell(req)
        signal = req.body.find(f"{{{RSP}}}Signal")
        command = self.command(shell, signal.get("CommandId") if signal is not None else None)
        code = (signal.findtext(f"{{{RSP}}}Code") or "").strip().rsplit("/", 1)[-1].lower()
        entry["winrm"].update(command_id=command.id, signal=code)
        if code == "terminate" or not command.done:
            if command.task is not None and not command.task.done():
                command.task.cancel()
        if code == "terminate":
            shell.commands.pop(command.id, None)
        return envelope(f"{RSP}/SignalResponse", req.message_id, "<rsp:SignalResponse/>")


def create_app(cluster: Cluster, node: Node, observer, state: WinrmNode, https: bool) -> web.Application:
    """The listener app of one node, on HTTP or HTTPS; both share `state` (the shells)."""
    cfg = node.cfg.winrm
    register_users(cfg.users or {}, node.name)
    auth = WinrmAuth(cfg.users or {}, cfg.auth, cfg.allow_unencrypted, https)
    service = Service(state)

    async def wsman(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST", "Server": SERVER})
        try:
            result = await auth.authenticate(request)
        except BadRequest:
            return web.Response(status=400, headers={"Server": SERVER})
        except PlaintextRefused:
            return _fault_response(Fault("s:Sender", "w:AccessDenied", 5, UNENCRYPTED), node)
        if isinstance(result, web.Response):
            return result
        headers = {"Server": SERVER}
        if result.final_token:
            headers["WWW-Authenticate"] = "Negotiate " + base64.b64encode(result.final_token).decode()
        if not result.body:
            return web.Response(status=200, headers=headers)
        entry = request.get("observe_entry") or {}
        status, req = 200, None
        try:
            req = Request(result.body)
            body = await service.handle(req, result, entry, request.remote or "127.0.0.1")
        except Fault as fault:
            status = 500
            body = envelope(FAULT_ACTION, req.message_id if req else "", fault_body(fault, node.name))
            entry.setdefault("winrm", {})["fault"] = fault.subcode
        if result.encrypted:
            return web.Response(status=status, body=wrap(result.connection.context, body),
                                headers={**headers, "Content-Type": ENCRYPTED_TYPE})
        return web.Response(status=status, body=body,
                            headers={**headers, "Content-Type": "application/soap+xml;charset=UTF-8"})

    app = web.Application(middlewares=[observer.middleware(f"{node.name}:winrm")], client_max_size=16 << 20)
    app.router.add_route("*", "/wsman", wsman)
    return app


def _fault_response(fault: Fault, node: Node) -> web.Response:
    body = envelope(FAULT_ACTION, "", fault_body(fault, node.name))
    return web.Response(status=500, body=body,
                        headers={"Server": SERVER, "Content-Type": "application/soap+xml;charset=UTF-8"})
