"""Nomad's stream framing, for the streaming endpoints: fs stream and logs, the agent monitor.

A port of Nomad's StreamFramer (`client/lib/streamframer`): data batched for 200 ms into frames of
at most 64 KiB (1 KiB for the monitor), `{}` heartbeats every second, JSON objects back to back; and
the HTTP side of fsStreamImpl (`command/agent/fs_endpoint.go`): headers go out with the first bytes,
an error raised before anything was written is the HTTP error, after that its text goes into the
body. Open streams are tracked so that shutdown ends them."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass

from aiohttp import web

from .go_compat import detect_content_type
from .nomad_common import NomadError

STREAM_FRAME_SIZE = 64 * 1024  # streamFrameSize
HEARTBEAT_RATE = 1.0  # streamHeartbeatRate
BATCH_WINDOW = 0.2  # streamBatchWindow

ACTIVE_STREAMS = web.AppKey("active_streams", set)


@dataclass
class Frame:
    offset: int = 0
    data: bytes | None = None
    file: str = ""
    event: str = ""

    def cleared(self) -> bool:
        return self.offset == 0 and self.data is None and not self.file and not self.event

    def clear(self) -> None:
        self.offset, self.data, self.file, self.event = 0, None, "", ""

    def copy(self) -> "Frame":
        return Frame(self.offset, self.data, self.file, self.event)

    def encode(self) -> bytes:
        """Nomad's JSON codec: every field omitempty, Data in base64, no separator after it."""
        body = {}
        if self.offset:
            body["Offset"] = self.offset
        if self.data:
            body["Data"] = base64.b64encode(self.data).decode("ascii")
        if self.file:
            body["File"] = self.file
        if self.event:
            body["FileEvent"] = self.event
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


HEARTBEAT = Frame()


class FrameSink:
    """Where frames go: the HTTP response, as fsStreamImpl copies payloads to it. Plain mode writes
    only the data, so heartbeats write nothing. Headers go out with the first bytes, as Go's
    ResponseWriter sends them on the first write (a Content-Type of None is sniffed from them)."""

    def __init__(self, request: web.Request, plain: bool, content_type: str | None):
        self.request = request
        self.plain = plain
        self.content_type = content_type
        self.response: web.StreamResponse | None = None
        self.stop = asyncio.Event()  # the client went away, or the server shuts down
        self._lock = asyncio.Lock()

    def client_gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def __call__(self, frame: Frame) -> None:
        await self.write((frame.data or b"") if self.plain else frame.encode())

    async def write(self, payload: bytes) -> None:
        if not payload or self.stop.is_set():
            return
        async with self._lock:
            try:
                if self.response is None:
                    await self._prepare(payload)
                await self.response.write(payload)
            except ConnectionError:
                self.stop.set()

    async def _prepare(self, first: bytes) -> None:
        self.response = web.StreamResponse()
        self.response.headers["Content-Type"] = self.content_type or detect_content_type(first)
        await self.response.prepare(self.request)

    async def finish(self) -> web.StreamResponse:
        async with self._lock:
            try:
                if self.response is None:  # nothing was written: 200, empty body
                    self.response = web.StreamResponse()
                    if self.content_type:
                        self.response.headers["Content-Type"] = self.content_type
                    self.response.content_length = 0
                    await self.response.prepare(self.request)
                await self.response.write_eof()
            except ConnectionError:
                pass  # the client went away
        return self.response


class FramerStopped(Exception):
    pass


