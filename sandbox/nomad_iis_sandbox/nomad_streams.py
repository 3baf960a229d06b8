"""Nomad's client file-system endpoints (`/v1/client/fs/*`), task logs and the agent monitor, with
Nomad's stream framing (specs/nomad-http-api.md §1 and the monitor part of §5).

Errors are the ones a Nomad client agent gives, in the order it checks them: the HTTP layer's
parameter checks (`command/agent/fs_endpoint.go`), the alloc lookup, the ACL check, then the path
checks of `client/allocdir` and the stream itself (`client/fs_endpoint.go`). Streams run through a
port of Nomad's StreamFramer (`client/lib/streamframer`): data batched for 200 ms into frames of at
most 64 KiB (1 KiB for the monitor), `{}` heartbeats every second, JSON objects back to back.

The monitor shows the sandbox's own log: a handler on the `nomad_iis_sandbox` logger formats records
as hclog does and fans them out to every open monitor."""

from __future__ import annotations

import asyncio
import base64
import bisect
import collections
import json
import logging
import os
import posixpath
import stat
import sys
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from .go_compat import (MAX_INT64, GoDuration, detect_content_type, go_duration, go_file_mode, go_join,
                        go_parse_bool, go_parse_int, go_path_error, go_quote_surrogateescape, rfc3339nano)
from .nomad_common import CLUSTER, NomadError, authorize, client_alloc, client_node, json_reply

FS_PREFIX = "/v1/client/fs/"
STREAM_FRAME_SIZE = 64 * 1024  # streamFrameSize
MONITOR_FRAME_SIZE = 1024  # the monitor's framer
HEARTBEAT_RATE = 1.0  # streamHeartbeatRate
BATCH_WINDOW = 0.2  # streamBatchWindow
POLL_RATE = 0.25  # hpcloud/tail's polling watcher
NEXT_LOG_CHECK_RATE = 0.1  # nextLogCheckRate
LOG_DIR = "alloc/logs"
DELETE_EVENT = "file deleted"
TRUNCATE_EVENT = "file truncated"
# The logs RPC sends its ACL denial without a code, and the HTTP layer turns a code-less stream
# error into a 500 (client/fs_endpoint.go logs(), command/agent/fs_endpoint.go fsStreamImpl).
LOGS_DENIED_STATUS = 500
# Go formats the offset with %q, and an out-of-range rune prints as the replacement character.
SEEK_OFFSET_QUOTED = "'\ufffd'"
# noxssrw: content types a browser would render are served as text/plain.
UNSAFE_TYPES = ("text/html", "text/xhtml", "text/xhtml+xml")
NOXSS_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                 "X-Content-Type-Options": "nosniff", "X-Xss-Protection": "1; mode=block"}

ACTIVE_STREAMS = web.AppKey("active_streams", set)
log = logging.getLogger("nomad_iis_sandbox.http")


def safe_content_type(data: bytes) -> str:
    """noxssrw: the sniffed type, with renderable ones replaced by text/plain."""
    found = detect_content_type(data)
    return "text/plain" if found.startswith(UNSAFE_TYPES) else found


# --------------------------------------------------------------------------------------------
# The allocation directory, as client/allocdir/alloc_dir.go reads it (blocking: run in threads)
# --------------------------------------------------------------------------------------------

class FsError(Exception):
    """An allocdir error: Go's text, and whether it is os.IsNotExist (logs re-list on those)."""

    def __init__(self, text: str, not_exist: bool = False):
        super().__init__(text)
        self.text = text
        self.not_exist = not_exist


# PathEscapesAllocViaRelative resolves paths against a placeholder alloc dir.
_VIRTUAL_ALLOC_DIR = "/alloc-dir/alloc-id"


