"""File routes of the Management API: GET/PUT/PATCH/DELETE `/api/v1/allocs/{allocId}/{taskName}/fs/{path}`
as v0.20.1 implements them (IisTaskHandle.DownloadFileAsync / UploadFileAsync / DeleteFileAsync,
FileSystemHelper; README, "Faithful quirks"), upstream bugs included:

- `{path}` goes through SanitizeRelativePath: empty, rooted (`\\x`, `/x`, `C:`, `C:x`, UNC) or with a
  `..` segment → ArgumentException → 500 (GET included: the check comes first).
- GET: a file → 200 octet-stream with ASP.NET's Content-Disposition (`filename=` token or quoted, non-ASCII
  as `_`, plus `filename*=UTF-8''…`), Content-Length and Last-Modified, no range processing, but
  If-Modified-Since → 304 and If-Unmodified-Since → 412; a directory → a chunked zip of every file
  (no empty dirs, `/` names, fastest deflate, NTFS enumeration order) named `"<last segment>.zip"`,
  written into the header as it is, so a non-ASCII folder name makes Kestrel throw → 500; neither → 404.
- PUT/PATCH `?clean=`: PUT stops the pools and waits 500 ms; `clean` empties the folder (500 when it is
  missing); `Content-Type` exactly `application/zip` extracts (no overwrite: a collision is a 500 after the
  earlier entries were written; zip-slip → 500), anything else writes the body into the file without
  truncating it. PUT then starts every Stopped pool, whatever happened before. (A sandbox pool stays
  Stopping until its worker exited, where IIS reports Stopped at once and lets w3wp end in the
  background; so PUT waits for the stop to complete before starting, or the pool would stay stopped.)
- Bodies over 30,000,000 bytes (Kestrel's MaxRequestBodySize) → 413 when the body is first read: a
  Content-Length over the limit before any byte is taken, a chunked body once the running total passes
  it (earlier bytes were written). Clean, pool stop and restart have happened by then. A client's
  `Expect: 100-continue` is answered on that first read too (observe.body_chunks), not up front.
- DELETE: file or directory (recursively); missing → 500; `…/*` and `…/*.*` → 500, because upstream
  checks for those suffixes only after `/` became `\\`, so its clean-only branch is unreachable.

The sandbox runs on Linux; a real node on Windows/NTFS. Where that shows, this module imitates Windows:
- `\\` and `/` are both separators, and names resolve as Win32 path normalization does: `.` segments
  vanish, a single trailing period is dropped from each segment, trailing periods and spaces from the
  last one (`web.config.` is `web.config`).
- NTFS is case-insensitive (case-preserving): an existing file or directory is found whatever the case
  of the request (`LOCAL/Index.HTML` is `local/index.html`); new names keep the case they were sent with.
- Names Windows cannot create fail as they do there: characters `<>:"|?*`, control characters and the
  device names CON, PRN, AUX, NUL, COM1-9, LPT1-9 (also with an extension). Writing, cleaning or deleting
  such a path is a 500 (where Windows would throw); GET answers 404 (File.Exists/Directory.Exists are
  false). Differences kept on purpose: a real node treats `a.txt:s` as an NTFS alternate data stream and
  may write to a device (`NUL`) with 200; the sandbox refuses both (500), so nothing comes to rely on them.
- Sharing modes: while this API has a file open, conflicting opens fail as on Windows (an upload holds
  its file exclusively, a download shares reading only): e.g. DELETE or PUT of a file being downloaded
  is a 500. Files held by the sandbox's workers are not locked, unlike DLLs loaded by w3wp, so a hot
  PATCH that a real node refuses may succeed here. A recursive delete or a clean that meets an open file
  fails (500) before deleting anything, where Windows would have deleted the entries before it.
- Zip entries: names without the UTF-8 flag are read as UTF-8 (as .NET does, not cp437); characters
  Windows refuses are replaced by `_` (ArchivingUtils.SanitizeEntryFilePath); extracted files get the
  entry's time. Only stored and deflated entries can be read (deflate64, which .NET reads, is a 500 here;
  bzip2/lzma, which .NET refuses, are refused too).
- Limits: a name over 255 UTF-16 units fails as on NTFS; on Linux a name over 255 UTF-8 bytes fails too
  (long non-ASCII names that NTFS accepts).

Memory stays flat: bodies stream in chunks, a zip upload is spooled to an unlinked temp file (upstream
buffers it in memory), a folder download is zipped by a thread into a bounded pipe.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

from aiohttp import web

from . import mgmt_pool, observe

log = logging.getLogger(__name__)

MAX_REQUEST_BODY = 30_000_000  # Kestrel's default MaxRequestBodySize, never raised upstream
STOP_GRACE = 0.5  # UploadFileAsync's Task.Delay(500) after stopping the pools
CLEAN_RETRY_DELAY = 0.1  # CleanFolder sleeps 100 ms and tries once more on IOException
CHUNK = 256 * 1024
PIPE_SLOTS = 8  # chunks in flight between the zip thread and the response
ZIP_READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

INVALID_NAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')
DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
# RFC 7230 token characters, as HttpRuleParser.IsTokenChar.
TOKEN_CHARS = frozenset(chr(c) for c in range(33, 127)) - set('()<>@,;:\\"/[]?={}')


class InvalidName(OSError):
    """A name Windows refuses (the Win32 call fails with ERROR_INVALID_NAME)."""


class SharingViolation(OSError):
    """Another handle of this API conflicts with the requested access (ERROR_SHARING_VIOLATION)."""


class BodyTooLarge(Exception):
    """Kestrel's BadHttpRequestException for a body over MaxRequestBodySize (413)."""


