"""Agent endpoints (Nomad's `command/agent/agent_endpoint.go`): self, members, servers, join,
force-leave, health and pprof, for the sandbox's agent, which is both a server and a client.

The gossip pool is a small model: the sandbox's own server (`<first node>.<region>` at
127.0.0.1:4648, RPC 127.0.0.1:4647) plus the config's `members`. Joining an address succeeds for a
known member's serf address (a left or failed member becomes alive again) and fails for any other
address as a dial would. Server addresses set through /v1/agent/servers must parse and resolve;
the sandbox does not ping them.

pprof: `cmdline` is this process's command line, `goroutine?debug=1|2` the stacks of the
sandbox's threads and asyncio tasks as text. Go's binary profiles (protobuf) cannot be produced by
a Python process: binary answers are a gzip of a text header and the same stacks."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import os
import platform
import re
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, field

from aiohttp import web

from .cluster import Cluster
from .go_compat import go_atoi, go_parse_bool
from .nomad_common import (ACL, CLUSTER, NOMAD_REVISION, NOMAD_VERSION, TLS, TLS_INFO, NomadError, authorize, empty_ok,
                           error_response, json_reply, node_for_rpc, require_method, resolve_acl)

SERF_PORT = 4648
RPC_PORT = 4647
GO_VERSION = "go1.24.6"
LOOKUP_PROFILES = ("goroutine", "heap", "allocs", "block", "mutex", "threadcreate")
AGENT = web.AppKey("agent_state", object)


@dataclass
class Member:
    name: str
    addr: str
    port: int
    datacenter: str
    status: str = "alive"

    @property
    def serf_address(self) -> str:
        return f"{self.addr}:{self.port}"


@dataclass
class AgentState:
    members: list[Member] = field(default_factory=list)
    servers: list[str] = field(default_factory=lambda: [f"127.0.0.1:{RPC_PORT}"])
    pruned: list[Member] = field(default_factory=list)  # force-left with prune: forgotten entirely

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


def initial_state(cluster: Cluster) -> AgentState:
    node = cluster.nodes[0]
    own = Member(f"{node.name}.{cluster.cfg.region}", "127.0.0.1", SERF_PORT, node.datacenter)
    others = [Member(m.name, m.address.rsplit(":", 1)[0], int(m.address.rsplit(":", 1)[1]), m.datacenter, m.status)
              for m in cluster.cfg.members]
    return AgentState(members=[own, *others])


# --- self and members -------------------------------------------------------------------------

def member_json(cluster: Cluster, member: Member) -> dict:
    return {"Name": member.name, "Addr": member.addr, "Port": member.port,
            "Tags": {"role": "nomad", "region": cluster.cfg.region, "dc": member.datacenter,
                     "port": str(RPC_PORT), "rpc_addr": member.addr, "vsn": "1", "mvn": "1", "raft_vsn": "3",
                     "build": f"{NOMAD_VERSION}", "revision": NOMAD_REVISION, "bootstrap": "1", "expect": "1",
                     "id": f"{abs(hash(member.name)) % 16 ** 8:08x}-0000-4000-8000-000000000000"},
            "Status": member.status, "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
            "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4}


def agent_config(request: web.Request, cluster: Cluster) -> dict:
    node = cluster.nodes[0]
    port = int((cluster.nomad_addr or "http://127.0.0.1:4646").rsplit(":", 1)[1])
    tls = request.app[TLS_INFO]
    paths = tls.get("paths", {})
    acl_enabled = request.app[ACL].enabled
    return {
        "Region": cluster.cfg.region, "Datacenter": node.datacenter, "NodeName": node.name,
        # The node's data_dir as the Windows agent reports it (it maps onto the node's dir in the state dir).
        "DataDir": node.cfg.data_dir, "LogLevel": "INFO", "LogJson": False, "BindAddr": "127.0.0.1",
        "EnableDebug": cluster.cfg.enable_debug, "LeaveOnInt": False, "LeaveOnTerm": False,
        "EnableSyslog": False, "DisableUpdateCheck": True, "DisableAnonymousSignature": True,
        "HTTPAPIResponseHeaders": {},
        "Version": {"Revision": NOMAD_REVISION, "Version": NOMAD_VERSION, "VersionPrerelease": "",
                    "VersionMetadata": "", "BuildDate": "2025-09-09T14:00:00Z"},
        "Ports": {"HTTP": port, "RPC": RPC_PORT, "Serf": SERF_PORT},
        "Addresses": {"HTTP": "127.0.0.1", "RPC": "127.0.0.1", "Serf": "127.0.0.1"},
        "AdvertiseAddrs": {"HTTP": f"127.0.0.1:{port}", "RPC": f"127.0.0.1:{RPC_PORT}",
                           "Serf": f"127.0.0.1:{SERF_PORT}"},
        "Client": {"Enabled": True, "StateDir": node.cfg.data_dir + "\\client",
                   "AllocDir": node.cfg.data_dir + "\\alloc", "Servers": list(request.app[AGENT].servers),
                   "NodeClass": node.cfg.node_class, "NodePool": "default", "Meta": dict(node.cfg.meta),
                   "Options": {}, "NetworkInterface": "lo", "MinDynamicPort": 20000, "MaxDynamicPort": 32000,
                   "GCInterval": 60_000_000_000, "GCDiskUsageThreshold": 80, "GCInodeUsageThreshold": 70,
                   "GCMaxAllocs": 50, "NoHostUUID": False, "DisableRemoteExec": False},
        "Server": {"Enabled": True, "BootstrapExpect": 1, "DataDir": node.cfg.data_dir + "\\server",
                   "NumSchedulers": 2, "EnabledSchedulers": ["service", "batch", "system", "sysbatch", "_core"],
                   "RejoinAfterLeave": False, "RetryJoin": [], "StartJoin": [], "EncryptKey": ""},
        "ACL": {"Enabled": acl_enabled, "TokenTTL": 30_000_000_000, "PolicyTTL": 30_000_000_000,
                "RoleTTL": 30_000_000_000, "TokenMinExpirationTTL": 60_000_000_000,
                "TokenMaxExpirationTTL": 86_400_000_000_000,
                # Like a server configured with a replication token, which /agent/self never shows.
                "ReplicationToken": "<redacted>" if acl_enabled else ""},
        "TLSConfig": {"EnableHTTP": request.app[TLS], "EnableRPC": request.app[TLS],
                      "VerifyServerHostname": request.app[TLS],
                      "VerifyHTTPSClient": bool(tls.get("verify_https_client", False)),
                      "CAFile": paths.get("ca.pem", ""), "CertFile": paths.get("server.pem", ""),
                      "KeyFile": paths.get("server-key.pem", ""), "TLSMinVersion": "", "TLSCipherSuites": "",
                      "TLSPreferServerCipherSuites": False, "RPCUpgradeMode": False},
        "Telemetry": {"CirconusAPIToken": "", "CollectionInterval": "1s", "PublishNodeMetrics": False,
                      "PublishAllocationMetrics": False},
        "Vaults": [], "Consuls": [],
        # The plugin blocks as the agent loaded them (node_driver.py): Nomad redacts nothing in
        # them, so the Management API key and JWT secret in `args` show here.
        "PluginDir": node.cfg.data_dir + "\\plugins",  # plugin_dir defaults to <data_dir>\plugins
        "Plugins": [build.plugin_json()] if (build := node.running or node.installed) else None,
    }


def agent_stats(request: web.Request, cluster: Cluster) -> dict:
    state: AgentState = request.app[AGENT]
    node = cluster.nodes[0]
    local_allocs = [a for a in cluster.allocs.values() if a.node is node and not a.collected]
    return {
        "client": {"node_id": node.id, "known_servers": ",".join(state.servers),
                   "num_allocations": str(len(local_allocs)), "last_heartbeat": "8.131492016s",
                   "heartbeat_ttl": "16.626367052s"},
        "runtime": {"arch": "amd64", "version": GO_VERSION, "max_procs": str(os.cpu_count() or 1),
                    "goroutines": str(threading.active_count() + len(asyncio.all_tasks())),
                    "cpu_count": str(os.cpu_count() or 1), "kernel.name": "windows"},
        "nomad": {"server": "true", "leader": "true", "leader_addr": f"127.0.0.1:{RPC_PORT}",
                  "bootstrap": "true", "known_regions": "1"},
        "serf": {"members": str(len(state.members)),
                 "failed": str(sum(m.status == "failed" for m in state.members)),
                 "left": str(sum(m.status == "left" for m in state.members)),
                 "encrypted": "false", "health_score": "0", "event_queue": "0", "intent_queue": "0",
                 "query_queue": "0", "event_time": "1", "member_time": str(len(state.members)), "query_time": "1"},
    }


async def agent_self(request: web.Request) -> web.Response:
    require_method(request, "GET")
    authorize(request, agent="read")
    cluster = request.app[CLUSTER]
    own = request.app[AGENT].members[0]
    return json_reply({"config": agent_config(request, cluster), "member": member_json(cluster, own),
                       "stats": agent_stats(request, cluster)}, request)


async def agent_members(request: web.Request) -> web.Response:
    require_method(request, "GET")
    authorize(request, node="read")
    cluster = request.app[CLUSTER]
    node = cluster.nodes[0]
    return json_reply({"ServerName": node.name, "ServerRegion": cluster.cfg.region, "ServerDC": node.datacenter,
                       "Members": [member_json(cluster, m) for m in request.app[AGENT].members]}, request)


# --- servers ----------------------------------------------------------------------------------

def split_host_port(address: str) -> tuple[str, str]:
    """net.SplitHostPort; ValueError carries Go's text."""
    def fail(why: str) -> ValueError:
        return ValueError(f"address {address}: {why}")
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        host, rest = address[1:end], address[end + 1:]
        if not rest.startswith(":"):
            raise fail("missing port in address" if not rest else "too many colons in address")
        port = rest[1:]
    else:
        if ":" not in address:
            raise fail("missing port in address")
        host, port = address.rsplit(":", 1)
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in host:
        raise fail("unexpected '[' in address")
    if "]" in host or "]" in port:
        raise fail("unexpected ']' in address")
    return host, port


