"""The Nomad HTTP API subset (placeholder: routes land in the next commits)."""

from aiohttp import web


def create_app(cluster, observer, acl: bool, management_token, tls: bool) -> web.Application:
    app = web.Application(middlewares=[observer.middleware("nomad")])
    return app