class _PipeClosed(Exception):
    """The response side of a zip pipe is gone."""


# --- paths ------------------------------------------------------------------------------------------

def sanitize(path: str | None) -> str:
    """FileSystemHelper.SanitizeRelativePath: `/` → `\\`; empty, rooted or `..` segments throw (→ 500)."""
    if not path:
        raise ValueError("path is empty")
    path = path.replace("/", "\\")
    if path.startswith("\\") or (len(path) >= 2 and path[1] == ":" and path[0].isascii() and path[0].isalpha()):
        raise ValueError("Invalid path. Path must be relative to the task directory and not contain any path traversal.")
    if any(part == ".." for part in path.split("\\")):
        raise ValueError("Invalid path. Path must be relative to the task directory and not contain any path traversal.")
    return path


def file_name(sanitized: str) -> str:
    """Path.GetFileName of the sanitized path: what follows the last separator (may be empty)."""
    return sanitized.rsplit("\\", 1)[-1]


@dataclass(frozen=True)
class WinPath:
    """A path below the task dir as Windows resolves it. `trailing`: it ends with a separator, so it
    never names a file. `segments` is None when `..` climbs above the start."""
    segments: tuple[str, ...] | None
    trailing: bool

    @property
    def invalid(self) -> str | None:
        for segment in self.segments or ():
            if INVALID_NAME_CHARS.search(segment) or segment.split(".")[0].rstrip(" ").upper() in DEVICE_NAMES:
                return segment
            if len(segment.encode("utf-16-le", "surrogatepass")) > 2 * 255:
                return segment
        return None


def win_path(path: str) -> WinPath:
    """Win32 path normalization (GetFullPathName) of a relative path: separators `\\` and `/`, runs
    collapsed, `.` dropped, `..` removes the previous segment, one trailing period dropped from each
    segment, trailing periods and spaces from the last one."""
    parts = re.split(r"[\\/]+", path)
    trailing = len(parts) > 1 and parts[-1] == ""
    if trailing:
        parts.pop()
    segments: list[str] = []
    for index, part in enumerate(parts):
        if part in ("", "."):
            continue
        if part == "..":
            if not segments:
                return WinPath(None, trailing)
            segments.pop()
            continue
        if index == len(parts) - 1 and not trailing:
            part = part.rstrip(". ")
            trailing = trailing or not part  # `local\ ` is `local\`
        elif part.endswith(".") and not part.endswith(".."):
            part = part[:-1]
        if part:
            segments.append(part)
    return WinPath(tuple(segments), trailing)


def _fold(name: str) -> str:
    """NTFS compares names upper-cased character by character (its upcase table keeps lengths)."""
    return "".join(c if len(c.upper()) != 1 else c.upper() for c in name)


def _ntfs_key(name: str) -> bytes:
    """NTFS directory order: upper-cased UTF-16 code units."""
    return _fold(name).encode("utf-16-be", "surrogatepass")