class StreamFramer:
    """client/lib/streamframer: buffers data into frames, flushes every batch window, sends `{}`
    every heartbeat, and sends full frames at once. Quirks included (a frame flushed by size keeps
    its file and offset, so the next flush may send a frame without data)."""

    def __init__(self, sink: FrameSink, frame_size: int):
        self.sink = sink
        self.frame_size = frame_size
        self.frame = Frame()
        self.buffer = bytearray()
        self.running = False
        self.exited = asyncio.Event()
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task | None = None

    def start(self) -> None:
        self.running = True
        self._ticker = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        next_flush, next_beat = loop.time() + BATCH_WINDOW, loop.time() + HEARTBEAT_RATE
        try:
            while True:
                await asyncio.sleep(max(0.0, min(next_flush, next_beat) - loop.time()))
                if self.sink.client_gone():  # Go notices through the connection's read side
                    self.sink.stop.set()
                    break
                now = loop.time()
                if now >= next_flush:
                    next_flush = _next_tick(next_flush, BATCH_WINDOW, now)
                    async with self._lock:
                        if not self.frame.cleared():
                            await self._send()
                if now >= next_beat:
                    next_beat = _next_tick(next_beat, HEARTBEAT_RATE, now)
                    await self.sink(HEARTBEAT)
        except asyncio.CancelledError:
            return  # destroy() flushes
        self.running = False
        self.exited.set()

    def _read_data(self) -> bytes | None:
        size = min(len(self.buffer), self.frame_size)
        if size == 0:
            return None
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def _send(self) -> None:
        if self.exited.is_set():
            return
        self.frame.data = self._read_data()
        await self.sink(self.frame.copy())
        self.frame.clear()

    async def send(self, file: str, event: str, data: bytes, offset: int) -> None:
        async with self._lock:
            if not self.running:
                raise FramerStopped("StreamFramer not running")
            frame = self.frame
            if not frame.cleared() and (frame.file != file or frame.event != event):
                await self._send()
            if frame.cleared():
                frame.offset, frame.file, frame.event = offset, file, event
            self.buffer += data
            force = not self.buffer and frame.event != ""  # an event without data goes out at once
            while len(self.buffer) >= self.frame_size or force:
                force = False
                if self.exited.is_set():
                    return
                frame.data = self._read_data()
                await self.sink(frame.copy())
                frame.offset += len(frame.data or b"")

    async def destroy(self) -> None:
        """Stop ticking and send what is left."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        async with self._lock:
            self.running = False
            if not self.frame.cleared() and not self.exited.is_set():
                self.frame.data = self._read_data()
                if self.frame.data:
                    await self.sink(self.frame.copy())
            self.exited.set()


def _next_tick(deadline: float, period: float, now: float) -> float:
    """A ticker drops the ticks a slow receiver missed."""
    while deadline <= now:
        deadline += period
    return deadline


async def wait_any(events: list[asyncio.Event | None], timeout: float | None = None) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def run_stream(request: web.Request, sink: FrameSink, frame_size: int, producer) -> web.StreamResponse:
    """Run `producer(framer, stop)` until it ends or the client goes away, then flush. An error
    raised before anything was written becomes the HTTP error; after that, Go writes its text
    into the body, and so does this."""
    framer = StreamFramer(sink, frame_size)
    active: set = request.app[ACTIVE_STREAMS]
    active.add(sink)
    framer.start()
    work = asyncio.ensure_future(producer(framer, sink.stop))
    stopped = asyncio.ensure_future(sink.stop.wait())
    error: BaseException | None = None
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        work.cancel()
        outcome = (await asyncio.gather(work, return_exceptions=True))[0]
        if isinstance(outcome, Exception) and not sink.stop.is_set():
            error = outcome
        await framer.destroy()
        active.discard(sink)
    if error is not None:
        nomad_error = error if isinstance(error, NomadError) else NomadError(500, str(error))
        if sink.response is None:
            raise nomad_error
        await sink.write(nomad_error.text.encode("utf-8"))
    return await sink.finish()


async def _stop_streams(app: web.Application) -> None:
    """On shutdown, end every open stream (aiohttp would otherwise wait for them)."""
    for sink in list(app[ACTIVE_STREAMS]):
        sink.stop.set()


def track_streams(app: web.Application) -> None:
    """Keep the app's open streams (run_stream registers them) and end them on shutdown."""
    app[ACTIVE_STREAMS] = set()
    app.on_shutdown.append(_stop_streams)
