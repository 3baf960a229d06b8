"""The running cluster: nodes, allocations with Nomad's directory layout, and IIS app pools whose
worker processes are real processes reached through per-binding listeners (the sandbox's http.sys)."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from importlib import resources

import aiohttp
from aiohttp import web

from .config import IIS_NAME_MAX, ClusterConfig, ExtraPool, JobConfig, GroupConfig, NodeConfig, PoolConfig, TaskConfig
from .go_compat import rfc3339nano
from .node_driver import DriverBuild, build_from_config

log = logging.getLogger(__name__)
IIS_PREFIX = "nomad-"
TASK_SUBDIRS = ("local", "secrets", "tmp", "private")
ALLOC_SUBDIRS = ("data", "logs", "tmp")
# Characters IIS refuses in pool and site names (ApplicationPoolCollection.InvalidApplicationPoolNameCharacters,
# SiteCollection.InvalidSiteNameCharacters), replaced by `_` as upstream does, spaces included.
INVALID_IIS_NAME = re.compile(r'[\\/"|<>:*?\]\[+=;,@&\s]')
SERVICE_UNAVAILABLE = "<h2>Service Unavailable</h2><hr><p>HTTP Error 503. The service is unavailable.</p>"
# What http.sys answers for a URL no started site has registered (a stopped or deleted site).
HTTPAPI_NOT_FOUND = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
                     '<HTML><HEAD><TITLE>Not Found</TITLE>\r\n<META HTTP-EQUIV="Content-Type" Content="text/html; '
                     'charset=us-ascii"></HEAD>\r\n<BODY><h2>Not Found</h2>\r\n<hr><p>HTTP Error 404. The requested '
                     'resource is not found.</p>\r\n</BODY></HTML>\r\n')
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "host", "content-length"}


def now_ns() -> int:
    return time.time_ns()


def _set_pdeathsig() -> None:
    """Child side of fork: die with the sandbox even if it is killed with SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class PoolError(Exception):
    """An IIS operation that throws upstream (and so becomes a 500 there)."""


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid


class IisPool:
    """An IIS application pool as IIS keeps it (appcmd's APPPOOL object). This base is a pool the
    driver did not make (DefaultAppPool, a crashed driver's leftover, an admin's own): no application
    of the sandbox routes to it, so it never gets a worker process."""

    def __init__(self, name: str, state: str = "Stopped", auto_start: bool = True, runtime: str = "v4.0",
                 pipeline: str = "Integrated", start_mode: str = "OnDemand"):
        self.iis_name = name
        self.state = state
        self.auto_start = auto_start
        self.runtime = runtime
        self.pipeline = pipeline
        self.start_mode = start_mode
        self.deleted = False

    def worker_pids(self) -> list[int]:
        return []

    async def start(self) -> None:
        """ApplicationPool.Start(): returns with the pool Started."""
        if self.state == "Stopped":
            self.state = "Started"

    async def stop(self) -> None:
        if self.state == "Started":
            self.state = "Stopped"

    async def recycle(self) -> None:
        if self.state != "Started":
            raise PoolError(f"cannot recycle application pool {self.iis_name} in state {self.state}")

    async def settle(self) -> None:
        """Wait until a Stopping pool has stopped."""

    async def delete(self) -> None:
        await self.stop()
        await self.settle()
        self.deleted = True