def _existing_name(directory: str, name: str) -> str | None:
    """The entry of `directory` that NTFS would take for `name`: itself, or one that differs in case."""
    if os.path.lexists(os.path.join(directory, name)):
        return name
    key = _fold(name)
    try:
        with os.scandir(directory) as entries:
            return next((e.name for e in entries if _fold(e.name) == key), None)
    except OSError:
        return None


def host_path(task_dir: str, path: WinPath) -> str:
    """The file on this host for a Windows path below the task dir (blocking). Existing components are
    matched case-insensitively; InvalidName for a name Windows refuses."""
    bad = path.invalid
    if bad is not None:
        raise InvalidName(f"invalid file name: {bad!r}")
    current = task_dir
    segments = list(path.segments or ())
    for index, segment in enumerate(segments):
        found = _existing_name(current, segment)
        if found is None:
            return os.path.join(current, *segments[index:])
        current = os.path.join(current, found)
    return current


def _existing_file(task_dir: str, path: WinPath) -> str | None:
    """File.Exists: false (never an error) for invalid names and paths ending with a separator."""
    if path.trailing or path.invalid:
        return None
    found = host_path(task_dir, path)
    return found if os.path.isfile(found) else None


def _existing_dir(task_dir: str, path: WinPath) -> str | None:
    if path.invalid:
        return None
    found = host_path(task_dir, path)
    return found if os.path.isdir(found) else None


def _make_dirs(task_dir: str, path: WinPath) -> str:
    """Directory.CreateDirectory: creates missing components; a file in the way throws."""
    target = host_path(task_dir, path)
    os.makedirs(target, exist_ok=True)
    if not os.path.isdir(target):
        raise FileExistsError(f"not a directory: {target}")
    return target


# --- Windows sharing modes of this API's own handles --------------------------------------------------

class _Handles:
    """Files this API has open. Uploads open exclusively (FileShare.None), downloads share reading only,
    and none of them allows deleting, so conflicting requests fail as on Windows."""

    def __init__(self):
        self._lock = threading.Lock()
        self._readers: collections.Counter[str] = collections.Counter()
        self._writers: set[str] = set()

    def acquire(self, path: str, write: bool) -> "_Claim":
        key = os.path.normpath(path)
        with self._lock:
            if key in self._writers or (write and self._readers[key]):
                raise SharingViolation(f"the file is being used by another process: {path}")
            if write:
                self._writers.add(key)
            else:
                self._readers[key] += 1
        return _Claim(self, key, write)

    def release(self, key: str, write: bool) -> None:
        with self._lock:
            if write:
                self._writers.discard(key)
            else:
                self._readers[key] -= 1
                if not self._readers[key]:
                    del self._readers[key]

    @contextlib.contextmanager
    def open(self, path: str, write: bool):
        claim = self.acquire(path, write)
        try:
            yield
        finally:
            claim.release()

    def check_delete(self, path: str) -> None:
        """Deleting `path` (or a tree under it) fails while one of its files is open."""
        key = os.path.normpath(path)
        prefix = key + os.sep
        with self._lock:
            for open_path in (*self._writers, *self._readers):
                if open_path == key or open_path.startswith(prefix):
                    raise SharingViolation(f"the file is being used by another process: {open_path}")


@dataclass
class _Claim:
    handles: _Handles
    key: str
    write: bool

    def release(self) -> None:
        self.handles.release(self.key, self.write)


HANDLES = _Handles()


# --- request details ----------------------------------------------------------------------------------

def parse_clean(query) -> bool:
    """`[FromQuery] bool clean = false`: the first `clean` value (key case-insensitive), parsed as
    bool.Parse does (`true`/`false`, any case, surrounding blanks); anything else stays false."""
    value = next((v for k, v in query.items() if k.lower() == "clean"), None)
    return value is not None and re.sub(r"^[\s\x00]+|[\s\x00]+$", "", value).lower() == "true"


def _is_zip(request: web.Request) -> bool:
    # Exact string equality, as upstream: parameters or another zip type make it a raw file.
    return request.headers.get("Content-Type") == "application/zip"