class AllocFS:
    def __init__(self, alloc):
        self.base = alloc.dir
        self.task_names = list(alloc.tasks)

    def host_path(self, path: str) -> str:
        return go_join(self.base, path)

    def check_escape(self, path: str) -> None:
        """escapingfs.PathEscapesAllocDir: `..` climbing out (a plain prefix check on the relative
        path, so `..x` counts too), or an existing path whose symlinks resolve outside."""
        relative = posixpath.relpath(go_join(_VIRTUAL_ALLOC_DIR, path), _VIRTUAL_ALLOC_DIR)
        if relative.startswith(".."):
            raise FsError("Path escapes the alloc directory")
        full = self.host_path(path)
        try:
            resolved = os.path.realpath(full, strict=True)
        except FileNotFoundError:
            return  # upstream treats missing paths as not escaping
        except OSError as exc:
            raise FsError("Failed to check if path escapes alloc directory: "
                          + go_path_error("lstat", full, exc)) from None
        # Upstream compares with the alloc dir as configured; the sandbox resolves it too, so that
        # a state dir under a symlinked path does not make every path "escape".
        if not resolved.startswith(os.path.realpath(self.base)):
            raise FsError("Path escapes the alloc directory")

    def list(self, path: str) -> list[dict]:
        self.check_escape(path)
        host = self.host_path(path)
        try:
            fd = os.open(host, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            raise FsError(go_path_error("open", host, exc), isinstance(exc, FileNotFoundError)) from None
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):  # Go opens files fine and fails reading entries
                raise FsError(f"readdirent {host}: not a directory")
        finally:
            os.close(fd)
        entries = []
        with os.scandir(host) as found:
            for entry in found:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed while listing
                entries.append({"Name": entry.name, "IsDir": stat.S_ISDIR(info.st_mode), "Size": info.st_size,
                                "FileMode": go_file_mode(info.st_mode), "ModTime": rfc3339nano(info.st_mtime_ns)})
        return sorted(entries, key=lambda e: e["Name"].encode("utf-8", "surrogateescape"))

    def stat(self, path: str) -> dict:
        self.check_escape(path)
        host = self.host_path(path)
        try:
            info = os.stat(host)
        except OSError as exc:
            raise FsError(go_path_error("stat", host, exc), isinstance(exc, FileNotFoundError)) from None
        is_dir = stat.S_ISDIR(info.st_mode)
        return {"Name": posixpath.basename(host), "IsDir": is_dir, "Size": info.st_size,
                "FileMode": go_file_mode(info.st_mode), "ModTime": rfc3339nano(info.st_mtime_ns),
                "ContentType": self._content_type(host, is_dir)}

    @staticmethod
    def _content_type(host: str, is_dir: bool) -> str:
        """detectContentType: sniffed from one read of 512 bytes; an empty or unreadable file and a
        directory are octet-stream; `*.json` is always application/json."""
        found = "application/octet-stream"
        if not is_dir:
            try:
                with open(host, "rb", buffering=0) as handle:
                    head = handle.read(512)
                if head:
                    found = detect_content_type(head)
            except OSError:
                pass
        return "application/json" if host.endswith(".json") else found

    def open_at(self, path: str, offset: int):
        """ReadAt: the escape check, the secrets/private check (a case-insensitive string prefix),
        open, and seek."""
        self.check_escape(path)
        host = self.host_path(path)
        lowered = host.lower()
        for task in self.task_names:
            if lowered.startswith(go_join(self.base, task, "secrets").lower()):
                raise FsError(f"Reading secret file prohibited: {path}")
            if lowered.startswith(go_join(self.base, task, "private").lower()):
                raise FsError(f"Reading private file prohibited: {path}")
        try:
            handle = open(host, "rb", buffering=0)  # noqa: SIM115 - closed by the stream
        except OSError as exc:
            raise FsError(go_path_error("open", host, exc), isinstance(exc, FileNotFoundError)) from None
        if offset < 0:
            handle.close()
            raise FsError(f"can't seek to offset {SEEK_OFFSET_QUOTED}: seek {host}: invalid argument")
        handle.seek(offset)
        return handle, host


async def in_thread(func, *args):
    """Blocking file-system work runs off the event loop."""
    return await asyncio.to_thread(func, *args)


# --------------------------------------------------------------------------------------------
# Stream framing: a port of Nomad's StreamFramer and the HTTP side of fsStreamImpl
# --------------------------------------------------------------------------------------------

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


