"""Nomad API endpoint group (placeholder: routes land in the next commits)."""

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