async def request_body(request: web.Request):
    """The body in chunks with Kestrel's MaxRequestBodySize, checked when the body is first read."""
    if request.content_length is not None and request.content_length > MAX_REQUEST_BODY:
        raise BodyTooLarge(request.content_length)
    total = 0
    async with contextlib.aclosing(observe.body_chunks(request)) as chunks:
        async for chunk in chunks:
            total += len(chunk)
            if total > MAX_REQUEST_BODY:
                raise BodyTooLarge(total)
            yield chunk


def _ascii_header(value: str) -> str:
    """Kestrel refuses response header values outside printable ASCII (InvalidOperationException → 500)."""
    if any(not (0x20 <= ord(c) <= 0x7E or c == "\t") for c in value):
        raise ValueError(f"Invalid non-ASCII or control character in header: {value!r}")
    return value


def _mime_value(value: str) -> str:
    """ContentDispositionHeaderValue.EncodeAndQuoteMime for an ASCII value: quoted unless a token."""
    quoted = len(value) > 1 and value[0] == '"' and value[-1] == '"'
    if quoted:
        value = value[1:-1]
    if quoted or any(c not in TOKEN_CHARS for c in value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _rfc5987(value: str) -> str:
    """ContentDispositionHeaderValue.Encode5987: UTF-8, attr-chars kept, the rest %XX upper-case."""
    out = ["UTF-8''"]
    for char in value:
        if 0xD800 <= ord(char) <= 0xDFFF:
            char = "\ufffd"  # a lone surrogate is encoded as the replacement character
        if ord(char) > 0x7F:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8"))
        elif char not in TOKEN_CHARS or char in "*'%":
            out.append(f"%{ord(char):02X}")
        else:
            out.append(char)
    return "".join(out)


def attachment(name: str) -> str:
    """`attachment; filename=…; filename*=UTF-8''…` as FileResult writes it (SetHttpFileName: the
    plain name has each UTF-16 unit above 0x7F replaced by `_`)."""
    if not name:
        return "attachment"
    plain = "".join("__" if ord(c) > 0xFFFF else "_" if ord(c) > 0x7F else c for c in name)
    return f"attachment; filename={_mime_value(plain)}; filename*={_rfc5987(name)}"


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _header_date(value: str | None) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def precondition_status(request: web.Request, last_modified: float) -> int | None:
    """FileResultExecutorBase.GetPreconditionState without an ETag: 304, 412 or None (send the file)."""
    now = int(time.time())
    states = [0]  # Unspecified < NotModified < ShouldProcess < PreconditionFailed
    since = _header_date(request.headers.get("If-Modified-Since"))
    if since is not None and since <= now:
        states.append(2 if since < last_modified else 1)
    unmodified = _header_date(request.headers.get("If-Unmodified-Since"))
    if unmodified is not None and unmodified <= now:
        states.append(2 if unmodified >= last_modified else 3)
    return {1: 304, 3: 412}.get(max(states))


def _abort(request: web.Request, reason: str) -> ConnectionResetError:
    """A response that already started cannot become a 500: drop the connection, as Kestrel does."""
    if request.transport is not None:
        request.transport.abort()
    return ConnectionResetError(reason)


# --- GET ---------------------------------------------------------------------------------------------

async def download(request: web.Request, call) -> web.StreamResponse:
    sanitized = sanitize(call.path)
    path = win_path(sanitized)
    found_file = await asyncio.to_thread(_existing_file, call.task.dir, path)
    if found_file is not None:
        return await _send_file(request, found_file, file_name(sanitized))
    found_dir = await asyncio.to_thread(_existing_dir, call.task.dir, path)
    if found_dir is not None:
        return await _send_zip(request, found_dir, file_name(sanitized))
    return web.Response(status=404)


def _open_for_read(path: str):
    """The file, its stat and its claim (FileShare.ReadWrite: refused only while an upload writes it)."""
    claim = HANDLES.acquire(path, write=False)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
        return handle, os.fstat(handle.fileno()), claim
    except BaseException:
        claim.release()
        raise


def _close(handle, claim: _Claim) -> None:
    handle.close()
    claim.release()


async def _send_file(request: web.Request, path: str, name: str) -> web.StreamResponse:
    """PhysicalFileResult: Content-Length, Last-Modified, preconditions, no range processing."""
    handle, stat, claim = await asyncio.to_thread(_open_for_read, path)
    try:
        last_modified = int(stat.st_mtime)
        status = precondition_status(request, last_modified)
        if status is not None:
            return web.Response(status=status, headers={"Last-Modified": _http_date(last_modified)})
        response = web.StreamResponse(headers={
            "Content-Type": "application/octet-stream",
            "Last-Modified": _http_date(last_modified),
            "Content-Disposition": _ascii_header(attachment(name))})
        response.content_length = stat.st_size
        await response.prepare(request)
        remaining = stat.st_size
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK, remaining))
            if not chunk:
                raise _abort(request, f"{path} shrank while it was sent")
            await response.write(chunk)
            remaining -= len(chunk)
        # Closed before the end of the body goes out: a client that has every byte may act on the
        # file at once (Kestrel disposes the stream as the last write completes).
        _close(handle, claim)
        await response.write_eof()
        return response
    finally:
        if not handle.closed:
            await asyncio.to_thread(_close, handle, claim)


