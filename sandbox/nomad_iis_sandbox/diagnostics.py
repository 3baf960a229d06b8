"""Screenshot and procdump routes of the Management API (placeholder)."""

from aiohttp import web


async def screenshot(request: web.Request, call) -> web.StreamResponse:
    raise NotImplementedError


async def procdump(request: web.Request, call) -> web.StreamResponse:
    raise NotImplementedError
