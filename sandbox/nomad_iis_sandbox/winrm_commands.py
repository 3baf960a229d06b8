"""What a WinRS command line does on a sandbox node: cmd.exe, appcmd.exe and procdump.exe
(README, "WinRM").

WinRS runs `cmd.exe /c <command line>` (WINRS_SKIP_CMD_SHELL is ignored since Windows Server 2012
R2). So, as cmd.exe does: `%VAR%` is expanded (an undefined variable stays as written), `/c`'s quote
rule applies (a line that starts with `"` loses that quote and the last one, unless it is exactly
one quoted executable), `&`, `&&` and `||` chain commands, and arguments are split with
CommandLineToArgvW's rules. A program that is neither a builtin nor installed gives
`'x' is not recognized as an internal or external command, ...` on stderr and exit 9009.

`%windir%\\system32\\inetsrv\\appcmd.exe` acts on the node's IIS (cluster.NodeIis), the state the
Management API acts on too: `list` of APPPOOL, SITE, APP, VDIR and WP (text, `/xml`, `/text:<attr>`,
`/text:*`, filters), `start`/`stop`/`recycle`/`delete`/`set` of APPPOOL, `start`/`stop`/`delete` of
SITE; texts, `ERROR ( ... )` lines and exit codes as appcmd's (IIS docs, "Getting Started with
AppCmd.exe"; JexusManager's appcmd clone for the exact help and error texts).

procdump.exe (where the node's `winrm.procdump_path` says it is installed) runs
`-accepteula -ma <pid> <file>` with gdb's gcore standing in, writing the dump to the node's file
system (Windows paths of the data dir map onto the node's data dir), and exits -2 after a dump as
ProcDump v11 does.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from .cluster import IisPool, Node, PoolError
from .mgmt_captures import Failure, remove_quietly, run_tool

APPCMD = re.compile(r"^c:\\windows\\system32\\inetsrv\\appcmd(\.exe)?$", re.IGNORECASE)
NOT_RECOGNIZED = ("'{}' is not recognized as an internal or external command,\r\n"
                  "operable program or batch file.\r\n")
NOT_RECOGNIZED_RC = 9009
# HRESULTs appcmd prints for RSCA failures, with their Win32 exit codes.
ALREADY_RUNNING = ("80070420", "An instance of the service is already running.", 1056)
NOT_STARTED = ("80070426", "The service has not been started.", 1062)
PROCDUMP_BANNER = ("\r\nProcDump v11.0 - Sysinternals process dump utility\r\n"
                   "Copyright (C) 2009-2022 Mark Russinovich and Andrew Richards\r\n"
                   "Sysinternals - www.sysinternals.com\r\n\r\n")
PROCDUMP_DONE_RC = -2  # ProcDump v11's exit code after "Dump count reached."
PROCDUMP_FAILED_RC = -1


@dataclass
class Output:
    """What a command wrote so far; `changed` is set whenever more arrives."""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def out(self, text: str) -> None:
        self.stdout.append(text)
        self.changed.set()

    def err(self, text: str) -> None:
        self.stderr.append(text)
        self.changed.set()


def environment(node: Node, user: str) -> dict[str, str]:
    profile = f"C:\\Users\\{user}"
    return {"windir": "C:\\Windows", "SystemRoot": "C:\\Windows", "SystemDrive": "C:",
            "ComSpec": "C:\\Windows\\system32\\cmd.exe", "COMPUTERNAME": node.name.upper()[:15],
            "USERNAME": user, "USERPROFILE": profile, "TEMP": profile + "\\AppData\\Local\\Temp",
            "TMP": profile + "\\AppData\\Local\\Temp", "ProgramFiles": "C:\\Program Files",
            "ProgramData": "C:\\ProgramData", "PATH": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem"}


def expand(line: str, env: dict[str, str]) -> str:
    """cmd.exe's `%VAR%` expansion on a command line: case-insensitive; undefined names stay."""
    lower = {k.lower(): v for k, v in env.items()}
    return re.sub(r"%([^%\r\n]+)%", lambda m: lower.get(m.group(1).lower(), m.group(0)), line)