def zip_members(directory: str):
    """(path, entry name) of every file below `directory` in the order Directory.EnumerateFiles(…,
    AllDirectories) yields them on NTFS: a directory's files by name, its subdirectories queued.
    Linked directories are followed, each directory once (a link loop would never end)."""
    pending = collections.deque([""])
    seen = {_identity(directory)}
    while pending:
        relative = pending.popleft()
        with os.scandir(os.path.join(directory, relative)) as scan:
            entries = sorted(scan, key=lambda e: _ntfs_key(e.name))
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir():
                if _identity(entry.path) not in seen:
                    seen.add(_identity(entry.path))
                    pending.append(name)
            elif entry.is_file():
                yield entry.path, name


def _identity(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


class ZipPipe:
    """A non-seekable file that zipfile writes to in a thread; the event loop takes whole chunks.
    At most PIPE_SLOTS chunks wait, so a slow client slows the zip down instead of filling memory."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue()
        self._slots = threading.Semaphore(PIPE_SLOTS)
        self._buffer = bytearray()
        self._started = False
        self._finished = False
        self.cancelled = threading.Event()

    # Thread side.
    def write(self, data) -> int:
        if self._finished:
            return len(data)
        self._buffer += data
        if len(self._buffer) >= CHUNK or not self._started:  # the first bytes start the response
            self._started = True
            self._push(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        pass

    def _push(self, item) -> None:
        while not self._slots.acquire(timeout=0.2):
            if self.cancelled.is_set():
                raise _PipeClosed()
        if self.cancelled.is_set():
            raise _PipeClosed()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def finish(self, error: BaseException | None = None) -> None:
        """End of the stream; with `error` the reader raises it instead of taking the rest."""
        if self._finished:
            return
        self._finished = True
        with contextlib.suppress(_PipeClosed, RuntimeError):
            if error is None and self._buffer:
                self._push(bytes(self._buffer))
            self._loop.call_soon_threadsafe(self._queue.put_nowait, error or StopAsyncIteration())

    # Loop side.
    async def chunks(self):
        while True:
            item = await self._queue.get()
            if isinstance(item, StopAsyncIteration):
                return
            if isinstance(item, BaseException):
                raise item
            self._slots.release()
            yield item


def _zip_add(archive: zipfile.ZipFile, path: str, name: str) -> None:
    with HANDLES.open(path, write=False), open(path, "rb") as source:
        info = zipfile.ZipInfo.from_file(path, name, strict_timestamps=False)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = 1  # CompressionLevel.Fastest  # noqa: SLF001 - no public per-entry level in 3.11
        with archive.open(info, "w") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)


def write_zip(pipe: ZipPipe, directory: str) -> None:
    """Thread body: the zip of `directory` into the pipe (entries with data descriptors, zip64 as needed)."""
    try:
        archive = zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED, compresslevel=1, strict_timestamps=False)
        for path, name in zip_members(directory):
            _zip_add(archive, path, name)
        archive.close()
        pipe.finish()
    except _PipeClosed:
        pipe.finish()
    except BaseException as exc:  # noqa: BLE001 - handed to the response, which aborts
        pipe.finish(exc)


async def _send_zip(request: web.Request, directory: str, name: str) -> web.StreamResponse:
    """ZipDirectoryResult: application/zip, chunked, `attachment; filename="<name>.zip"`. The response
    starts with the first zip byte, as in ASP.NET: a failure before it (e.g. the first file cannot be
    opened) is still a 500; after it, only the connection can tell."""
    disposition = _ascii_header(f'attachment; filename="{name}.zip"')
    response = web.StreamResponse(headers={"Content-Type": "application/zip", "Content-Disposition": disposition})
    pipe = ZipPipe(asyncio.get_running_loop())
    threading.Thread(target=write_zip, args=(pipe, directory), name="zip-download", daemon=True).start()
    chunks = pipe.chunks()
    try:
        first = await anext(chunks, b"")
        await response.prepare(request)
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    except ConnectionResetError:
        raise
    except Exception as exc:  # noqa: BLE001
        if not response.prepared:
            raise
        log.warning("zip download of %s failed: %r", directory, exc)
        raise _abort(request, f"zip download failed: {exc!r}") from exc
    finally:
        pipe.cancelled.set()
    await response.write_eof()
    return response


# --- PUT / PATCH ---------------------------------------------------------------------------------------

async def upload_cold(request: web.Request, call) -> web.Response:
    return await _upload(request, call, hot=False)


async def upload_hot(request: web.Request, call) -> web.Response:
    return await _upload(request, call, hot=True)


async def _upload(request: web.Request, call, hot: bool) -> web.Response:
    """UploadFileAsync: sanitize; PUT stops the pools and waits; clean; extract or write; PUT restarts."""
    sanitized = sanitize(call.path)
    path = win_path(sanitized)
    task = call.task
    if not hot:
        mgmt_pool.stop_pools(task)
        await asyncio.sleep(STOP_GRACE)
    try:
        if parse_clean(request.query):
            await asyncio.to_thread(clean_folder, task.dir, path)
        if _is_zip(request):
            await _upload_zip(request, call.cluster.state_dir, task.dir, path)
        else:
            await _upload_raw(request, task.dir, path)
    except BodyTooLarge:
        response = web.Response(status=413)
        response.force_close()  # Kestrel ends the connection after a rejected body
        return response
    finally:
        if not hot:
            await asyncio.shield(asyncio.ensure_future(_restart_pools(task)))
    return web.Response()


async def _restart_pools(task) -> None:
    """StartAppPoolAsync in UploadFileAsync's finally: every Stopped pool is started. A sandbox pool
    stays Stopping until its worker has exited, where IIS reports Stopped at once and lets w3wp finish
    in the background, so wait for the stop to complete first."""
    for pool in task.pools.values():
        with contextlib.suppress(Exception):
            await pool.settle()
    await mgmt_pool.start_pools(task)


def clean_folder(task_dir: str, path: WinPath) -> None:
    """FileSystemHelper.CleanFolder: files, then subdirectories; the folder stays. Retried once."""
    try:
        _clean_once(task_dir, path)
    except OSError:
        time.sleep(CLEAN_RETRY_DELAY)
        _clean_once(task_dir, path)


def _clean_once(task_dir: str, path: WinPath) -> None:
    folder = host_path(task_dir, path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"could not find a part of the path: {folder}")
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda e: _ntfs_key(e.name))
    HANDLES.check_delete(folder)
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            os.remove(entry.path)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)


def _open_for_write(task_dir: str, path: WinPath):
    """File.OpenWrite: OpenOrCreate without truncation, FileShare.None. A missing parent directory or a
    directory at the path throws."""
    target = host_path(task_dir, path)
    if path.trailing:
        raise IsADirectoryError(f"not a file name: {target}")
    claim = HANDLES.acquire(target, write=True)
    try:
        return os.open(target, os.O_WRONLY | os.O_CREAT, 0o666), claim
    except BaseException:
        claim.release()
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _close_fd(fd: int, claim: _Claim) -> None:
    os.close(fd)
    claim.release()


async def _upload_raw(request: web.Request, task_dir: str, path: WinPath) -> None:
    # The file is opened before the body is read: a body rejected as too large leaves it created.
    fd, claim = await asyncio.to_thread(_open_for_write, task_dir, path)
    try:
        async for chunk in request_body(request):
            await asyncio.to_thread(_write_all, fd, chunk)
    finally:
        await asyncio.to_thread(_close_fd, fd, claim)


async def _upload_zip(request: web.Request, spool_dir: str, task_dir: str, path: WinPath) -> None:
    """new ZipArchive(body) reads the whole body first, then ExtractToDirectory(overwriteFiles: false)."""
    spool = await asyncio.to_thread(tempfile.TemporaryFile, dir=spool_dir)
    try:
        async for chunk in request_body(request):
            await asyncio.to_thread(spool.write, chunk)
        await asyncio.to_thread(extract_zip, spool, task_dir, path)
    finally:
        await asyncio.to_thread(spool.close)


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as .NET reads it (UTF-8 also without the UTF-8 flag), with the characters
    Windows refuses replaced by `_` (ArchivingUtils.SanitizeEntryFilePath)."""
    name = info.orig_filename
    if not info.flag_bits & 0x800:
        name = name.encode("cp437").decode("utf-8", "replace")
    return INVALID_NAME_CHARS.sub("_", name)


def _entry_target(base: WinPath, name: str) -> WinPath:
    """Where an entry lands (GetFullPath(Combine(dest + `\\`, name))); IOException when outside dest."""
    outside = IOError(f"Extracting Zip entry would have resulted in a file outside the specified destination directory: {name}")
    if name.startswith(("\\", "/")):  # rooted: Path.Combine takes it as it is
        raise outside
    # The leading separator keeps an empty name a directory (`dest\` + ``) when dest is the task dir.
    target = win_path("\\".join(("", *(base.segments or ()), name)))
    if target.segments is None:
        raise outside
    depth = len(base.segments or ())
    inside = [_fold(s) for s in target.segments[:depth]] == [_fold(s) for s in base.segments or ()]
    if not inside or (len(target.segments) == depth and not target.trailing):
        raise outside
    return target


def extract_zip(spool, task_dir: str, base: WinPath) -> None:
    """ExtractToDirectory(dest, overwriteFiles: false), entry by entry in archive order."""
    spool.seek(0)
    with zipfile.ZipFile(spool) as archive:
        for info in archive.infolist():
            _make_dirs(task_dir, base)  # CreateDirectory(dest) for every entry
            target = _entry_target(base, _entry_name(info))
            if target.trailing or not target.segments:
                if info.file_size:
                    raise IOError(f"Zip entry name ends in directory separator character but contains data: {info.filename}")
                _make_dirs(task_dir, target)
                continue
            _make_dirs(task_dir, WinPath(target.segments[:-1], True))
            _extract_entry(archive, info, host_path(task_dir, target))


def _extract_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: str) -> None:
    """ExtractToFile(overwrite: false): FileMode.CreateNew, then the entry's time as LastWriteTime."""
    with HANDLES.open(destination, write=True):
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            # The file exists before the entry is opened: an unreadable entry leaves it empty.
            if info.compress_type not in ZIP_READABLE:
                raise IOError(f"unsupported compression method {info.compress_type}: {info.filename}")
            with archive.open(info) as source:
                while chunk := source.read(CHUNK):
                    _write_all(fd, chunk)
        finally:
            os.close(fd)
    with contextlib.suppress(ValueError, OverflowError, OSError):
        stamp = datetime(*info.date_time).timestamp()  # entry times are local times
        os.utime(destination, (stamp, stamp))


# --- DELETE --------------------------------------------------------------------------------------------

async def delete(request: web.Request, call) -> web.Response:
    r"""DeleteFileAsync. Its clean-only branch for `/*` and `/*.*` is left out: it checks the sanitized
    path, which has no `/` left, so it never runs; `local\*` goes to Directory.Delete, which throws
    (an invalid name here) → 500."""
    sanitized = sanitize(call.path)
    await asyncio.to_thread(delete_path, call.task.dir, win_path(sanitized))
    return web.Response()


def delete_path(task_dir: str, path: WinPath) -> None:
    """File.Delete for a file, else Directory.Delete(recursive: true), which throws when it is missing."""
    found = _existing_file(task_dir, path)
    if found is not None:
        HANDLES.check_delete(found)
        os.remove(found)
        return
    target = host_path(task_dir, path)
    if os.path.islink(target):  # a junction: Directory.Delete removes the link, not its target
        os.remove(target)
        return
    if not os.path.isdir(target):
        raise FileNotFoundError(f"could not find a part of the path: {target}")
    HANDLES.check_delete(target)
    shutil.rmtree(target)