class AppPool(IisPool):
    """One IIS application pool of a task, with real worker processes. `state` is IIS's ObjectState."""

    def __init__(self, task: "Task", cfg: PoolConfig):
        super().__init__("", start_mode=cfg.start_mode)
        self.task = task
        self.cfg = cfg
        self.name = cfg.name
        self.iis_name = self.driver_name()
        self.worker: Worker | None = None
        self._retiring: set[asyncio.subprocess.Process] = set()
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task | None = None

    def driver_name(self) -> str:
        """BuildAppPoolName: `nomad-{allocId}-{task}`, with `-{pool}` unless the pool is `default`."""
        base = f"{IIS_PREFIX}{self.task.alloc.id}-{self.task.name}"
        name = base if self.name == "default" else f"{base}-{self.name}"
        return INVALID_IIS_NAME.sub("_", name)

    def worker_pids(self) -> list[int]:
        """The pool's running w3wp processes, a retiring one (overlapped recycle) included."""
        processes = ([self.worker.process] if self.worker_running else []) + sorted(
            (p for p in self._retiring if p.returncode is None), key=lambda p: p.pid)
        return [p.pid for p in processes]

    @property
    def worker_running(self) -> bool:
        return self.worker is not None and self.worker.process.returncode is None

    def status(self) -> dict:
        return {"name": self.name, "status": self.state, "isWorkerProcessRunning": self.worker_running}

    def applications(self) -> dict[str, str]:
        return {a.alias: os.path.join(self.task.dir, *re.split(r"[\\/]", a.path))
                for a in self.task.cfg.applications if a.application_pool == self.name}

    async def _spawn(self) -> Worker:
        cmd = [sys.executable, "-m", "nomad_iis_sandbox.worker",
               "--apps", json.dumps(self.applications()),
               "--log-dir", self.task.alloc.logs_dir, "--task", self.task.name, "--pool", self.name,
               "--shutdown-delay", str(self.cfg.shutdown_delay), "--ballast-mb", str(self.cfg.ballast_mb)]
        env = dict(os.environ, TMP=self.task.tmp_dir, TEMP=self.task.tmp_dir,
                   APP_POOL_ID=self.iis_name, PYTHONPATH=os.pathsep.join(filter(None, [
                       os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       os.environ.get("PYTHONPATH")])))
        process = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
            stderr=None, env=env, preexec_fn=_set_pdeathsig, start_new_session=True)
        self.task.alloc.cluster.children.add(process)
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        if not line.startswith(b"READY "):
            process.kill()
            raise PoolError(f"worker of pool {self.iis_name} failed to start")
        return Worker(process, int(line.split()[1]))

    async def _retire(self, process: asyncio.subprocess.Process) -> None:
        """Graceful shutdown as IIS does it, killed after shutdownTimeLimit."""
        self._retiring.add(process)
        try:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=self.cfg.shutdown_delay + 10)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        finally:
            self._retiring.discard(process)
            self.task.alloc.cluster.children.discard(process)

    async def ensure_worker(self) -> Worker | None:
        """The worker that serves a request, started on demand as IIS's WAS does."""
        async with self._lock:
            if self.state != "Started" or self.deleted:
                return None
            if not self.worker_running:
                self.worker = await self._spawn()
            return self.worker

    async def start(self) -> None:
        """ApplicationPool.Start() (and `appcmd start apppool`): returns with the pool Started. An
        OnDemand pool gets its worker with the first request; an AlwaysRunning one has it at once."""
        if self.state != "Stopped" or self.deleted:
            return
        async with self._lock:
            self.state = "Started"
            if self.cfg.start_mode == "AlwaysRunning" and not self.worker_running:
                try:
                    self.worker = await self._spawn()
                except Exception:  # noqa: BLE001 - a pool whose worker cannot start is stopped by WAS
                    self.state = "Stopped"

    async def stop(self) -> None:
        """ApplicationPool.Stop(): returns at once; Stopping until the worker has exited."""
        self.stop_now()

    def stop_now(self) -> None:
        if self.state != "Started":
            return
        self.state = "Stopping"
        self._pending = asyncio.ensure_future(self._finish_stop())

    async def _finish_stop(self) -> None:
        async with self._lock:
            worker, self.worker = self.worker, None
            if worker is not None:
                await self._retire(worker.process)
            else:
                await asyncio.sleep(0.05)
            self.state = "Stopped"

    async def recycle(self) -> None:
        """ApplicationPool.Recycle(): overlapped, the new worker starts before the old one stops."""
        if self.state != "Started":
            raise PoolError(f"cannot recycle application pool {self.iis_name} in state {self.state}")
        async with self._lock:
            old, self.worker = self.worker, None
            if old is not None and old.process.returncode is None:
                self.worker = await self._spawn()
                asyncio.ensure_future(self._retire(old.process))

    async def settle(self) -> None:
        if self._pending is not None:
            await asyncio.shield(self._pending)

    async def shutdown(self) -> None:
        self.state = "Stopped"
        worker, self.worker = self.worker, None
        processes = [w for w in [worker.process if worker else None, *self._retiring] if w]
        for process in processes:
            if process.returncode is None:
                process.kill()
        for process in processes:
            await process.wait()


