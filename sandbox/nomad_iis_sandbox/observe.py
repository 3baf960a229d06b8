"""What tests need to see and break: a log of every request each listener answered, and injected
faults (a status N times, a delay, a connection cut mid-body). Shared by the Nomad and Management
API listeners as an aiohttp middleware."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from dataclasses import asdict, dataclass, field

from aiohttp import HttpVersion11, web

REQUEST_LOG_MAX = 20000
CUT_FLUSH_TIMEOUT = 10.0  # seconds a cut waits for the bytes before it to leave (a client not reading)


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


_NUMBERS = {"status": int, "delay": float, "cut_after": int, "cut_request_after": int, "skip": int, "times": int}


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
        # ansible-core before 2.19 templates every number in a task's arguments as a string.
        spec = {key: _NUMBERS[key](value) if key in _NUMBERS and isinstance(value, str) else value
                for key, value in spec.items()}
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
            request["observe_entry"] = entry  # handlers may add what only they know (WinRM: the command)
            fault = self._take_fault(server, request)
            # Counts the body bytes as they are written, also those of a response aiohttp sends
            # after the handler returned (Response.body_length would include headers and chunk framing).
            _instrument_writer(request, entry, fault.cut_after if fault is not None else None)
            response = None
            try:
                if fault is not None:
                    entry["fault"] = fault.id
                    if fault.delay:
                        await asyncio.sleep(fault.delay)
                    if fault.cut_request_after is not None:
                        request["cut_request_after"] = fault.cut_request_after
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
            except Exception:
                entry["status"] = 500  # aiohttp answers an unhandled exception with a 500
                raise
            finally:
                entry["bytes_in"] = request.content.total_bytes
                if response is not None and entry["status"] != "cut":
                    entry["status"] = response.status
        return observe


def _instrument_writer(request: web.Request, entry: dict, cut_after: int | None) -> None:
    """Wrap the request's payload writer: count the response body bytes into the log entry and, with
    `cut_after`, drop the connection once that many body bytes were sent and more would follow."""
    writer = request._payload_writer  # noqa: SLF001 - a test tool; pinned aiohttp internals
    write, write_eof = writer.write, writer.write_eof

    async def send(chunk, *args, **kwargs) -> None:
        chunk = bytes(chunk)
        if cut_after is not None and entry["bytes_out"] + len(chunk) > cut_after:
            room = cut_after - entry["bytes_out"]
            if room > 0:
                await write(chunk[:room], *args, **kwargs)
                entry["bytes_out"] += room
            await _cut(request, writer)
            entry["status"] = "cut"
            raise ConnectionResetError("connection cut by an injected fault")
        await write(chunk, *args, **kwargs)
        entry["bytes_out"] += len(chunk)

    async def counted_write_eof(chunk=b"") -> None:
        if chunk:
            await send(chunk)
        await write_eof()

    writer.write = send
    writer.write_eof = counted_write_eof


async def _cut(request: web.Request, writer) -> None:
    """Deliver what was written (headers included), then reset the connection."""
    transport = request.transport
    if transport is None:
        return
    send_headers = getattr(writer, "send_headers", None)  # aiohttp >= 3.11 buffers the headers
    if send_headers is not None:
        send_headers()
    # Wait until the bytes are in the kernel. drain() cannot tell: over TLS it may never return, and
    # the TLS layer hands its records to a socket transport whose buffer it does not count.
    inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
    deadline = asyncio.get_running_loop().time() + CUT_FLUSH_TIMEOUT
    while (not transport.is_closing() and asyncio.get_running_loop().time() < deadline
           and transport.get_write_buffer_size() + (inner.get_write_buffer_size() if inner else 0)):
        await asyncio.sleep(0.005)
    transport.abort()


async def defer_continue(request: web.Request) -> None:
    """Expect handler of a listener that imitates Kestrel: no `100 Continue` before the handler runs
    (and no 417 for other expectations, which Kestrel ignores); body_chunks sends it on the first read,
    so a request refused before its body is read (e.g. a Content-Length over the limit) gets none."""
    request["continue_deferred"] = True


def _send_deferred_continue(request: web.Request) -> None:
    if (request.get("continue_deferred") and request.version == HttpVersion11
            and request.headers.get("Expect", "").lower() == "100-continue" and request.transport is not None):
        request.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request["continue_deferred"] = False


async def body_chunks(request: web.Request, chunk_size: int = 1 << 16):
    """The request body in chunks, honouring an injected request cut: the handler gets exactly
    `cut_request_after` bytes (what a server had received when the client vanished), then the
    connection drops and reading raises ConnectionResetError."""
    _send_deferred_continue(request)
    limit = request.get("cut_request_after")
    received = 0
    async for chunk in request.content.iter_chunked(chunk_size):
        if limit is not None and received + len(chunk) > limit:
            if limit > received:
                yield chunk[:limit - received]
            if request.transport:
                request.transport.abort()
            raise ConnectionResetError("connection cut by an injected fault")
        received += len(chunk)
        yield chunk
