"""The inspection endpoint (`--inspect`), for tests that must check effects without trusting the
client under test:

    GET    /_sandbox/state[?alloc=ID&hash=false]   allocations, task files (size, sha256), pools, node meta
    GET    /_sandbox/requests[?since=SEQ]           the request log of every listener
    DELETE /_sandbox/requests                       clear it
    GET    /_sandbox/faults                         injected faults
    POST   /_sandbox/faults                         add one (JSON, see observe.Fault)
    DELETE /_sandbox/faults                         remove all
    POST   /_sandbox/allocs/<id>/stop               stop its tasks (pools, listeners): the alloc is complete
                                                    (`?leave_iis=true`: as after a driver crash, its IIS objects stay)

The nodes' agents and drivers have routes of their own under /_sandbox/nodes (node_agent.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

from aiohttp import web

from .cluster import Cluster
from .node_agent import describe_node
from .observe import Observer


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def task_files(task_dir: str, with_hash: bool) -> dict[str, dict]:
    """Every file and directory below the task dir, keyed by its `/`-separated relative path."""
    found: dict[str, dict] = {}
    for root, dirs, files in os.walk(task_dir):
        rel_root = os.path.relpath(root, task_dir)
        for name in dirs:
            found[os.path.normpath(os.path.join(rel_root, name)).replace(os.sep, "/")] = {"type": "dir"}
        for name in files:
            path = os.path.join(root, name)
            entry = {"type": "file", "size": os.path.getsize(path)}
            if with_hash:
                entry["sha256"] = _sha256(path)
            found[os.path.normpath(os.path.join(rel_root, name)).replace(os.sep, "/")] = entry
    return found


def snapshot(cluster: Cluster, alloc_id: str | None, with_hash: bool) -> dict:
    allocs = {}
    for alloc in cluster.allocs.values():
        if alloc_id and alloc.id != alloc_id:
            continue
        allocs[alloc.id] = {
            "job": alloc.job.id, "namespace": alloc.namespace, "task_group": alloc.group.name,
            "node_id": alloc.node.id, "node_name": alloc.node.name, "dir": alloc.dir,
            "client_status": alloc.client_status, "collected": alloc.collected,
            "logs": task_files(alloc.logs_dir, with_hash),
            "tasks": {t.name: {
                "dir": t.dir, "driver": t.cfg.driver, "state": t.state, "ports": t.ports,
                "events": [e["Type"] + (f": {e['Message']}" if e["Message"] else "") for e in t.events],
                "files": task_files(t.dir, with_hash),
                "pools": {p.name: {"iis_name": p.iis_name, "state": p.state,
                                   "worker_pid": p.worker.pid if p.worker_running else None}
                          for p in t.pools.values()},
            } for t in alloc.tasks.values()},
        }
    nodes = {n.id: {"name": n.name, "meta": n.meta, "static": n.static_meta, "dynamic": n.dynamic_meta,
                    "management_api_url": n.management_api_url, "iis": iis_snapshot(n), **describe_node(n)}
             for n in cluster.nodes}
    return {"allocs": allocs, "nodes": nodes}


def iis_snapshot(node) -> dict:
    """The node's IIS as appcmd would list it: every pool and site, the driver's and the others."""
    return {"pools": {p.iis_name: {"state": p.state, "auto_start": p.auto_start, "worker_pids": p.worker_pids()}
                      for p in node.iis.pools.values()},
            "sites": {s.name: {"id": s.id, "state": s.state, "bindings": s.bindings,
                               "apps": {a.path: a.pool for a in s.apps}} for s in node.iis.sites.values()}}


def add_routes(app: web.Application, cluster: Cluster, observer: Observer) -> None:
    async def state(request: web.Request) -> web.Response:
        data = await asyncio.to_thread(snapshot, cluster, request.query.get("alloc"),
                                       request.query.get("hash", "true") != "false")
        return web.json_response(data)

    async def requests(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response([r for r in observer.requests if r["seq"] > since])

    async def clear_requests(request: web.Request) -> web.Response:
        observer.requests.clear()
        return web.json_response({})

    async def faults(request: web.Request) -> web.Response:
        return web.json_response(observer.fault_list())

    async def add_fault(request: web.Request) -> web.Response:
        try:
            fault = observer.add_fault(await request.json())
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            return web.Response(status=400, text=str(exc))
        return web.json_response({"id": fault.id})

    async def clear_faults(request: web.Request) -> web.Response:
        observer.faults.clear()
        return web.json_response({})

    async def stop_alloc(request: web.Request) -> web.Response:
        alloc = cluster.allocs.get(request.match_info["alloc_id"])
        if alloc is None:
            return web.Response(status=404, text="no such allocation")
        # ?leave_iis=true: the driver crashed meanwhile, so the tasks' pools and sites stay behind (dangling).
        await alloc.stop(leave_iis=request.query.get("leave_iis", "").lower() == "true")
        return web.json_response({"id": alloc.id, "client_status": alloc.client_status})

    app.router.add_post("/_sandbox/allocs/{alloc_id}/stop", stop_alloc)
    app.router.add_get("/_sandbox/state", state)
    app.router.add_get("/_sandbox/requests", requests)
    app.router.add_delete("/_sandbox/requests", clear_requests)
    app.router.add_get("/_sandbox/faults", faults)
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_delete("/_sandbox/faults", clear_faults)
