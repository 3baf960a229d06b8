"""Screenshot and procdump routes of the Management API (IisTaskHandle.TakeScreenshotAsync and
TakeProcessDump, PlaywrightHelper; README, "Faithful quirks").

Upstream drives headless Chromium through Playwright and dumps w3wp with Sysinternals procdump.
The sandbox uses Playwright with a locally installed Chromium, and gdb's `gcore` (configured as the
node's procdump `binary_path`) standing in for `procdump -accepteula -ma`. Every precondition that
throws upstream is an empty 500 here too, with the reason logged."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
import time
import urllib.parse

from aiohttp import web

from .config import ProcdumpConfig

log = logging.getLogger(__name__)

CHROMIUM_ENV = "NOMAD_IIS_SANDBOX_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Headless on a server without a desktop session, and no network chatter of its own.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREEN = {"width": 1920, "height": 1080}
CHUNK = 1 << 20
# RFC 5987 attr-chars that need no percent-encoding in `filename*`.
ATTR_CHARS = "!#$&+-.^_`|~"


class Failure(Exception):
    """What throws upstream; the action answers an empty 500."""


def empty(status: int) -> web.Response:
    return web.Response(status=status)


def query_string(request: web.Request, name: str, default: str) -> str | None:
    """A `[FromQuery] string name = default` as MVC binds it: the key is case-insensitive, the first
    value wins, the default applies only when the key is absent, and an empty or blank value
    becomes null (ConvertEmptyStringToNull)."""
    for key, value in request.query.items():
        if key.lower() == name.lower():
            return value if value.strip() else None
    return default


def timestamp() -> str:
    """`DateTime.Now:yyyy-MM-dd-HH-mm-ss`: local server time."""
    return time.strftime("%Y-%m-%d-%H-%M-%S")


def attachment(filename: str) -> str:
    """Content-Disposition as ASP.NET Core's file results write it (SetHttpFileName)."""
    is_token = all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in filename)
    plain = filename if is_token else '"' + filename.replace("\\", "\\\\").replace('"', '\\"') + '"'
    encoded = urllib.parse.quote(filename, safe=ATTR_CHARS)
    return f"attachment; filename={plain}; filename*=UTF-8''{encoded}"


# --- screenshot -----------------------------------------------------------------------------------

async def screenshot(request: web.Request, call) -> web.StreamResponse:
    task = call.task
    path = query_string(request, "path", "/")
    if path is None:
        # `?path=` binds null and upstream's StartsWith('/') throws.
        log.warning("screenshot of %s/%s failed: path is null", task.alloc.id, task.name)
        return empty(500)
    if not path.startswith("/"):
        path = "/" + path
    port = task.http_port()
    if port is None:
        return empty(404)  # no http binding (an https-only site)
    url = f"http://localhost:{port}{path}"
    try:
        png = await take_screenshot(url)
    except Exception as exc:  # noqa: BLE001 - launch and navigation errors are a 500 upstream
        log.warning("screenshot of %s failed: %s", url, exc)
        return empty(500)
    log.info("screenshot of %s: %d bytes", url, len(png))
    name = f"screenshot_{task.alloc.id}_{task.name}_{timestamp()}.png"
    return web.Response(body=png, content_type="image/png", headers={"Content-Disposition": attachment(name)})


def chromium_executable() -> str:
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    # Upstream would run `playwright install --with-deps chromium` here, which needs the Internet.
    raise Failure(f"no Chromium found: set {CHROMIUM_ENV} or put one of {', '.join(CHROMIUM_NAMES)} on PATH")


async def take_screenshot(url: str) -> bytes:
    """One browser per request, closed afterwards, as PlaywrightHelper does."""
    from playwright.async_api import async_playwright  # imported late: only screenshots need it

    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=SCREEN, screen=SCREEN)
            await page.goto(url)
            return await page.screenshot(full_page=True, type="png")
        finally:
            await browser.close()


# --- procdump -------------------------------------------------------------------------------------

