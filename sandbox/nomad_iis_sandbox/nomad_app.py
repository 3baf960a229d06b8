"""The Nomad HTTP API app, as a combined server+client agent answers (Nomad's `command/agent/http.go`):
the middlewares (Nomad's plain-text errors, an empty 404 for unknown paths, the agent's request log),
the ACL and TLS state the endpoints read, `/`'s redirect to the UI, and the routes of every
endpoint group."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from . import nomad_agent, nomad_client, nomad_fs, nomad_monitor, nomad_state
from .cluster import Cluster
from .config import AclToken
from .go_compat import GoDuration
from .nomad_common import ACL, CLUSTER, TLS, TLS_INFO, AclState, NomadError, error_response
from .nomad_frames import track_streams

log = logging.getLogger("nomad_iis_sandbox.http")


@web.middleware
async def log_requests(request: web.Request, handler):
    """wrap(): a DEBUG `request complete` line per API request, and `request failed` (DEBUG for
    4xx, ERROR otherwise) when the handler returns an error."""
    if request.path.startswith("/_sandbox") or isinstance(request.match_info.http_exception, web.HTTPNotFound):
        return await handler(request)
    started = time.monotonic_ns()
    try:
        return await handler(request)
    except NomadError as exc:
        level = logging.DEBUG if 400 <= exc.status <= 499 else logging.ERROR
        log.log(level, "request failed", extra={"kv": {"method": request.method, "path": request.raw_path,
                                                       "error": exc.text, "code": exc.status}})
        raise
    finally:
        log.debug("request complete", extra={"kv": {"method": request.method, "path": request.raw_path,
                                                    "duration": GoDuration(time.monotonic_ns() - started)}})


def create_app(cluster: Cluster, observer, acl: bool, management_token: str | None, tls: bool,
               tls_info: dict | None = None) -> web.Application:
    """`tls_info` (optional): {"paths": ensure_certs() result, "verify_https_client": bool}."""

    @web.middleware
    async def nomad_errors(request: web.Request, handler):
        try:
            return await handler(request)
        except NomadError as exc:
            return error_response(exc.status, exc.text)
        except web.HTTPNotFound:
            return web.Response(status=404)
        except web.HTTPMethodNotAllowed:
            return error_response(405, "Invalid method")

    # log_requests innermost, so that it sees NomadErrors before nomad_errors turns them into responses.
    app = web.Application(middlewares=[observer.middleware("nomad"), nomad_errors, log_requests])
    tokens = {t.secret_id: t for t in cluster.cfg.tokens}
    if management_token:
        tokens[management_token] = AclToken(name="Bootstrap Token", secret_id=management_token,
                                            accessor_id="00000000-0000-0000-0000-000000000001",
                                            type="management")
    app[CLUSTER] = cluster
    app[ACL] = AclState(enabled=acl, tokens=tokens, policies={p.name: p for p in cluster.cfg.policies})
    app[TLS] = tls
    app[TLS_INFO] = tls_info or {}

    async def root(request: web.Request) -> web.StreamResponse:
        # handleRootFallthrough: `/` goes to the UI, keeping the query.
        location = "/ui/" + (f"?{request.query_string}" if request.query_string else "")
        raise web.HTTPTemporaryRedirect(location)

    app.router.add_route("*", "/", root)
    track_streams(app)
    for group in (nomad_state, nomad_client, nomad_agent, nomad_fs, nomad_monitor):
        group.add_routes(app)
    return app