class FileWatcher:
    """hpcloud/tail's polling watcher as allocdir.ChangeEvents uses it: a stat every 250 ms;
    gone or replaced → deleted, smaller → truncated, bigger or a new mtime → modified."""

    def __init__(self, host: str, identity: tuple[int, int], position: int):
        self.host = host
        self.identity = identity
        self.prev_size = position
        self.prev_mtime: int | None = None

    @classmethod
    async def create(cls, host: str, position: int) -> "FileWatcher":
        try:
            info = await in_thread(os.stat, host)
        except OSError as exc:
            raise FsError(go_path_error("stat", host, exc), isinstance(exc, FileNotFoundError)) from None
        return cls(host, (info.st_dev, info.st_ino), position)

    async def poll(self) -> str | None:
        try:
            info = await in_thread(os.stat, self.host)
        except OSError:
            return DELETE_EVENT
        if (info.st_dev, info.st_ino) != self.identity:
            return DELETE_EVENT
        size, previous = info.st_size, self.prev_size
        self.prev_size = size
        if previous > 0 and previous > size:
            return TRUNCATE_EVENT
        if previous > 0 and previous < size:
            return "modified"
        if info.st_mtime_ns != self.prev_mtime:
            self.prev_mtime = info.st_mtime_ns
            return "modified"
        return None


async def stream_file(fs: AllocFS, path: str, offset: int, framer: StreamFramer, stop: asyncio.Event,
                      eof_cancel: asyncio.Event | None = None, cancel_after_first_eof: bool = False) -> None:
    """FileSystem.streamFile: send the file from `offset`; at EOF stop (not following, or once more
    after eof_cancel fired), or wait for it to change. Raises FsError."""
    handle, host = await in_thread(fs.open_at, path, offset)
    try:
        last_event = ""
        watcher: FileWatcher | None = None
        cancel_received = cancel_after_first_eof
        while True:
            data = await in_thread(handle.read, STREAM_FRAME_SIZE)
            offset += len(data)
            if data or last_event:
                await framer.send(path, last_event, data, offset)
            last_event = ""
            if data:
                continue
            if cancel_received:
                return
            if watcher is None:
                watcher = await FileWatcher.create(host, offset)
            change = await _wait_for_change(watcher, framer, stop, eof_cancel)
            if change in ("stop", DELETE_EVENT):
                if change == DELETE_EVENT:
                    await framer.send(path, DELETE_EVENT, b"", offset)
                return
            if change == TRUNCATE_EVENT:
                await in_thread(handle.close)
                offset = 0
                handle, host = await in_thread(fs.open_at, path, offset)
                last_event = TRUNCATE_EVENT
            elif change == "eof_cancel":  # read one more time so no entry is lost at rotation
                cancel_received = True
    finally:
        await in_thread(handle.close)


async def _wait_for_change(watcher: FileWatcher, framer: StreamFramer, stop: asyncio.Event,
                           eof_cancel: asyncio.Event | None) -> str:
    while True:
        await wait_any([stop, framer.exited, eof_cancel], timeout=POLL_RATE)
        if stop.is_set() or framer.exited.is_set():
            return "stop"
        if eof_cancel is not None and eof_cancel.is_set():
            return "eof_cancel"
        change = await watcher.poll()
        if change is not None:
            return change


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


# --------------------------------------------------------------------------------------------
# /v1/client/fs/* handlers
# --------------------------------------------------------------------------------------------

def _required_path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise NomadError(400, "must provide a file name")
    return path


def _offset(request: web.Request, status: int, name: str = "offset", required: bool = False) -> int:
    text = request.query.get(name, "")
    if not text and not required:
        return 0
    try:
        return go_parse_int(text)
    except ValueError as exc:
        raise NomadError(status, f"error parsing {name}: {exc}") from None


def _flag(request: web.Request, name: str, default: bool, status: int, message: str) -> bool:
    text = request.query.get(name, "")
    if not text:
        return default
    try:
        return go_parse_bool(text)
    except ValueError as exc:
        raise NomadError(status, f"{message}: {exc}") from None


