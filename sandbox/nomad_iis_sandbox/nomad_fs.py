"""Nomad's client file-system endpoints (`/v1/client/fs/*`): ls, stat, cat, readat, stream and the
task logs.

Errors are the ones a Nomad client agent gives, in the order it checks them: the HTTP layer's
parameter checks (`command/agent/fs_endpoint.go`), the alloc lookup, the ACL check, then the path
checks of `client/allocdir` and the stream itself (`client/fs_endpoint.go`). Streams run through
nomad_frames."""

from __future__ import annotations

import asyncio
import bisect
import os
import posixpath
import stat

from aiohttp import web

from .go_compat import (MAX_INT64, detect_content_type, go_file_mode, go_join, go_parse_int, go_path_error,
                        go_quote_surrogateescape, rfc3339nano)
from .nomad_common import CLUSTER, NomadError, authorize, client_alloc, json_reply, query_flag
from .nomad_frames import STREAM_FRAME_SIZE, FrameSink, StreamFramer, run_stream, wait_any

FS_PREFIX = "/v1/client/fs/"
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
# Following a file: allocdir.ChangeEvents and FileSystem.streamFile
# --------------------------------------------------------------------------------------------

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


def _origin(request: web.Request) -> str:
    origin = request.query.get("origin", "") or "start"
    if origin not in ("start", "end"):
        raise NomadError(400, "origin must be start or end")
    return origin


def _fs_alloc(request: web.Request, alloc_id: str, capabilities: tuple[str, ...] = ("read-fs",),
              streaming: bool = False):
    """The alloc lookup (client_alloc: 400, 404 or 500), then the ACL check in the alloc's namespace. The stream
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
    follow = query_flag(request, "follow", True, 500, "failed to parse follow field to boolean")
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
    follow = query_flag(request, "follow", False, 400, "failed to parse follow field to boolean")
    plain = query_flag(request, "plain", False, 400, "failed to parse plain field to boolean")
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


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
    app.router.add_route("*", FS_PREFIX + "{rest:.*}", fs_dispatch)