async def resolve_host(host: str) -> str:
    """The host's first IP, or ValueError with Go's lookup text."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout=5)
    except (OSError, asyncio.TimeoutError):
        raise ValueError(f"lookup {host}: no such host") from None
    addresses = [info[4][0] for info in infos]
    # Go's resolver prefers IPv4 for "tcp".
    return next((a for a in addresses if ":" not in a), addresses[0])


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def resolve_server(address: str) -> str:
    """client.resolveServer: host[:port] (port 4647 by default) to a resolved TCP address."""
    try:
        host, port = split_host_port(address)
    except ValueError as exc:
        if "missing port" not in str(exc):
            raise
        host, port = address, str(RPC_PORT)
    if not re.fullmatch(r"\d+", port):
        raise ValueError(f"lookup tcp/{port}: unknown port")
    if int(port) > 65535:
        raise ValueError(f"address {port}: invalid port")
    return join_host_port(await resolve_host(host or "localhost"), int(port))


def multierror(errors: list[str]) -> str:
    """hashicorp/go-multierror's text."""
    noun = "error" if len(errors) == 1 else "errors"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} {noun} occurred:\n\t{points}\n\n"


async def agent_servers(request: web.Request) -> web.Response:
    state: AgentState = request.app[AGENT]
    if request.method == "GET":
        authorize(request, agent="read")
        return json_reply(sorted(state.servers), request)
    if request.method not in ("PUT", "POST"):
        raise NomadError(405, "Invalid method")
    addresses = request.query.getall("address", [])
    if not addresses:
        raise NomadError(400, "missing server address")  # checked before the ACL
    authorize(request, agent="write")
    resolved, errors = [], []
    for address in addresses:
        try:
            resolved.append(await resolve_server(address))
        except ValueError as exc:
            errors.append(str(exc))
    if not resolved:
        raise NomadError(400, multierror(errors))
    state.servers = resolved
    return empty_ok()