def _origin(request: web.Request) -> str:
    origin = request.query.get("origin", "") or "start"
    if origin not in ("start", "end"):
        raise NomadError(400, "origin must be start or end")
    return origin


def _fs_alloc(request: web.Request, alloc_id: str, capabilities: tuple[str, ...] = ("read-fs",),
              streaming: bool = False):
    """The alloc lookup (404/500 as §1.8), then the ACL check in the alloc's namespace. The stream
    RPCs (cat, readat, stream, logs) refuse a garbage-collected alloc before checking the ACL."""
    alloc = client_alloc(request.app[CLUSTER], alloc_id)
    if streaming and getattr(alloc, "collected", False):
        raise NomadError(404, f"state for allocation {alloc.id} not found on client")
    authorize(request, namespace=alloc.namespace, any_of=capabilities)
    return alloc, AllocFS(alloc)


def _list_error(exc: FsError) -> NomadError:
    """ls and stat: `no such file or directory` is 404, anything else 500."""
    return NomadError(404 if "no such file or directory" in exc.text else 500, exc.text)


async def _stat_for_read(fs: AllocFS, path: str) -> dict:
    """What the stream RPC checks before reading: stat errors and directories are 400."""
    try:
        info = await in_thread(fs.stat, path)
    except FsError as exc:
        raise NomadError(400, exc.text) from None
    if info["IsDir"]:
        raise NomadError(400, f"file {go_quote_surrogateescape(path)} is a directory")
    return info


async def fs_ls(request: web.Request, alloc_id: str) -> web.StreamResponse:
    path = request.query.get("path", "") or "/"
    _alloc, fs = _fs_alloc(request, alloc_id)
    try:
        return json_reply(await in_thread(fs.list, path), request)
    except FsError as exc:
        raise _list_error(exc) from None


async def fs_stat(request: web.Request, alloc_id: str) -> web.StreamResponse:
    path = _required_path(request)
    _alloc, fs = _fs_alloc(request, alloc_id)
    try:
        return json_reply(await in_thread(fs.stat, path), request)
    except FsError as exc:
        raise _list_error(exc) from None


async def fs_cat(request: web.Request, alloc_id: str) -> web.StreamResponse:
    path = _required_path(request)
    _alloc, fs = _fs_alloc(request, alloc_id, streaming=True)
    await _stat_for_read(fs, path)
    return await send_file(request, fs, path, 0, 0)


async def fs_readat(request: web.Request, alloc_id: str) -> web.StreamResponse:
    path = _required_path(request)
    offset = _offset(request, 500, required=True)  # not a coded error: 500
    limit = _offset(request, 500, "limit")
    _alloc, fs = _fs_alloc(request, alloc_id, streaming=True)
    await _stat_for_read(fs, path)
    return await send_file(request, fs, path, offset, limit)


async def send_file(request: web.Request, fs: AllocFS, path: str, offset: int, limit: int) -> web.StreamResponse:
    """cat/readat: raw bytes in chunks, with noxssrw's headers; `limit <= 0` reads to the end."""
    try:
        handle, _host = await in_thread(fs.open_at, path, offset)
    except FsError as exc:
        raise NomadError(500, exc.text) from None
    remaining = limit if limit > 0 else None
    response = web.StreamResponse(headers=NOXSS_HEADERS)
    try:
        chunk = await _read_limited(handle, remaining)
        response.headers["Content-Type"] = safe_content_type(chunk)
        await response.prepare(request)
        while chunk:
            await response.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            chunk = await _read_limited(handle, remaining)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away
    finally:
        await in_thread(handle.close)
    return response


async def _read_limited(handle, remaining: int | None) -> bytes:
    size = STREAM_FRAME_SIZE if remaining is None else min(STREAM_FRAME_SIZE, remaining)
    return await in_thread(handle.read, size) if size > 0 else b""


