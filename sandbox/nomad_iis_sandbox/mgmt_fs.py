"""File routes of the Management API (placeholder)."""

from aiohttp import web


async def download(request: web.Request, call) -> web.StreamResponse:
    raise NotImplementedError


async def upload_cold(request: web.Request, call) -> web.Response:
    raise NotImplementedError


async def upload_hot(request: web.Request, call) -> web.Response:
    raise NotImplementedError


async def delete(request: web.Request, call) -> web.Response:
    raise NotImplementedError
