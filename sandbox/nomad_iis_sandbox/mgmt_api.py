"""The Nomad IIS Management API of one node (placeholder: routes land in the next commits)."""

from aiohttp import web


def create_app(cluster, node, observer) -> web.Application:
    app = web.Application(middlewares=[observer.middleware(node.name)])
    return app