def strip_outer_quotes(line: str, is_executable) -> str:
    """`cmd /c`'s rule (`cmd /?`): quotes are kept only when the line has exactly two, nothing
    special between them, whitespace between them, and they enclose an executable; otherwise a
    leading quote and the last quote go."""
    stripped = line.lstrip()
    if not stripped.startswith('"'):
        return line
    if stripped.count('"') == 2:
        inner = stripped[1:stripped.index('"', 1)]
        if not re.search(r'[&<>()@^|]', inner) and re.search(r"\s", inner) and is_executable(inner):
            return line
    last = stripped.rindex('"')
    return stripped[1:last] + stripped[last + 1:]


def split_chain(line: str) -> list[tuple[str, str]]:
    """`[(operator before, command)]` for `a & b && c || d`, outside quotes."""
    parts, current, op, quoted, i = [], [], "", False, 0
    while i < len(line):
        char = line[i]
        if char == '"':
            quoted = not quoted
        if not quoted and char in "&|":
            double = line[i:i + 2] in ("&&", "||")
            if char == "|" and not double:
                current.append(char)  # a pipe: refused by the runner
                i += 1
                continue
            parts.append((op, "".join(current)))
            op = line[i:i + 2] if double else "&"
            current = []
            i += 2 if double else 1
            continue
        current.append(char)
        i += 1
    parts.append((op, "".join(current)))
    return parts


