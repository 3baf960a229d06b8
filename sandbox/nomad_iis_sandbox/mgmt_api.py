"""The Nomad IIS Management API of one node, as v0.20.1 answers (upstream `ManagementApiController.cs`;
its quirks: README, "Faithful quirks").

Routing is done here by hand rather than by aiohttp's router, because upstream's answers depend
on ASP.NET Core details: Kestrel decodes the path except `%2F` and removes dot segments, `{path}`
is a single segment, the Host header's port must be the API port, a wrong verb is 405 before
authentication, authentication (401) comes before the allocation lookup (404), which comes before
authorization (403), and unhandled exceptions become an empty 500."""

from __future__ import annotations

import logging
import re
import urllib.parse
from dataclasses import dataclass

from aiohttp import web

from . import mgmt_captures, mgmt_fs, mgmt_pool, observe
from .cluster import Cluster, Node, Task
from .mgmt_auth import AuthCrash, Principal, authenticate

log = logging.getLogger(__name__)

PLUGIN_BANNER = ("This binary is a plugin. These are not meant to be executed directly.\n"
                 "Please execute the program that consumes these plugins, which will\n"
                 "load any plugins automatically\n")

# action -> {method: (handler, capability)}
ALLOC_ROUTES = {
    "status": {"GET": (mgmt_pool.status, "Status")},
    "start": {"PUT": (mgmt_pool.start, "AppPoolLifecycle")},
    "stop": {"PUT": (mgmt_pool.stop, "AppPoolLifecycle")},
    "recycle": {"PUT": (mgmt_pool.recycle, "AppPoolLifecycle")},
    "screenshot": {"GET": (mgmt_captures.screenshot, "Screenshots")},
    "procdump": {"GET": (mgmt_captures.procdump, "ProcDump")},
}
FS_ROUTE = {"GET": (mgmt_fs.download, "FilesystemAccess"), "PUT": (mgmt_fs.upload_cold, "FilesystemAccess"),
            "PATCH": (mgmt_fs.upload_hot, "FilesystemAccess"), "DELETE": (mgmt_fs.delete, "FilesystemAccess")}
DEBUG_ROUTE = {"GET": (mgmt_pool.debug, "Debug")}


@dataclass
class Call:
    """What a handler gets: the node, the task (None for /debug) and the decoded `{path}`."""
    cluster: Cluster
    node: Node
    principal: Principal
    task: Task | None = None
    path: str | None = None


def kestrel_segments(raw_path: str) -> list[str]:
    """Path segments as ASP.NET Core routing sees them: percent-decoded except `%2F`, with dot
    segments removed and a trailing slash ignored."""
    out: list[str] = []
    for raw in raw_path.split("/")[1:]:
        kept = re.sub(r"%2[fF]", "\x00", raw)
        segment = urllib.parse.unquote(kept, errors="surrogateescape").replace("\x00", "%2F")
        if segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    if out and out[-1] == "":
        out.pop()
    return out


def host_port(host: str | None) -> int:
    if not host:
        return 80
    match = re.search(r":(\d+)$", host)
    return int(match.group(1)) if match else 80


def match_route(segments: list[str]):
    """(methods table, allocId, taskName, path) for a route template, or None (404)."""
    lower = [s.lower() for s in segments]
    if lower == ["api", "v1", "debug"]:
        return DEBUG_ROUTE, None, None, None
    if len(segments) >= 6 and lower[:3] == ["api", "v1", "allocs"] and segments[3] and segments[4]:
        if len(segments) == 6 and lower[5] in ALLOC_ROUTES:
            return ALLOC_ROUTES[lower[5]], segments[3], segments[4], None
        if len(segments) == 7 and lower[5] == "fs" and segments[6]:
            # The action decodes the route value again (HttpUtility.UrlDecode): `+` becomes a space.
            path = urllib.parse.unquote_plus(segments[6], errors="replace")
            return FS_ROUTE, segments[3], segments[4], path
    return None


def empty(status: int, **headers) -> web.Response:
    return web.Response(status=status, headers=headers)


def create_app(cluster: Cluster, node: Node, observer) -> web.Application:
    async def dispatch(request: web.Request) -> web.StreamResponse:
        try:
            principal = authenticate(request.headers, node.api_key, node.jwt_secret)
        except AuthCrash:
            return empty(500)
        raw_path = request.raw_path.split("?", 1)[0]
        if raw_path == "/":  # MapGet("/"), on any host
            if request.method != "GET":
                return empty(405, Allow="GET")
            return web.Response(text=PLUGIN_BANNER)
        matched = match_route(kestrel_segments(raw_path))
        if matched is None or host_port(request.headers.get("Host")) != node.api_port:
            return empty(404)
        methods, alloc_id, task_name, path = matched
        if request.method not in methods:
            # HttpMethodMatcherPolicy sorts the methods (OrdinalIgnoreCase).
            return empty(405, Allow=", ".join(sorted(methods)))
        if principal is None:
            return empty(401)
        handler, capability = methods[request.method]
        call = Call(cluster, node, principal, path=path)
        if alloc_id is not None:
            alloc = cluster.allocs.get(alloc_id)
            task = alloc.iis_tasks().get(task_name) if alloc and alloc.node is node else None
            if task is None or task.state != "running":
                return empty(404)
            if not principal.may_access(alloc.namespace, alloc.job.id, alloc.id, capability):
                return empty(403)
            call.task = task
        elif not principal.may(capability):
            return empty(403)
        try:
            return await handler(request, call)
        except (ConnectionResetError, web.HTTPException):
            raise
        except Exception:  # noqa: BLE001 - upstream has no exception handler: empty 500
            log.exception("unhandled exception in %s %s", request.method, raw_path)
            return empty(500)

    async def server_header(request, response):
        response.headers["Server"] = "Kestrel"

    app = web.Application(middlewares=[observer.middleware(node.name)])
    app.on_response_prepare.append(server_header)
    # Kestrel sends `100 Continue` only when the body is first read (observe.body_chunks).
    app.router.add_route("*", "/{tail:.*}", dispatch, expect_handler=observe.defer_continue)
    return app