# --- join and force-leave ---------------------------------------------------------------------

def has_port(address: str) -> bool:
    """memberlist hasPort: bracketed IPv6 with a port, or exactly one colon."""
    if address.rfind("[") == 0:
        return address.rfind(":") > address.rfind("]")
    return address.count(":") == 1


async def join_one(state: AgentState, address: str) -> str | None:
    """memberlist.Join for one address (serf port 4648 by default): None, or the error text."""
    host, port = address.strip("[]"), str(SERF_PORT)
    if has_port(address):
        try:
            host, port = split_host_port(address)
        except ValueError as exc:
            return f"Failed to resolve {address}: {exc}"
    if not re.fullmatch(r"\d+", port) or int(port) > 65535:
        why = "value out of range" if port.isdigit() else "invalid syntax"
        return f'Failed to resolve {address}: strconv.ParseUint: parsing "{port}": {why}'
    try:
        ip = await resolve_host(host)
    except ValueError as exc:
        return f"Failed to resolve {address}: {exc}"
    target = join_host_port(ip, int(port))
    member = next((m for m in state.members if m.serf_address == target), None)
    if member is None:
        why = "connect: connection refused" if ipaddress.ip_address(ip).is_loopback else "i/o timeout"
        return f"Failed to join {target}: dial tcp {target}: {why}"
    member.status = "alive"
    return None


async def agent_join(request: web.Request) -> web.Response:
    if request.method not in ("PUT", "POST"):
        raise NomadError(405, "Invalid method")
    addresses = request.query.getall("address", [])
    if not addresses:
        raise NomadError(400, "missing address to join")
    state: AgentState = request.app[AGENT]
    errors = [e for e in [await join_one(state, a) for a in addresses] if e]
    joined = len(addresses) - len(errors)
    return json_reply({"num_joined": joined, "error": multierror(errors) if errors and not joined else "",
                       "warning": ""}, request)


