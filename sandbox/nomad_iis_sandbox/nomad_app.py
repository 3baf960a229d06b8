"""The Nomad HTTP API app, as a combined server+client agent answers (specs/nomad-http-api.md): the
middlewares (Nomad's plain-text errors, an empty 404 for unknown paths), the ACL and TLS state the
endpoints read, `/`'s redirect to the UI, and the routes of every endpoint group."""

from __future__ import annotations

from aiohttp import web

from . import nomad_agent, nomad_client, nomad_state, nomad_streams
from .cluster import Cluster
from .config import AclToken
from .nomad_common import ACL, CLUSTER, TLS, TLS_INFO, AclState, NomadError, error_response


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

    app = web.Application(middlewares=[observer.middleware("nomad"), nomad_errors])
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
    for group in (nomad_state, nomad_client, nomad_agent, nomad_streams):
        group.add_routes(app)
    return app