async def fs_stream(request: web.Request, alloc_id: str) -> web.StreamResponse:
    path = _required_path(request)
    follow = _flag(request, "follow", True, 500, "failed to parse follow field to boolean")
    offset = _offset(request, 500)
    origin = _origin(request)
    _alloc, fs = _fs_alloc(request, alloc_id, streaming=True)
    info = await _stat_for_read(fs, path)
    if origin == "end":
        offset = max(info["Size"] - offset, 0)

    async def produce(framer: StreamFramer, stop: asyncio.Event) -> None:
        try:
            await stream_file(fs, path, offset, framer, stop, cancel_after_first_eof=not follow)
        except FsError as exc:
            raise NomadError(500, exc.text) from None

    # No Content-Type is set: Go sniffs the first frame (text/plain; charset=utf-8).
    return await run_stream(request, FrameSink(request, plain=False, content_type=None), STREAM_FRAME_SIZE, produce)


# --------------------------------------------------------------------------------------------
# /v1/client/fs/logs: logsImpl, findClosest and the rotation watcher
# --------------------------------------------------------------------------------------------

def log_indexes(entries: list[dict], task: str, log_type: str) -> list[tuple[int, dict]]:
    prefix = f"{task}.{log_type}."
    found = []
    for entry in entries:
        if entry["IsDir"] or not entry["Name"].startswith(prefix):
            continue
        index_text = entry["Name"][len(prefix):]
        try:
            found.append((go_parse_int(index_text, "Atoi"), entry))
        except ValueError as exc:
            raise NomadError(500, f"failed to convert {go_quote_surrogateescape(index_text)} to a log index: {exc}") from None
    return sorted(found, key=lambda item: item[0])


def find_closest(entries: list[dict], desired_index: int, desired_offset: int, task: str,
                 log_type: str) -> tuple[dict, int, int]:
    """findClosest: the log file and offset to start from; a negative offset counts back from the
    end across rotated files, a positive one forward."""
    indexes = log_indexes(entries, task, log_type)
    if not indexes:
        raise NomadError(404, f"log entry for task {go_quote_surrogateescape(task)} and log type {go_quote_surrogateescape(log_type)} not found")
    position = min(bisect.bisect_left([index for index, _entry in indexes], desired_index), len(indexes) - 1)
    offset = desired_offset
    while offset != 0:
        size = indexes[position][1]["Size"]
        if offset < 0:
            if size + offset >= 0 or position == 0:
                offset = max(size + offset, 0)
                break
            offset, position = size + offset, position - 1
        else:
            if offset <= size:
                break
            if position == len(indexes) - 1:
                offset = size
                break
            offset, position = offset - size, position + 1
    return indexes[position][1], indexes[position][0], offset


async def _log_entries(fs: AllocFS) -> list[dict]:
    try:
        return await in_thread(fs.list, LOG_DIR)
    except FsError as exc:
        raise NomadError(500, f"failed to list entries: {exc.text}") from None


async def watch_next_log(fs: AllocFS, task: str, log_type: str, next_index: int, ready: asyncio.Event) -> None:
    """blockUntilNextLog: fires once a log file with this index or a higher one exists."""
    while True:
        try:
            indexes = log_indexes(await _log_entries(fs), task, log_type)
        except NomadError:
            break  # upstream ends the wait on errors too
        if any(index >= next_index for index, _entry in indexes):
            break
        await asyncio.sleep(NEXT_LOG_CHECK_RATE)
    ready.set()