async def agent_force_leave(request: web.Request) -> web.Response:
    if request.method not in ("PUT", "POST"):
        raise NomadError(405, "Invalid method")
    authorize(request, agent="write")
    name = request.query.get("node", "")
    if not name:
        raise NomadError(400, "missing node to force leave")
    prune = False
    if request.query.get("prune"):
        try:
            prune = go_parse_bool(request.query["prune"])
        except ValueError:
            raise NomadError(400, "invalid prune value") from None
    state: AgentState = request.app[AGENT]
    member = state.member(name)
    if member is not None and member is not state.members[0]:  # serf ignores unknown names and itself
        member.status = "left"
        if prune:
            state.members.remove(member)
    return empty_ok()


# --- health -----------------------------------------------------------------------------------

async def agent_health(request: web.Request) -> web.Response:
    require_method(request, "GET")
    types = request.query.getall("type", None)
    body = {}
    if types is None or "client" in types:
        known = bool(request.app[AGENT].servers)
        body["client"] = {"ok": known, "message": "ok" if known else "no known servers"}
    if types is None or "server" in types:
        body["server"] = {"ok": True, "message": "ok"}
    if not all(part["ok"] for part in body.values()):
        return error_response(500, json.dumps(body, separators=(",", ":")))
    return json_reply(body, request)


# --- pprof ------------------------------------------------------------------------------------

def thread_stacks() -> list[tuple[str, list[str]]]:
    frames = sys._current_frames()  # noqa: SLF001 - the documented way to read other threads' stacks
    out = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        if frame is not None:
            out.append((f"thread {thread.name} [{thread.ident}]", traceback.format_stack(frame)))
    for task in asyncio.all_tasks():
        lines = []
        for frame in task.get_stack():
            lines += traceback.format_stack(frame, limit=1)
        out.append((f"asyncio task {task.get_name()} [{'done' if task.done() else 'pending'}]", lines))
    return out


def goroutine_text(debug: int) -> str:
    stacks = thread_stacks()
    parts = [f"goroutine profile: total {len(stacks)}\n"]
    for title, lines in stacks:
        parts.append(f"\n# {title}\n" + "".join(lines if debug >= 2 else lines[-8:]))
    return "".join(parts)


def profile_text(name: str, seconds: int) -> str:
    header = (f"nomad-iis-sandbox {name} profile (Python {platform.python_version()}, pid {os.getpid()}).\n"
              "Not a Go pprof protobuf: the sandbox cannot produce one. Stacks of the sandbox follow.\n")
    if name in ("profile", "trace"):
        header += f"seconds: {seconds}\n"
    return header + "\n" + goroutine_text(2)


def cmdline() -> bytes:
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            return handle.read().rstrip(b"\0")
    except OSError:
        return "\0".join(sys.argv).encode()


async def agent_pprof(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name == "":
        raise NomadError(404, "Invalid method")  # no index route
    seconds = go_atoi(request.query.get("seconds", "")) or 1
    debug = go_atoi(request.query.get("debug", ""))
    if request.query.get("node_id") and request.query.get("server_id"):
        raise NomadError(400, "Cannot target node and server simultaneously")
    authorize_debug(request)
    if request.query.get("node_id"):
        node_for_rpc(request.app[CLUSTER], request.query["node_id"])
    headers = {"X-Content-Type-Options": "nosniff"}
    if name == "cmdline":
        return web.Response(body=cmdline(), headers={**headers, "Content-Type": "text/plain; charset=utf-8"})
    if name not in ("profile", "trace", *LOOKUP_PROFILES):
        raise NomadError(404, f"Pprof profile not found profile: {name}")
    if name in ("profile", "trace"):
        await asyncio.sleep(seconds)  # Go samples for that long before answering
    elif debug:
        text = goroutine_text(debug) if name == "goroutine" else profile_text(name, seconds)
        return web.Response(text=text, headers={**headers, "Content-Type": "text/plain; charset=utf-8"})
    body = gzip.compress(profile_text(name, seconds).encode())
    return web.Response(body=body, headers={**headers, "Content-Type": "application/octet-stream",
                                            "Content-Disposition": f'attachment; filename="{name}"'})


def authorize_debug(request: web.Request) -> None:
    """agent:write with ACLs on; with ACLs off the agent's enable_debug decides."""
    if resolve_acl(request) is None and not request.app[CLUSTER].cfg.enable_debug:
        raise NomadError(403, "Permission denied")
    authorize(request, agent="write")


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
    app[AGENT] = initial_state(app[CLUSTER])
    app.router.add_route("*", "/v1/agent/self", agent_self)
    app.router.add_route("*", "/v1/agent/members", agent_members)
    app.router.add_route("*", "/v1/agent/servers", agent_servers)
    app.router.add_route("*", "/v1/agent/join", agent_join)
    app.router.add_route("*", "/v1/agent/force-leave", agent_force_leave)
    app.router.add_route("*", "/v1/agent/health", agent_health)
    app.router.add_route("*", "/v1/agent/pprof/{name:.*}", agent_pprof)
