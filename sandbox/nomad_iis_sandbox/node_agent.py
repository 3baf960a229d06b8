"""Each node's Nomad agent as its Windows admin sees it: the service runs, stops and starts, and
loads the Nomad IIS driver installed in its plugin dir (node_driver.py), whose Management API
listens while the agent runs.

Through the inspection endpoint a test acts as that admin:

    GET  /_sandbox/nodes                         every node's agent, driver and scheduling state
    POST /_sandbox/nodes/<node>/agent/stop       stop the Nomad service: the node is down, the
                                                 Management API gone (allocations keep running,
                                                 as IIS keeps serving them)
    PUT  /_sandbox/nodes/<node>/driver           change the installed driver (JSON below; null
                                                 removes it); 409 while the agent runs, since
                                                 Windows locks a running exe
    POST /_sandbox/nodes/<node>/agent/start      start the service ({"delay": 1.0, "fail": false}):
                                                 the node registers as initializing, and after
                                                 `delay` seconds it is ready with the installed
                                                 driver's fingerprint (a new Drivers.iis.UpdateTime)
                                                 and its Management API; with `fail`, or when the
                                                 plugin loader refuses the driver (an unknown
                                                 config key, node_driver.py), the agent never comes
                                                 back and the node stays down

`<node>` is a node name or ID. The driver JSON: {"version": "0.20.1", "management_api": true,
"args": ["--management-api-port=5004", "--management-api-key=..."], "config": {"enabled": true,
"procdump": [{"binary_path": "...", "accept_eula": true}]}, "exe_sha256": "...", "config_sha256":
"..."}; `args` and `config` are the agent's `plugin "nomad_iis"` block as Nomad decodes it, which
`/v1/agent/self` shows (secrets included, as Nomad does).

The node goes down at once when its agent stops (the sandbox does not wait for a missed
heartbeat), but its allocations are neither marked lost nor replaced, as after a restart that is
quicker than the heartbeat TTL.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from . import mgmt_api
from .cluster import Cluster, Node, now_ns
from .nomad_drain import schedule, unblock
from .node_driver import DriverBuild, build_from_config, build_from_json
from .observe import Observer

log = logging.getLogger(__name__)
DEFAULT_START_DELAY = 1.0


class AgentError(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status
        self.text = text


class NodeAgents:
    """The nodes' agents and their Management API listeners."""

    def __init__(self, cluster: Cluster, observer: Observer):
        self.cluster = cluster
        self.observer = observer
        self.runners: dict[str, web.AppRunner] = {}
        self.starting: dict[str, asyncio.Task] = {}

    async def start_all(self) -> None:
        """The agents as the cluster YAML describes them, each with its Management API."""
        for node in self.cluster.nodes:
            cfg = node.cfg
            if node.running is None or not cfg.api_enabled:
                continue
            port = await self._listen(node, cfg.api_port or 0)
            node.installed = node.running = build_from_config(
                cfg.driver_version, True, port, cfg.api_key, cfg.jwt_secret,
                vars(cfg.procdump) if cfg.procdump else None)

    async def _listen(self, node: Node, port: int) -> int:
        app = mgmt_api.create_app(self.cluster, node, self.observer)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            # Upstream binds 0.0.0.0; the sandbox stays on loopback.
            site = web.TCPSite(runner, "127.0.0.1", port)
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.runners[node.id] = runner
        node.api_port = site._server.sockets[0].getsockname()[1]
        return node.api_port

    async def _close(self, node: Node) -> None:
        runner = self.runners.pop(node.id, None)
        if runner is not None:
            await runner.cleanup()
        node.api_port = None

    async def stop(self, node: Node) -> None:
        """Stop-Service: the plugin exits with the agent, the servers see the node down."""
        pending = self.starting.pop(node.id, None)
        if pending is not None:
            pending.cancel()
        if node.agent in ("stopped", "failed"):
            return
        await self._close(node)
        node.agent = "stopped"
        node.agent_stops += 1
        node.status = "down"
        node.event("Node heartbeat missed", "Cluster")

    def install(self, node: Node, build: DriverBuild | None) -> None:
        """Replace what is installed; the agent loads it at its next start."""
        if node.agent in ("running", "starting"):
            raise AgentError(409, f"nomad_iis.exe of node {node.name} is in use by the running Nomad agent: "
                                  "stop the agent first")
        node.installed = build
        node.modify_index = self.cluster.bump()

    async def start(self, node: Node, delay: float = DEFAULT_START_DELAY, fail: bool = False) -> None:
        """Start-Service: initializing at once, ready after `delay` (or never, when it fails)."""
        if node.agent in ("running", "starting"):
            return
        node.agent_error = None
        node.agent_starts += 1
        error = "the Nomad agent exited while starting" if fail else None
        if error is None and node.installed is not None:
            error = node.installed.load_error()
        if error is not None:
            self._failed(node, error)
            return
        node.agent = "starting"
        node.status = "initializing"
        node.running = None  # the driver has not fingerprinted yet
        node.modify_index = self.cluster.bump()
        task = asyncio.ensure_future(self._finish_start(node, delay))
        self.starting[node.id] = task

    def _failed(self, node: Node, error: str) -> None:
        log.error("agent of node %s failed to start: %s", node.name, error)
        node.agent = "failed"
        node.agent_error = error
        node.status = "down"
        node.modify_index = self.cluster.bump()

    async def _finish_start(self, node: Node, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            build = node.installed
            if build is not None and build.enabled and build.api_port:
                try:
                    await self._listen(node, build.api_port)
                except OSError as exc:
                    self._failed(node, f"the Management API cannot listen on port {build.api_port}: {exc.strerror}")
                    return
            node.running = build
            node.driver_updated_ns = now_ns()
            node.agent = "running"
            node.status = "ready"
            node.event("Node re-registered", "Cluster")
            schedule(self.cluster, unblock(self.cluster))
        finally:
            self.starting.pop(node.id, None)

    async def shutdown(self) -> None:
        for task in list(self.starting.values()):
            task.cancel()
        for node in self.cluster.nodes:
            await self._close(node)


def describe_node(node: Node) -> dict:
    """A node's agent, driver and scheduling state, for the inspection endpoint."""
    return {"status": node.status, "eligibility": node.eligibility, "drain": node.drain_strategy is not None,
            "agent": node.agent, "agent_error": node.agent_error, "agent_starts": node.agent_starts,
            "agent_stops": node.agent_stops,
            "installed": node.installed.describe() if node.installed else None,
            "running": node.running.describe() if node.running else None,
            "allocs": sorted(a.id for a in node.cluster.allocs.values() if a.node is node and not a.terminal)}


def find_node(cluster: Cluster, value: str) -> Node:
    node = next((n for n in cluster.nodes if value in (n.name, n.id)), None)
    if node is None:
        raise AgentError(404, f"no node is named {value!r} or has that ID")
    return node


def add_routes(app: web.Application, agents: NodeAgents) -> None:
    """The inspection endpoint's node routes (see the module docstring)."""
    cluster = agents.cluster

    def reply(node: Node) -> web.Response:
        return web.json_response({"id": node.id, "name": node.name, **describe_node(node)})

    def guard(handler):
        async def wrapped(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except AgentError as exc:
                return web.Response(status=exc.status, text=exc.text)
        return wrapped

    async def body(request: web.Request):
        raw = await request.read()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise AgentError(400, f"invalid JSON: {exc}") from None

    async def nodes(request: web.Request) -> web.Response:
        return web.json_response({n.name: {"id": n.id, **describe_node(n)} for n in cluster.nodes})

    async def stop(request: web.Request) -> web.Response:
        node = find_node(cluster, request.match_info["node"])
        await agents.stop(node)
        return reply(node)

    async def start(request: web.Request) -> web.Response:
        node = find_node(cluster, request.match_info["node"])
        options = await body(request) or {}
        try:
            delay = float(options.get("delay", DEFAULT_START_DELAY))
        except (TypeError, ValueError):
            raise AgentError(400, "delay must be a number of seconds") from None
        await agents.start(node, delay=delay, fail=bool(options.get("fail", False)))
        return reply(node)

    async def driver(request: web.Request) -> web.Response:
        node = find_node(cluster, request.match_info["node"])
        if not (await request.read()).strip():
            raise AgentError(400, "send the driver as JSON, or null to remove it")
        data = await body(request)
        try:
            build = None if data is None else build_from_json(data)
        except ValueError as exc:
            raise AgentError(400, f"invalid driver: {exc}") from None
        agents.install(node, build)
        return reply(node)

    app.router.add_get("/_sandbox/nodes", guard(nodes))
    app.router.add_post("/_sandbox/nodes/{node}/agent/stop", guard(stop))
    app.router.add_post("/_sandbox/nodes/{node}/agent/start", guard(start))
    app.router.add_put("/_sandbox/nodes/{node}/driver", guard(driver))