async def stream_logs(fs: AllocFS, framer: StreamFramer, stop: asyncio.Event, task: str, log_type: str,
                      follow: bool, offset: int, origin: str) -> None:
    """FileSystem.logsImpl: stream from the chosen file, moving on to the next index as logs
    rotate; without follow, stop at the end of the newest index."""
    next_index = 0 if origin == "start" else MAX_INT64
    offset = offset if origin == "start" else -offset
    while not stop.is_set():
        entries = await _log_entries(fs)
        max_index = MAX_INT64 if follow else find_closest(entries, MAX_INT64, 0, task, log_type)[1]
        entry, index, open_offset = find_closest(entries, next_index, offset, task, log_type)
        if not follow and index > max_index:
            return
        last = not follow and index == max_index
        next_log = None if last else asyncio.Event()
        watcher = None if last else asyncio.ensure_future(watch_next_log(fs, task, log_type, index + 1, next_log))
        path = f"{LOG_DIR}/{entry['Name']}"
        try:
            await stream_file(fs, path, open_offset, framer, stop, next_log, cancel_after_first_eof=last)
        except FsError as exc:
            if exc.not_exist:  # rotated away under us: list again
                await asyncio.sleep(0)
                continue
            raise NomadError(500, f"failed to stream {go_quote_surrogateescape(path)}: {exc.text}") from None
        finally:
            if watcher is not None:
                watcher.cancel()
        if last or framer.exited.is_set():
            return
        offset, next_index = 0, index + 1


async def fs_logs(request: web.Request, alloc_id: str) -> web.StreamResponse:
    query = request.query
    task_name = query.get("task", "")
    if not task_name:
        raise NomadError(400, "must provide task name")
    follow = _flag(request, "follow", False, 400, "failed to parse follow field to boolean")
    plain = _flag(request, "plain", False, 400, "failed to parse plain field to boolean")
    log_type = query.get("type", "")
    if log_type not in ("stdout", "stderr"):
        raise NomadError(400, "must provide log type (stdout/stderr)")
    offset = _offset(request, 400)
    origin = _origin(request)
    try:
        alloc, fs = _fs_alloc(request, alloc_id, ("read-logs", "read-fs"), streaming=True)
    except NomadError as exc:
        if exc.status != 403:
            raise
        raise NomadError(LOGS_DENIED_STATUS, exc.text) from None
    task = alloc.tasks.get(task_name)
    if task is None:
        raise NomadError(400, f"unknown task name {go_quote_surrogateescape(task_name)}")
    if task.started_at is None:
        raise NomadError(404, f"task {go_quote_surrogateescape(task_name)} not started yet. No logs available")

    async def produce(framer: StreamFramer, stop: asyncio.Event) -> None:
        await stream_logs(fs, framer, stop, task_name, log_type, follow, offset, origin)

    sink = FrameSink(request, plain, "text/plain" if plain else "application/json")
    return await run_stream(request, sink, STREAM_FRAME_SIZE, produce)


FS_ENDPOINTS = {"ls/": fs_ls, "stat/": fs_stat, "readat/": fs_readat, "cat/": fs_cat,
                "stream/": fs_stream, "logs/": fs_logs}


async def fs_dispatch(request: web.Request) -> web.StreamResponse:
    """FsRequest: dispatch on the sub-path; the alloc ID is everything after it."""
    rest = request.path[len(FS_PREFIX):]
    for prefix, handler in FS_ENDPOINTS.items():
        if rest.startswith(prefix):
            alloc_id = rest[len(prefix):]
            if not alloc_id:
                raise NomadError(400, "must provide a valid alloc id")
            return await handler(request, alloc_id)
    raise NomadError(404, "Invalid method")


# --------------------------------------------------------------------------------------------
# The agent's log, in hclog's format, and /v1/agent/monitor
# --------------------------------------------------------------------------------------------

TRACE = 5
logging.addLevelName(TRACE, "TRACE")
# hclog levels; a monitor at level L shows entries at L and above.
HCLOG_TRACE, HCLOG_DEBUG, HCLOG_INFO, HCLOG_WARN, HCLOG_ERROR, HCLOG_OFF = range(1, 7)
MONITOR_LEVELS = {"trace": HCLOG_TRACE, "debug": HCLOG_DEBUG, "info": HCLOG_INFO, "warn": HCLOG_WARN,
                  "error": HCLOG_ERROR, "off": HCLOG_OFF}
_BRACKETS = {HCLOG_TRACE: "[TRACE]", HCLOG_DEBUG: "[DEBUG]", HCLOG_INFO: "[INFO] ", HCLOG_WARN: "[WARN] ",
             HCLOG_ERROR: "[ERROR]"}