class Task:
    def __init__(self, alloc: "Alloc", cfg: TaskConfig):
        self.alloc = alloc
        self.cfg = cfg
        self.name = cfg.name
        self.dir = os.path.join(alloc.dir, cfg.name)
        self.tmp_dir = os.path.join(self.dir, "tmp")
        self.state = "pending"
        self.started_at: str | None = None
        self.finished_at: str | None = None
        self.events: list[dict] = []
        self.pools: dict[str, AppPool] = {p.name: AppPool(self, p) for p in cfg.pools}
        self.ports: dict[str, int] = {}  # port label -> port
        self._runners: list[web.AppRunner] = []

    @property
    def is_iis(self) -> bool:
        return self.cfg.driver == "iis"

    @property
    def site_name(self) -> str:
        return INVALID_IIS_NAME.sub("_", f"{IIS_PREFIX}{self.alloc.id}-{self.name}")

    def physical_path(self, app_path: str) -> str:
        """An application's physicalPath as the driver sets it: Path.Combine(task dir, path)."""
        return self.alloc.node.windows_path(self.dir) + "\\" + app_path.replace("/", "\\")

    def register_iis(self) -> None:
        """The driver's IIS objects of this task: its pools and its site, with one application per
        `application` block (alias -> pool), in the node's IIS."""
        iis = self.alloc.node.iis
        for pool in self.pools.values():
            iis.pools[pool.iis_name.lower()] = pool
        bindings = [f"{b.type}/*:{self.ports.get(b.port, b.static or 0)}:{b.hostname}" for b in self.cfg.bindings]
        site = IisSite(self.site_name, iis.next_site_id(), bindings, "Started")
        for app in self.cfg.applications:
            pool = self.pools.get(app.application_pool)
            site.apps.append(IisApp("/" + app.alias, pool.iis_name if pool else app.application_pool,
                                    self.physical_path(app.path)))
        iis.sites[site.name.lower()] = site

    def unregister_iis(self) -> None:
        """What the driver's DestroyTask removes: the task's pools and site."""
        iis = self.alloc.node.iis
        for pool in self.pools.values():
            if iis.pools.get(pool.iis_name.lower()) is pool:
                del iis.pools[pool.iis_name.lower()]
        iis.sites.pop(self.site_name.lower(), None)

    def event(self, type_: str, message: str = "", **details) -> None:
        self.events.append({"Type": type_, "Time": now_ns(), "Message": message,
                            "DisplayMessage": message or type_, "Details": details or {},
                            "DriverMessage": message if type_ == "Driver" else "",
                            "ExitCode": 0, "Signal": 0, "DriverError": "", "FailsTask": False})
        self.alloc.cluster.bump()
        # Nomad's task runner logs every task event at INFO; /v1/agent/monitor shows it.
        log.info("Task event", extra={"nomad_module": "client.alloc_runner.task_runner", "kv": {
            "alloc_id": self.alloc.id, "task": self.name, "type": type_, "msg": message or type_, "failed": False}})

    def http_port(self) -> int | None:
        for binding in self.cfg.bindings:
            if binding.type == "http":
                return self.ports.get(binding.port)
        return None

    def app_url(self) -> str | None:
        port = self.http_port()
        return f"http://127.0.0.1:{port}/" if port else None

    def pool_for(self, url_path: str) -> AppPool | None:
        """The pool of the application with the longest alias that prefixes the path, as IIS routes."""
        parts = [p.lower() for p in url_path.split("/") if p]
        best = None
        for app in self.cfg.applications:
            alias = [p.lower() for p in app.alias.split("/") if p]
            if parts[:len(alias)] == alias and (best is None or len(alias) > best[0]):
                best = (len(alias), app.application_pool)
        return self.pools.get(best[1]) if best else None

    async def start(self) -> None:
        for sub in TASK_SUBDIRS:
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.event("Received", "Task received by client")
        self.event("Task Setup", "Building Task Directory")
        self._start_logmon()
        if self.is_iis:
            for name in (self.site_name, *(p.iis_name for p in self.pools.values())):
                if len(name) > IIS_NAME_MAX:
                    raise ValueError(f"The AppPool name is too long: {name}")
            placeholder = resources.files("nomad_iis_sandbox") / "data" / "iisstart.htm"
            for app in self.cfg.applications:
                physical = os.path.join(self.dir, *re.split(r"[\\/]", app.path))
                os.makedirs(physical, exist_ok=True)
                if not os.listdir(physical):  # upstream copies placeholder_app_path into an empty path
                    with open(os.path.join(physical, "iisstart.htm"), "wb") as out:
                        out.write(placeholder.read_bytes())
            for binding in self.cfg.bindings:
                await self._listen(binding)
            self.register_iis()
            for pool in self.pools.values():
                await pool.start()
        self.state = "running"
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
        self.event("Started", "Task started by client")

    def _start_logmon(self) -> None:
        """Nomad's logmon opens (creating it when needed) the newest `<task>.<kind>.<n>` of each
        stream before the task starts (FileRotator.lastFile), so an idle task has empty logs."""
        for kind in ("stdout", "stderr"):
            prefix = f"{self.name}.{kind}."
            indexes = [int(n[len(prefix):]) for n in os.listdir(self.alloc.logs_dir)
                       if n.startswith(prefix) and n[len(prefix):].isdigit()]
            with open(os.path.join(self.alloc.logs_dir, f"{prefix}{max(indexes, default=0)}"), "ab"):
                pass

    async def _listen(self, binding) -> None:
        port = binding.static or 0
        if binding.type != "http":
            # https bindings are recorded with a port but not served; upstream screenshots skip them.
            self.ports[binding.port] = port or _free_port()
            return
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        self._runners.append(runner)
        self.ports[binding.port] = site._server.sockets[0].getsockname()[1]

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        """http.sys: 404 when the site is stopped or gone, 503 while the pool is not started (or gone),
        otherwise hand the request to its worker."""
        site = self.alloc.node.iis.sites.get(self.site_name.lower())
        if site is None or site.state != "Started":
            return web.Response(status=404, text=HTTPAPI_NOT_FOUND, content_type="text/html", charset="us-ascii",
                                headers={"Server": "Microsoft-HTTPAPI/2.0"})
        pool = self.pool_for(request.path)
        worker = await pool.ensure_worker() if pool else None
        if worker is None:
            return web.Response(status=503, content_type="text/html", text=SERVICE_UNAVAILABLE)
        session = self.alloc.cluster.http_session
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers["Host"] = request.host
        try:
            async with session.request(request.method, f"http://127.0.0.1:{worker.port}{request.rel_url}",
                                       headers=headers, data=request.content if request.can_read_body else None,
                                       allow_redirects=False) as upstream:
                response = web.StreamResponse(status=upstream.status, headers={
                    k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS})
                if upstream.content_length is not None:
                    response.content_length = upstream.content_length
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(65536):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientError:
            return web.Response(status=503, content_type="text/html", text=SERVICE_UNAVAILABLE)

    async def shutdown(self, leave_iis: bool = False) -> None:
        """Stop the task; the driver removes its IIS objects unless it crashed (`leave_iis`): then
        its pools and site stay behind, stopped, as dangling objects."""
        for pool in self.pools.values():
            await pool.shutdown()
        if self.is_iis and not leave_iis:
            self.unregister_iis()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Alloc:
    def __init__(self, cluster: "Cluster", job: JobConfig, group: GroupConfig, index: int, node: "Node"):
        self.cluster = cluster
        self.id = str(uuid.uuid4())
        self.eval_id = str(uuid.uuid4())
        self.job = job
        self.group = group
        self.index = index
        self.node = node
        self.namespace = job.namespace
        self.dir = os.path.join(node.data_dir, "alloc", self.id)
        self.logs_dir = os.path.join(self.dir, "alloc", "logs")
        self.tasks: dict[str, Task] = {t.name: Task(self, t) for t in group.tasks}
        self.client_status = "pending"
        self.desired_status = "run"
        self.create_index = cluster.bump()
        self.modify_index = self.create_index
        self.create_time = now_ns()
        self.modify_time = self.create_time
        # The client garbage-collected it: runner destroyed, directory removed; the servers still know it.
        self.collected = False
        # Set by a node drain (nomad_drain.py): DesiredTransition.Migrate, the replacement and its predecessor.
        self.desired_description = ""
        self.migrate: bool | None = None
        self.next_allocation = ""
        self.previous_allocation = ""

    @property
    def name(self) -> str:
        return f"{self.job.id}.{self.group.name}[{self.index}]"

    async def start(self) -> None:
        for sub in ALLOC_SUBDIRS:
            os.makedirs(os.path.join(self.dir, "alloc", sub), exist_ok=True)
        for task in self.tasks.values():
            await task.start()
        self.client_status = "running"
        self.modify_index = self.cluster.bump()
        self.modify_time = now_ns()

    def iis_tasks(self) -> dict[str, Task]:
        return {n: t for n, t in self.tasks.items() if t.is_iis}

    @property
    def terminal(self) -> bool:
        return self.client_status in ("complete", "failed", "lost")

    async def stop(self, leave_iis: bool = False) -> None:
        """What `nomad alloc stop` ends in on the client: every task killed, the alloc complete.
        `leave_iis`: the driver crashed meanwhile and left the tasks' IIS objects behind."""
        if self.terminal:
            return
        self.desired_status = "stop"
        self.desired_description = self.desired_description or "alloc is being stopped"
        for task in self.tasks.values():
            if task.state == "dead":
                continue
            task.event("Killing", "Sent interrupt. Waiting 5s before force killing")
            await task.shutdown(leave_iis)
            task.state = "dead"
            task.finished_at = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
            task.event("Killed", "Task successfully killed")
        self.client_status = "complete"
        self.modify_index = self.cluster.bump()
        self.modify_time = now_ns()

    def collect(self) -> None:
        """Client-side GC of a terminal alloc: destroy its runner and remove its directory."""
        shutil.rmtree(self.dir, ignore_errors=True)
        self.collected = True