def argv(line: str) -> list[str]:
    """CommandLineToArgvW: the program name ends at the first space outside quotes (no escapes);
    for the arguments, 2n backslashes + `"` are n backslashes and a quote toggle, 2n+1 are n and a
    literal quote, and `""` inside quotes is a literal quote."""
    line = line.strip()
    args: list[str] = []
    i, n = 0, len(line)
    name, quoted = [], False
    while i < n and (quoted or not line[i].isspace()):
        if line[i] == '"':
            quoted = not quoted
        else:
            name.append(line[i])
        i += 1
    args.append("".join(name))
    while i < n:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            break
        arg, quoted = [], False
        while i < n and (quoted or not line[i].isspace()):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                count = j - i
                if j < n and line[j] == '"':
                    arg.append("\\" * (count // 2))
                    if count % 2:
                        arg.append('"')
                        i = j + 1
                    else:
                        i = j
                    continue
                arg.append("\\" * count)
                i = j
                continue
            if line[i] == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    arg.append('"')
                    i += 2
                    continue
                quoted = not quoted
                i += 1
                continue
            arg.append(line[i])
            i += 1
        args.append("".join(arg))
    return args


class Runner:
    """Runs command lines for one user on one node."""

    def __init__(self, node: Node, user: str):
        self.node = node
        self.user = user
        self.env = environment(node, user)

    def is_procdump(self, program: str) -> bool:
        installed = self.node.cfg.winrm.procdump_path
        if not installed:
            return False
        wanted = installed.lower()
        name = program.lower().replace("/", "\\")
        return name in (wanted, wanted.removesuffix(".exe"))

    def is_executable(self, program: str) -> bool:
        return bool(APPCMD.match(program.replace("/", "\\"))) or self.is_procdump(program)

    async def run(self, line: str, output: Output) -> int:
        line = strip_outer_quotes(expand(line, self.env), self.is_executable)
        rc = 0
        for op, command in split_chain(line):
            if (op == "&&" and rc != 0) or (op == "||" and rc == 0):
                continue
            rc = await self.run_one(command, output)
        return rc

    async def run_one(self, command: str, output: Output) -> int:
        if not command.strip():
            return 0
        if re.search(r'^[^"]*(?:"[^"]*"[^"]*)*[|<>]', command):
            output.err("The sandbox's cmd.exe does not support pipes or redirection.\r\n")
            return 1
        args = argv(command)
        program = args[0]
        builtin = BUILTINS.get(program.lower())
        if builtin is not None:
            # cmd's echo keeps what follows its separator, trailing spaces included.
            rest = command.lstrip()[len(program):]
            return builtin(self, rest[1:] if rest[:1].isspace() else rest, args[1:], output)
        if APPCMD.match(program.replace("/", "\\")):
            return await Appcmd(self.node, output).run(args[1:])
        if self.is_procdump(program):
            return await procdump(self.node, args[1:], output)
        output.err(NOT_RECOGNIZED.format(program))
        return NOT_RECOGNIZED_RC


# --- cmd.exe builtins --------------------------------------------------------------------------

def _echo(runner: Runner, rest: str, args: list[str], output: Output) -> int:
    output.out((rest if rest.strip() else "ECHO is on.") + "\r\n")
    return 0


def _exit(runner: Runner, rest: str, args: list[str], output: Output) -> int:
    codes = [a for a in args if a.lower() != "/b"]
    try:
        return int(codes[0]) if codes else 0
    except ValueError:
        return 0


def _hostname(runner: Runner, rest: str, args: list[str], output: Output) -> int:
    output.out(runner.node.name.upper()[:15] + "\r\n")
    return 0


def _whoami(runner: Runner, rest: str, args: list[str], output: Output) -> int:
    output.out(f"{runner.node.name.lower()[:15]}\\{runner.user.lower()}\r\n")
    return 0


def _del(runner: Runner, rest: str, args: list[str], output: Output) -> int:
    """del [/f] [/q] <files>: a missing file prints `Could Not Find <path>` (exit 0, as cmd's del)."""
    for name in (a for a in args if not a.startswith("/")):
        local = runner.node.local_path(name)
        if local is None or not os.path.isfile(local):
            output.err(f"Could Not Find {name}\r\n")
            continue
        try:
            os.remove(local)
        except OSError:
            output.err(f"{name}\r\nAccess is denied.\r\n")
    return 0


BUILTINS = {"echo": _echo, "exit": _exit, "hostname": _hostname, "whoami": _whoami, "del": _del, "erase": _del}


# --- appcmd.exe --------------------------------------------------------------------------------

OBJECTS = {"apppool": "APPPOOL", "apppools": "APPPOOL", "site": "SITE", "sites": "SITE", "app": "APP", "apps": "APP",
           "vdir": "VDIR", "vdirs": "VDIR", "wp": "WP", "wps": "WP"}
OTHER_OBJECTS = ("CONFIG", "REQUEST", "MODULE", "BACKUP", "TRACE", "BINDING")
VERBS = {"APPPOOL": ("list", "set", "add", "delete", "start", "stop", "recycle"),
         "SITE": ("list", "set", "add", "delete", "start", "stop"),
         "APP": ("list", "set", "add", "delete"), "VDIR": ("list", "set", "add", "delete"), "WP": ("list",)}
SANDBOX_VERBS = {"APPPOOL": ("list", "set", "delete", "start", "stop", "recycle"),
                 "SITE": ("list", "delete", "start", "stop"), "APP": ("list",), "VDIR": ("list",), "WP": ("list",)}
GENERAL = {"xml", "text", "config", "in", "commit", "apphostconfig", "wait", "timeout", "?"}
USAGE = ("General purpose IIS command line administration tool.\r\n\r\n"
         "APPCMD (command) (object-type) <identifier> </parameter1:value1 ...>\r\n\r\n"
         "Supported object types:\r\n\r\n"
         "  SITE      Administration of virtual sites\r\n"
         "  APP       Administration of applications\r\n"
         "  VDIR      Administration of virtual directories\r\n"
         "  APPPOOL   Administration of application pools\r\n"
         "  CONFIG    Administration of general configuration sections\r\n"
         "  WP        Administration of worker processes\r\n"
         "  REQUEST   Administration of HTTP requests\r\n"
         "  MODULE    Administration of server modules\r\n"
         "  BACKUP    Administration of server configuration backups\r\n"
         "  TRACE     Working with failed request trace logs\r\n"
         "  BINDING   Object for working with SSL bindings\r\n\r\n"
         "(To list commands supported by each object use /?, e.g. 'appcmd.exe site /?')\r\n\r\n"
         "General parameters:\r\n\r\n"
         "/?             Display context-sensitive help message.\r\n\r\n"
         "/text<:value>  Generate output in text format (default).\r\n"
         "               /text:* shows all object properties in detail view.\r\n"
         "               /text:<attribute> shows the value of the specified\r\n"
         "               attribute for each object.\r\n"
         "/xml           Generate output in XML format.\r\n")


class AppcmdError(Exception):
    def __init__(self, text: str, rc: int):
        super().__init__(text)
        self.text = text
        self.rc = rc


def error(message: str, rc: int) -> AppcmdError:
    return AppcmdError(f"ERROR ( message:{message} )\r\n", rc)


def hresult_error(failure: tuple[str, str, int]) -> AppcmdError:
    hresult, text, rc = failure
    return AppcmdError(f"ERROR ( hresult:{hresult}, message:Command execution failed.\r\n{text}\r\n )\r\n", rc)


@dataclass
class Record:
    """One object as appcmd shows it."""
    kind: str
    name: str
    xml: list[tuple[str, str]]  # attributes of the XML element, in order
    summary: str  # the part in parentheses of the text line
    attrs: dict[str, str]  # what filters and /text:<attr> can name (lower-case keys)
    config: list[tuple[str, str]] = field(default_factory=list)  # the [add]/[site] section of /text:*
    target: object = None

    def line(self) -> str:
        return f'{self.kind} "{self.name}" ({self.summary})'


def _bool(value: bool) -> str:
    return "true" if value else "false"


class Appcmd:
    def __init__(self, node: Node, output: Output):
        self.node = node
        self.iis = node.iis
        self.output = output

    async def run(self, args: list[str]) -> int:
        try:
            text = await self.dispatch(args)
        except AppcmdError as exc:
            self.output.out(exc.text)
            return exc.rc
        self.output.out(text)
        return 0

    async def dispatch(self, args: list[str]) -> str:
        if not args:
            raise AppcmdError(USAGE, 87)
        if args[0] in ("/?", "-?"):
            raise AppcmdError(USAGE, 1)
        verb = args[0].lower()
        if len(args) < 2:
            raise AppcmdError(f"Object '{args[0].upper()}' is not supported.  Run 'appcmd.exe /?' to display "
                              f"supported objects.\r\r\n", 87)
        kind = OBJECTS.get(args[1].lower())
        if kind is None:
            upper = args[1].upper()
            if upper in OTHER_OBJECTS:
                raise error(f"the sandbox's appcmd does not support {upper} objects", 87)
            raise AppcmdError(f"Object '{upper}' is not supported.  Run 'appcmd.exe /?' to display supported "
                              f"objects.\r\r\n", 87)
        if verb not in VERBS[kind]:
            raise AppcmdError(f"Command '{verb.upper()}' is not supported on object '{kind}'. Run 'appcmd.exe "
                              f"{kind} /?'\r\r\nto display supported commands.\r\r\n", 87)
        if verb not in SANDBOX_VERBS[kind]:
            raise error(f"the sandbox's appcmd does not support {verb.upper()} {kind}", 87)
        identifier, params = self.parse(args[2:])
        name_key = f"{kind.lower()}.name"
        if name_key in params:
            identifier = params.pop(name_key)
        if verb == "list":
            return self.list_objects(kind, identifier, params)
        if identifier is None:
            raise error(f"Must specify the {kind} object with identifier.", 87)
        async with self.iis.lock:
            return await getattr(self, f"{verb}_{kind.lower()}")(identifier, params)

    @staticmethod
    def parse(args: list[str]) -> tuple[str | None, dict[str, str]]:
        words, params = [], {}
        for arg in args:
            if arg[:1] in ("/", "-") and len(arg) > 1:
                key, _sep, value = arg[1:].partition(":")
                params[key.lower()] = value
            else:
                words.append(arg)
        return (" ".join(words) if words else None), params

    # --- records ------------------------------------------------------------------------------

    def records(self, kind: str) -> list[Record]:
        return getattr(self, f"_{kind.lower()}_records")()

    def _apppool_records(self) -> list[Record]:
        out = []
        for pool in self.iis.pools.values():
            attrs = {"apppool.name": pool.iis_name, "name": pool.iis_name, "pipelinemode": pool.pipeline,
                     "managedpipelinemode": pool.pipeline, "runtimeversion": pool.runtime,
                     "managedruntimeversion": pool.runtime, "state": pool.state, "autostart": _bool(pool.auto_start),
                     "startmode": pool.start_mode, "queuelength": "1000", "enable32bitapponwin64": "false"}
            out.append(Record(
                "APPPOOL", pool.iis_name,
                [("APPPOOL.NAME", pool.iis_name), ("PipelineMode", pool.pipeline), ("RuntimeVersion", pool.runtime),
                 ("state", pool.state)],
                f"MgdVersion:{pool.runtime},MgdMode:{pool.pipeline},state:{pool.state}", attrs,
                [("name", pool.iis_name), ("queueLength", "1000"), ("autoStart", _bool(pool.auto_start)),
                 ("enable32BitAppOnWin64", "false"), ("managedRuntimeVersion", pool.runtime),
                 ("managedPipelineMode", pool.pipeline), ("startMode", pool.start_mode)], pool))
        return out

    def _site_records(self) -> list[Record]:
        out = []
        for site in self.iis.sites.values():
            bindings = ",".join(site.bindings)
            attrs = {"site.name": site.name, "name": site.name, "site.id": str(site.id), "id": str(site.id),
                     "bindings": bindings, "state": site.state, "serverautostart": "true"}
            out.append(Record("SITE", site.name, [("SITE.NAME", site.name), ("SITE.ID", str(site.id)),
                                                  ("bindings", bindings), ("state", site.state)],
                              f"id:{site.id},bindings:{bindings},state:{site.state}", attrs,
                              [("name", site.name), ("id", str(site.id)), ("serverAutoStart", "true")], site))
        return out

    def _app_records(self) -> list[Record]:
        out = []
        for site in self.iis.sites.values():
            for app in site.apps:
                name = site.name + app.path
                attrs = {"app.name": name, "apppool.name": app.pool, "applicationpool": app.pool,
                         "site.name": site.name, "path": app.path}
                out.append(Record("APP", name, [("path", app.path), ("APP.NAME", name), ("APPPOOL.NAME", app.pool),
                                                ("SITE.NAME", site.name)],
                                  f"applicationPool:{app.pool}", attrs,
                                  [("path", app.path), ("applicationPool", app.pool)], app))
        return out

    def _vdir_records(self) -> list[Record]:
        out = []
        for site in self.iis.sites.values():
            for app in site.apps:
                app_name = site.name + app.path
                name = app_name.rstrip("/") + "/"
                attrs = {"vdir.name": name, "app.name": app_name, "path": "/", "physicalpath": app.physical_path}
                out.append(Record("VDIR", name, [("VDIR.NAME", name), ("APP.NAME", app_name), ("path", "/"),
                                                 ("physicalPath", app.physical_path)],
                                  f"physicalPath:{app.physical_path}", attrs,
                                  [("path", "/"), ("physicalPath", app.physical_path)], app))
        return out

    def _wp_records(self) -> list[Record]:
        out = []
        for pool in self.iis.pools.values():
            for pid in pool.worker_pids():
                attrs = {"wp.name": str(pid), "apppool.name": pool.iis_name, "applicationpool": pool.iis_name}
                out.append(Record("WP", str(pid), [("WP.NAME", str(pid)), ("APPPOOL.NAME", pool.iis_name)],
                                  f"applicationPool:{pool.iis_name}", attrs, [], pool))
        return out

    def find(self, kind: str, identifier: str) -> Record:
        for record in self.records(kind):
            if record.name.lower() == identifier.lower():
                return record
        raise error(f'Cannot find {kind} object with identifier "{identifier}".', 1168)

    # --- list ---------------------------------------------------------------------------------

    def list_objects(self, kind: str, identifier: str | None, params: dict[str, str]) -> str:
        records = [self.find(kind, identifier)] if identifier is not None else self.records(kind)
        filters = {k: v for k, v in params.items() if k not in GENERAL}
        known = set().union(*(r.attrs for r in self.records(kind))) if self.records(kind) else set()
        for key, value in filters.items():
            if known and key not in known:
                raise error(f'Unknown attribute "{key}".  Replace with -? for help.', 87)
            records = [r for r in records if r.attrs.get(key, "").lower() == value.lower()]
        if "xml" in params:
            lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<appcmd>"]
            for record in records:
                attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in record.xml)
                lines.append(f"    <{record.kind} {attrs} />")
            lines.append("</appcmd>")
            return "\r\n".join(lines) + "\r\n"
        text = params.get("text")
        if text == "*":
            return "".join(self.detail(r) for r in records)
        if text:
            return "".join(r.attrs.get(text.lower(), "") + "\r\n" for r in records)
        return "".join(r.line() + "\r\n" for r in records)

    @staticmethod
    def detail(record: Record) -> str:
        lines = [record.kind] + [f"  {k}: {v}" for k, v in record.xml]
        if record.config:
            section = {"APPPOOL": "add", "SITE": "site", "APP": "application", "VDIR": "virtualDirectory"}[record.kind]
            lines.append(f"  [{section}]")
            lines += [f'    {k}:"{v}"' for k, v in record.config]
        return "\r\n".join(lines) + "\r\n"

    # --- application pools --------------------------------------------------------------------

    def pool(self, identifier: str) -> IisPool:
        return self.find("APPPOOL", identifier).target

    async def start_apppool(self, identifier: str, params: dict) -> str:
        pool = self.pool(identifier)
        await pool.settle()  # a Stopping pool finishes stopping first
        if pool.state == "Started":
            raise hresult_error(ALREADY_RUNNING)
        await pool.start()
        return f'"{pool.iis_name}" successfully started.\r\n'

    async def stop_apppool(self, identifier: str, params: dict) -> str:
        pool = self.pool(identifier)
        if pool.state == "Stopped":
            raise hresult_error(NOT_STARTED)
        await pool.stop()
        await pool.settle()  # appcmd returns once the worker processes have exited
        return f'"{pool.iis_name}" successfully stopped.\r\n'

    async def recycle_apppool(self, identifier: str, params: dict) -> str:
        pool = self.pool(identifier)
        if pool.state != "Started":
            raise hresult_error(NOT_STARTED)
        try:
            await pool.recycle()
        except PoolError:
            raise hresult_error(NOT_STARTED) from None
        return f'"{pool.iis_name}" successfully recycled.\r\n'

    async def delete_apppool(self, identifier: str, params: dict) -> str:
        pool = self.pool(identifier)
        await pool.delete()
        self.iis.pools.pop(pool.iis_name.lower(), None)
        return f'APPPOOL object "{pool.iis_name}" deleted\r\n'

    async def set_apppool(self, identifier: str, params: dict) -> str:
        pool = self.pool(identifier)
        for key, value in params.items():
            if key in GENERAL:
                continue
            if key != "autostart":
                raise error(f'Unknown attribute "{key}".  Replace with -? for help.', 87)
            if value.lower() not in ("true", "false"):
                raise hresult_error(("8007000d", "The data is invalid.", 13))
            pool.auto_start = value.lower() == "true"
        return f'APPPOOL object "{pool.iis_name}" changed\r\n'

    # --- sites --------------------------------------------------------------------------------

    async def start_site(self, identifier: str, params: dict) -> str:
        site = self.find("SITE", identifier).target
        if site.state == "Started":
            raise hresult_error(ALREADY_RUNNING)
        site.state = "Started"
        return f'"{site.name}" successfully started.\r\n'

    async def stop_site(self, identifier: str, params: dict) -> str:
        site = self.find("SITE", identifier).target
        if site.state == "Stopped":
            raise hresult_error(NOT_STARTED)
        site.state = "Stopped"
        return f'"{site.name}" successfully stopped.\r\n'

    async def delete_site(self, identifier: str, params: dict) -> str:
        site = self.find("SITE", identifier).target
        site.state = "Stopped"
        self.iis.sites.pop(site.name.lower(), None)
        return f'SITE object "{site.name}" deleted\r\n'


# --- procdump.exe ------------------------------------------------------------------------------

def _now() -> str:
    return time.strftime("[%H:%M:%S]")


async def procdump(node: Node, args: list[str], output: Output) -> int:
    """`procdump -accepteula -ma <pid> <file>` with gcore standing in (the dump is an ELF core)."""
    output.out(PROCDUMP_BANNER)
    flags = {a.lower() for a in args if a.startswith(("-", "/"))}
    rest = [a for a in args if not a.startswith(("-", "/"))]
    if "-accepteula" not in flags and "/accepteula" not in flags:
        output.out("This is the first run of this program. You must accept EULA to continue.\r\n"
                   "Use -accepteula to accept EULA.\r\n\r\n")
        return PROCDUMP_FAILED_RC
    if not rest or not rest[0].isdigit():
        output.out("No process matching the specified name can be found.\r\n\r\n")
        return PROCDUMP_FAILED_RC
    pid = int(rest[0])
    if pid not in {p for pool in node.iis.pools.values() for p in pool.worker_pids()}:
        output.out("No process matching the specified PID can be found.\r\n\r\n")
        return PROCDUMP_FAILED_RC
    target = rest[1] if len(rest) > 1 else f"C:\\Users\\Public\\w3wp.exe_{time.strftime('%y%m%d_%H%M%S')}.dmp"
    if not target.lower().endswith(".dmp"):
        target += ".dmp"
    local = node.local_path(target)
    if local is None or not os.path.isdir(os.path.dirname(local)):
        output.out(f"{_now()} Dump 1 initiated: {target}\r\n{_now()} Dump 1 error: Error creating dump file:\r\n"
                   f"The system cannot find the path specified. (0x80070003, 3)\r\n\r\n")
        return PROCDUMP_FAILED_RC
    output.out(f"{_now()} Dump 1 initiated: {target}\r\n")
    gcore = shutil.which("gcore")
    fd, prefix = tempfile.mkstemp(suffix=".core", dir=os.path.dirname(local))
    os.close(fd)
    try:
        if gcore is None:
            raise Failure("gcore is not installed (apt-get install gdb)")
        log = await run_tool([gcore, "-o", prefix, str(pid)])
        core = f"{prefix}.{pid}"
        if not os.path.isfile(core) or os.path.getsize(core) == 0:
            raise Failure(log.strip() or "no dump written")
        os.replace(core, local)
    except Failure as exc:
        output.out(f"{_now()} Dump 1 error: {exc}\r\n\r\n")
        return PROCDUMP_FAILED_RC
    finally:
        remove_quietly(prefix)
        remove_quietly(f"{prefix}.{pid}")
    megabytes = max(1, os.path.getsize(local) // (1 << 20))
    output.out(f"{_now()} Dump 1 writing: Estimated dump file size is {megabytes} MB.\r\n"
               f"{_now()} Dump 1 complete: {megabytes} MB written in 0.5 seconds\r\n"
               f"{_now()} Dump count reached.\r\n\r\n")
    return PROCDUMP_DONE_RC