# hclog module names for the sandbox's loggers that do not name one (extra={"nomad_module": ...}).
_MODULES = {"nomad_iis_sandbox.cluster": "client", "nomad_iis_sandbox.mgmt_api": "client.driver_mgr.nomad-driver-iis"}
MONITOR_BUFFER = 512
DROPPED_CHECK = 3.0


def _hclog_level(levelno: int) -> int:
    for limit, level in ((TRACE, HCLOG_TRACE), (logging.DEBUG, HCLOG_DEBUG), (logging.INFO, HCLOG_INFO),
                         (logging.WARNING, HCLOG_WARN)):
        if levelno <= limit:
            return level
    return HCLOG_ERROR


@dataclass
class LogEntry:
    created: float
    level: int
    module: str
    message: str
    kv: list[tuple[str, object]] = field(default_factory=list)
    location: str = ""

    @classmethod
    def from_record(cls, record: logging.LogRecord) -> "LogEntry":
        kv = list((getattr(record, "kv", None) or {}).items())
        if record.exc_info and record.exc_info[1] is not None:
            kv.append(("error", str(record.exc_info[1])))
        module = getattr(record, "nomad_module", None) or _MODULES.get(record.name, record.name.rsplit(".", 1)[-1])
        return cls(record.created, _hclog_level(record.levelno), module, record.getMessage(), kv,
                   f"{os.path.basename(record.pathname)}:{record.lineno}")


def _hclog_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoDuration):
        return go_duration(value)
    text = str(value)
    if text == "":
        return '""'
    if any(c.isspace() or c == '"' or not c.isprintable() for c in text):
        return go_quote_surrogateescape(text)
    return text


def format_plain(entry: LogEntry, include_location: bool) -> bytes:
    """hclog's text format: `2026-01-01T10:00:00.000Z [INFO]  http: message: k=v k="v w"`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.created)) + f".{int(entry.created * 1000) % 1000:03d}Z"
    parts = [stamp, " ", _BRACKETS[entry.level], " "]
    if include_location:
        parts.append(f"{entry.location}: ")
    if entry.module:
        parts.append(f"{entry.module}: ")
    parts.append(entry.message)
    if entry.kv:
        parts.append(":" + "".join(f" {key}={_hclog_value(value)}" for key, value in entry.kv))
    return ("".join(parts) + "\n").encode("utf-8", "replace")


def format_json(entry: LogEntry, include_location: bool) -> bytes:
    """hclog's JSON format: one object per line, keys sorted as Go's encoder sorts a map."""
    micros = int(entry.created * 1_000_000) % 1_000_000
    body = {"@level": _BRACKETS[entry.level].strip("[] ").lower(), "@message": entry.message,
            "@module": entry.module,
            "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.created)) + f".{micros:06d}Z"}
    if include_location:
        body["@caller"] = entry.location
    for key, value in entry.kv:
        body[key] = int(value) if isinstance(value, GoDuration) else value
    return (json.dumps(dict(sorted(body.items())), separators=(",", ":"), default=str) + "\n").encode("utf-8")


class Subscription:
    """One monitor's feed: formatted lines at its level, at most 512 waiting (later ones are
    dropped and counted, as Nomad's monitor does)."""

    def __init__(self, level: int, formatter, loop: asyncio.AbstractEventLoop):
        self.level = level
        self.formatter = formatter
        self.loop = loop
        self.thread = threading.get_ident()
        self.lines: collections.deque[bytes] = collections.deque()
        self.dropped = 0
        self.wakeup = asyncio.Event()

    def offer(self, entry: LogEntry) -> None:
        """Called from whatever thread logged; the queue is touched on the loop's thread only."""
        if entry.level < self.level:
            return
        line = self.formatter(entry)
        if threading.get_ident() == self.thread:
            self._push(line)
            return
        try:
            self.loop.call_soon_threadsafe(self._push, line)
        except RuntimeError:
            pass  # the loop is closed

    def _push(self, line: bytes) -> None:
        if len(self.lines) >= MONITOR_BUFFER:
            self.dropped += 1
        else:
            self.lines.append(line)
        self.wakeup.set()

    async def take(self) -> list[bytes]:
        try:
            await asyncio.wait_for(self.wakeup.wait(), DROPPED_CHECK)
        except asyncio.TimeoutError:
            pass
        self.wakeup.clear()
        lines = list(self.lines)
        self.lines.clear()
        if self.dropped:
            lines.append(f"[WARN] Monitor dropped {self.dropped} logs during monitor request\n".encode())
            self.dropped = 0
        return lines