class Node:
    def __init__(self, cluster: "Cluster", cfg: NodeConfig):
        self.cluster = cluster
        self.cfg = cfg
        self.id = str(uuid.uuid4())
        self.secret_id = str(uuid.uuid4())
        self.name = cfg.name
        self.datacenter = cfg.datacenter
        # A down node may share its name with the node that replaced it: its own data dir.
        self.data_dir = os.path.join(cluster.state_dir, cfg.name + (f".down-{self.id[:8]}" if cfg.status == "down" else ""))
        self.static_meta: dict[str, str] = {
            "connect.sidecar_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
            "connect.gateway_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
            "connect.log_level": "info",
            "connect.proxy_concurrency": "1",
            "connect.transparent_proxy.default_uid": "101",
            "connect.transparent_proxy.default_outbound_port": "15001",
            **cfg.meta,
        }
        self.dynamic_meta: dict[str, str | None] = {}
        self.api_port: int | None = None  # bound Management API port
        self.winrm_port: int | None = None  # bound WinRM ports (HTTP, HTTPS)
        self.winrm_https_port: int | None = None
        self.create_index = cluster.bump()
        self.modify_index = self.create_index
        self.iis = NodeIis(cfg)
        # What the servers know of the node besides its fingerprint (nomad_drain.py), and what its
        # agent runs (node_agent.py): status, eligibility, drain, node events, the installed driver
        # and the one the agent loaded (None: no iis driver).
        self.status = cfg.status
        self.eligibility = "eligible" if cfg.eligible and not cfg.drain else "ineligible"
        self.drain_strategy: dict | None = None
        self.last_drain: dict | None = None
        if cfg.drain:  # a drain in progress when the sandbox starts (one hour; no drainer runs for it)
            started = now_ns()
            self.drain_strategy = {"Deadline": 3600 * 10 ** 9, "IgnoreSystemJobs": False,
                                   "ForceDeadline": rfc3339nano(started + 3600 * 10 ** 9),
                                   "StartedAt": rfc3339nano(started)}
            whole = rfc3339nano(started // 10 ** 9 * 10 ** 9)
            self.last_drain = {"StartedAt": whole, "UpdatedAt": whole, "Status": "draining", "AccessorID": "",
                               "Meta": None}
        self.events: list[dict] = [{"Message": "Node registered", "Subsystem": "Cluster", "Details": None,
                                    "Timestamp": now_ns(), "CreateIndex": self.create_index}]
        self.agent = "running"  # running | stopped | starting | failed
        self.agent_starts = self.agent_stops = 0
        self.agent_error: str | None = None
        self.installed: DriverBuild | None = None
        self.running: DriverBuild | None = None
        if cfg.driver_version and "iis" in cfg.drivers:  # a node whose drivers leave iis out has none
            self.installed = self.running = build_from_config(
                cfg.driver_version, cfg.api_enabled, cfg.api_port or 0, cfg.api_key, cfg.jwt_secret,
                vars(cfg.procdump) if cfg.procdump else None)
        self.driver_updated_ns = now_ns()

    def event(self, message: str, subsystem: str, details: dict | None = None) -> None:
        """A node event (structs.NodeEvent), as the servers append them; bumps the node."""
        self.modify_index = self.cluster.bump()
        self.events.append({"Message": message, "Subsystem": subsystem, "Details": details,
                            "Timestamp": now_ns(), "CreateIndex": self.modify_index})
        del self.events[:-10]  # Nomad keeps the last ten (MaxRetainedNodeEvents)

    def windows_path(self, path: str) -> str:
        """The Windows path of a file below the node's data dir (`<state>/<node>/` is `data_dir`)."""
        rel = os.path.relpath(path, self.data_dir)
        return self.cfg.data_dir if rel == "." else self.cfg.data_dir + "\\" + rel.replace(os.sep, "\\")

    def local_path(self, windows_path: str) -> str | None:
        """Where a Windows path of this node lives in the sandbox: below `data_dir` in the node's data
        dir, anywhere else on a drive in `<state>/<node>.drives/<letter>/`; None for a relative or UNC path."""
        path = windows_path.replace("/", "\\")
        match = re.match(r"^([A-Za-z]):\\(.*)$", path)
        if not match:
            return None
        parts = [p for p in match.group(2).split("\\") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            return None
        root = [p for p in self.cfg.data_dir.split("\\") if p]
        full = [match.group(1).upper() + ":"] + parts
        if [p.lower() for p in full[:len(root)]] == [p.lower() for p in root]:
            return os.path.join(self.data_dir, *full[len(root):])
        return os.path.join(self.cluster.state_dir, f"{self.name}.drives", match.group(1).lower(), *parts)

    @property
    def meta(self) -> dict[str, str]:
        merged = dict(self.static_meta)
        for key, value in self.dynamic_meta.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    @property
    def api_key(self) -> str | None:
        return self.running.api_key if self.running else None

    @property
    def jwt_secret(self) -> str | None:
        return self.running.jwt_secret if self.running else None

    @property
    def management_api_url(self) -> str | None:
        return f"http://127.0.0.1:{self.api_port}" if self.api_port else None


@dataclass
class IisApp:
    path: str  # "/" or "/alias"
    pool: str  # IIS name of its application pool
    physical_path: str  # of its root virtual directory


class IisSite:
    def __init__(self, name: str, site_id: int, bindings: list[str], state: str):
        self.name = name
        self.id = site_id
        self.bindings = bindings
        self.state = state
        self.apps: list[IisApp] = []


class NodeIis:
    """The node's IIS configuration and run-time state, as ServerManager and appcmd see it: every
    application pool and site by name (case-insensitive keys), the driver's and the others."""

    def __init__(self, cfg: NodeConfig):
        self.pools: dict[str, IisPool] = {}
        self.sites: dict[str, IisSite] = {}
        self._last_site_id = 0
        self.lock = asyncio.Lock()
        self.add_pool(IisPool("DefaultAppPool", "Started"))
        default = self.add_site("Default Web Site", ["http/*:80:"], "Started")
        default.apps.append(IisApp("/", "DefaultAppPool", "%SystemDrive%\\inetpub\\wwwroot"))
        for extra in cfg.iis.extra_pools:
            self.add_pool(_extra_pool(extra))
        for site_cfg in cfg.iis.extra_sites:
            site = self.add_site(site_cfg.name, site_cfg.bindings or ["http/*:80:"], site_cfg.state)
            site.apps.append(IisApp("/", site_cfg.pool, f"C:\\inetpub\\{site_cfg.name}"))

    def add_pool(self, pool: IisPool) -> IisPool:
        self.pools[pool.iis_name.lower()] = pool
        return pool

    def add_site(self, name: str, bindings: list[str], state: str) -> IisSite:
        site = IisSite(name, self.next_site_id(), bindings, state)
        self.sites[name.lower()] = site
        return site

    def next_site_id(self) -> int:
        self._last_site_id += 1
        return self._last_site_id


def _extra_pool(cfg: ExtraPool) -> IisPool:
    return IisPool(cfg.name, cfg.state, cfg.auto_start, cfg.runtime, cfg.pipeline)


class Cluster:
    def __init__(self, cfg: ClusterConfig, state_dir: str):
        self.cfg = cfg
        self.state_dir = state_dir
        self.index = 1
        self.started = time.time()
        self.children: set[asyncio.subprocess.Process] = set()
        self.http_session: aiohttp.ClientSession | None = None
        self.nomad_addr: str | None = None
        self.nodes: list[Node] = [Node(self, n) for n in cfg.nodes]
        self.allocs: dict[str, Alloc] = {}
        self.winrm_nodes: list = []  # the WinRM listeners' shells (winrm_wsman.WinrmNode), closed on shutdown
        # The scheduler's and drainer's background work (nomad_drain.py): tasks, nodes being
        # drained, placements waiting for an eligible node.
        self.background: set[asyncio.Task] = set()
        self.drainers: set[str] = set()
        self.blocked: list[tuple] = []
        for job in cfg.jobs:
            placement = 0
            for group in job.groups:
                candidates = [n for n in self.nodes
                              if n.cfg.status != "down" and (not group.nodes or n.name in group.nodes)]
                for index in range(group.count):
                    node = candidates[placement % len(candidates)]
                    placement += 1
                    alloc = Alloc(self, job, group, index, node)
                    self.allocs[alloc.id] = alloc
        self.job_submit_time = now_ns()

    def bump(self) -> int:
        self.index += 1
        return self.index

    def node_by_id(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    async def start(self) -> None:
        self.http_session = aiohttp.ClientSession(auto_decompress=False,
                                                  timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        for node in self.nodes:
            os.makedirs(os.path.join(node.data_dir, "alloc"), exist_ok=True)
        for alloc in self.allocs.values():
            await alloc.start()

    async def shutdown(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        for state in self.winrm_nodes:
            state.close()
        for alloc in self.allocs.values():
            for task in alloc.tasks.values():
                await task.shutdown(leave_iis=True)
        for process in list(self.children):
            if process.returncode is None:
                process.kill()
                await process.wait()
        if self.http_session is not None:
            await self.http_session.close()
