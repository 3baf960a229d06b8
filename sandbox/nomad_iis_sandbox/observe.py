"""What tests need to see and break: a log of every request each listener answered, and injected
faults (a status N times, a delay, a connection cut mid-body). Shared by the Nomad and Management
API listeners as an aiohttp middleware."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from dataclasses import asdict, dataclass, field

from aiohttp import web

REQUEST_LOG_MAX = 20000


@dataclass
class Fault:
    id: int
    path: str  # regular expression searched in the raw path (query excluded)
    server: str | None = None  # "nomad", a node name (its Management API), or None for any
    method: str | None = None
    status: int | None = None  # answer this status instead of handling the request
    body: str = ""
    delay: float = 0.0  # seconds to wait before handling
    cut_after: int | None = None  # close the connection after this many response body bytes
    cut_request_after: int | None = None  # close the connection after this many request body bytes
    skip: int = 0  # let this many matching requests through first
    times: int | None = 1  # how many requests it applies to; None: all
    hits: int = 0

    def matches(self, server: str, request: web.Request) -> bool:
        return ((self.server is None or self.server == server)
                and (self.method is None or self.method.upper() == request.method)
                and re.search(self.path, request.raw_path.split("?", 1)[0]) is not None)


@dataclass
class Observer:
    requests: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _fault_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add_fault(self, spec: dict) -> Fault:
        allowed = set(Fault.__dataclass_fields__) - {"id", "hits"}
        unknown = set(spec) - allowed
        if unknown or "path" not in spec:
            raise ValueError(f"fault needs 'path'; unknown keys: {sorted(unknown)}")
        fault = Fault(id=next(self._fault_ids), **spec)
        re.compile(fault.path)
        self.faults.append(fault)
        return fault

    def fault_list(self) -> list[dict]:
        return [asdict(f) for f in self.faults]

    def _take_fault(self, server: str, request: web.Request) -> Fault | None:
        for fault in self.faults:
            if not fault.matches(server, request):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            if fault.times is not None and fault.hits >= fault.times:
                continue
            fault.hits += 1
            return fault
        return None

    def middleware(self, server: str):
        @web.middleware
        async def observe(request: web.Request, handler):
            if request.path.startswith("/_sandbox"):
                return await handler(request)
            entry = {"seq": next(self._seq), "time": time.time(), "server": server,
                     "method": request.method, "path": request.raw_path.split("?", 1)[0],
                     "query": request.query_string, "status": None, "bytes_in": 0, "bytes_out": 0,
                     "headers": {k.lower(): v for k, v in request.headers.items()
                                 if k.lower() in ("content-type", "content-length", "host", "range")}}
            self.requests.append(entry)
            del self.requests[:-REQUEST_LOG_MAX]
            fault = self._take_fault(server, request)
            response = None
            try:
                if fault is not None:
                    entry["fault"] = fault.id
                    if fault.delay:
                        await asyncio.sleep(fault.delay)
                    if fault.cut_request_after is not None:
                        request["cut_request_after"] = fault.cut_request_after
                    if fault.cut_after is not None:
                        _cut_response_after(request, fault.cut_after)
                    if fault.status is not None:
                        response = web.Response(status=fault.status, text=fault.body)
                        return response
                response = await handler(request)
                return response
            except web.HTTPException as exc:
                response = exc
                raise
            except (ConnectionResetError, asyncio.CancelledError):
                entry["status"] = entry["status"] or "cut"
                raise
            finally:
                entry["bytes_in"] = request.content.total_bytes
                if response is not None:
                    entry["status"] = response.status
                    entry["bytes_out"] = response.body_length if response.prepared else len(
                        getattr(response, "body", b"") or b"")
        return observe


def _cut_response_after(request: web.Request, limit: int) -> None:
    """Wrap the request's payload writer so that the connection drops after `limit` body bytes."""
    writer = request._payload_writer  # noqa: SLF001 - a test tool; pinned aiohttp internals
    sent = 0
    write, write_eof = writer.write, writer.write_eof

    async def cut(chunk: bytes) -> bool:
        nonlocal sent
        room = limit - sent
        if len(chunk) >= room:
            if room > 0:
                await write(chunk[:room])
            await writer.drain()
            request.transport.abort() if request.transport else None
            raise ConnectionResetError("connection cut by an injected fault")
        sent += len(chunk)
        await write(chunk)
        return False

    async def cut_write(chunk, *args, **kwargs):
        await cut(bytes(chunk))

    async def cut_write_eof(chunk=b""):
        if chunk:
            await cut(bytes(chunk))
        await write_eof()

    writer.write = cut_write
    writer.write_eof = cut_write_eof


async def body_chunks(request: web.Request, chunk_size: int = 1 << 16):
    """The request body in chunks, honouring an injected request cut."""
    limit = request.get("cut_request_after")
    received = 0
    async for chunk in request.content.iter_chunked(chunk_size):
        received += len(chunk)
        if limit is not None and received >= limit:
            if request.transport:
                request.transport.abort()
            raise ConnectionResetError("connection cut by an injected fault")
        yield chunk