class LogHub(logging.Handler):
    """The agent's log: keeps recent entries and fans new ones out to the open monitors."""

    def __init__(self, keep: int = 1000):
        super().__init__(level=TRACE)
        self.recent: collections.deque[LogEntry] = collections.deque(maxlen=keep)
        # Replaced, never mutated: emit() may run in any thread while the loop subscribes.
        self.subscriptions: tuple[Subscription, ...] = ()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = LogEntry.from_record(record)
            self.recent.append(entry)
            for subscription in self.subscriptions:
                subscription.offer(entry)
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.handleError(record)

    def subscribe(self, level: int, formatter) -> Subscription:
        subscription = Subscription(level, formatter, asyncio.get_running_loop())
        self.subscriptions = (*self.subscriptions, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions = tuple(s for s in self.subscriptions if s is not subscription)


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = format_plain(LogEntry.from_record(record), False).decode().rstrip("\n")
        return text + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


LOG_HUB = LogHub()


def install_log_hub() -> LogHub:
    """Route the sandbox's log through the hub (once per process). Warnings and errors also go to
    stderr, as the agent's own output, since a handler here silences Python's last-resort one."""
    root = logging.getLogger("nomad_iis_sandbox")
    if LOG_HUB not in root.handlers:
        root.setLevel(TRACE)
        root.addHandler(LOG_HUB)
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(_StderrFormatter())
        root.addHandler(stderr)
    return LOG_HUB


def _monitor_level(request: web.Request) -> int:
    text = request.query.get("log_level", "") or "INFO"
    level = MONITOR_LEVELS.get(text.strip().lower())
    if level is None:
        raise NomadError(400, f"Unknown log level: {text}")
    return level


async def agent_monitor(request: web.Request) -> web.StreamResponse:
    """AgentMonitor: parameter checks, then (in the RPC) the ACL check; then log lines framed in
    frames of at most 1 KiB with FileEvent "log", or raw with plain=true."""
    level = _monitor_level(request)
    log_json = _flag(request, "log_json", False, 400, "Unknown option for log json")
    plain = _flag(request, "plain", False, 400, "Unknown option for plain")
    include_location = _flag(request, "log_include_location", False, 400, "Unknown option for log include location")
    if request.query.get("node_id") and request.query.get("server_id"):
        raise NomadError(400, "Cannot target node and server simultaneously")
    authorize(request, agent="read")
    if request.query.get("node_id"):
        client_node(request, request.app[CLUSTER])
    formatter = format_json if log_json else format_plain
    subscription = LOG_HUB.subscribe(level, lambda entry: formatter(entry, include_location))

    async def produce(framer: StreamFramer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for line in await subscription.take():
                await framer.send("", "log", line, 0)

    try:
        sink = FrameSink(request, plain, "text/plain" if plain else "application/json")
        return await run_stream(request, sink, MONITOR_FRAME_SIZE, produce)
    finally:
        LOG_HUB.unsubscribe(subscription)


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


async def _stop_streams(app: web.Application) -> None:
    """On shutdown, end every open stream (aiohttp would otherwise wait for them)."""
    for sink in list(app[ACTIVE_STREAMS]):
        sink.stop.set()


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
    install_log_hub()
    app[ACTIVE_STREAMS] = set()
    app.on_shutdown.append(_stop_streams)
    # Innermost, so that it sees NomadErrors before the core turns them into responses.
    app.middlewares.append(log_requests)
    app.router.add_route("*", FS_PREFIX + "{rest:.*}", fs_dispatch)
    app.router.add_route("*", "/v1/agent/monitor", agent_monitor)