async def procdump(request: web.Request, call) -> web.StreamResponse:
    task = call.task
    pool_name = query_string(request, "appPoolName", "default")
    try:
        binary = procdump_binary(call.node.cfg.procdump or ProcdumpConfig())
        pid = worker_pid(task, pool_name)
        dump = await dump_process(binary, pid)
    except Failure as exc:
        log.warning("procdump of %s/%s pool %r failed: %s", task.alloc.id, task.name, pool_name, exc)
        return empty(500)
    try:
        log.info("procdump of %s/%s pool %r: worker %d, %d bytes", task.alloc.id, task.name, pool_name,
                 pid, os.path.getsize(dump))
        name = f"procdump_{task.alloc.id}_{task.name}_{timestamp()}.dmp"
        response = await stream_file(request, dump, name)
    finally:
        remove_quietly(dump)
    # Upstream returns Ok() after the file was streamed; setting the status of a started response
    # throws, so Kestrel closes the connection after the complete body.
    log.error("procdump of %s/%s: the response had already started; closing the connection",
              task.alloc.id, task.name)
    response.force_close()
    return response


def procdump_binary(cfg: ProcdumpConfig) -> str:
    """The checks of TakeProcessDump, in upstream's order (each throws: 500)."""
    if not cfg.binary_path:
        raise Failure("the procdump binary path is empty")
    resolved = resolve_binary(cfg.binary_path)
    if resolved is None:
        raise Failure(f"{cfg.binary_path} is not available.")
    if not cfg.accept_eula:
        raise Failure("the procdump EULA has not been accepted (procdump { accept_eula = true })")
    return resolved


def resolve_binary(path: str) -> str | None:
    """File.Exists, plus a PATH lookup so that the sandbox can name `gcore`."""
    if os.path.isfile(path):
        return os.path.abspath(path)
    if os.sep in path:
        return None
    return shutil.which(path)


def worker_pid(task, pool_name: str | None) -> int:
    if pool_name is None:  # `?appPoolName=` binds null: the dictionary lookup throws
        raise Failure("Value cannot be null. (Parameter 'key')")
    pool = task.pools.get(pool_name)
    if pool is None:
        raise Failure(f"The given key '{pool_name}' was not present in the dictionary.")
    if not pool.worker_running:
        # Pools are OnDemand by default: a started pool has no worker until its site gets a request.
        raise Failure("No w3wp process running.")
    return pool.worker.pid


async def dump_process(binary: str, pid: int) -> str:
    """`gcore -o <prefix> <pid>` writes `<prefix>.<pid>`; returns that file, or raises with the
    tool's output when it is missing or empty (upstream does not check the exit code either)."""
    fd, prefix = tempfile.mkstemp(suffix=".tmp")  # Path.GetTempFileName(), then a name next to it
    os.close(fd)
    dump = f"{prefix}.{pid}"
    try:
        output = await run_tool([binary, "-o", prefix, str(pid)])
        if not os.path.isfile(dump) or os.path.getsize(dump) == 0:
            raise Failure(f"no dump written by {binary}:\n{output}")
        return dump
    except BaseException:
        remove_quietly(dump)
        raise
    finally:
        remove_quietly(prefix)


async def run_tool(argv: list[str]) -> str:
    """Runs a dump tool to completion (its output is small); killed with the request."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise Failure(f"cannot run {argv[0]}: {exc}") from exc
    try:
        output, _stderr = await process.communicate()
    except asyncio.CancelledError:
        # gcore runs gdb as its child: end the whole process group.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await process.wait()
        raise
    return output.decode("utf-8", "replace")


async def stream_file(request: web.Request, path: str, filename: str) -> web.StreamResponse:
    """Results.File(path, "application/octet-stream", name): Content-Length, no ranges, the
    file read in chunks off the event loop so that memory stays flat whatever its size."""
    loop = asyncio.get_running_loop()
    with open(path, "rb") as handle:
        response = web.StreamResponse(headers={"Content-Disposition": attachment(filename)})
        response.content_type = "application/octet-stream"
        response.content_length = os.fstat(handle.fileno()).st_size
        await response.prepare(request)
        while chunk := await loop.run_in_executor(None, handle.read, CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
