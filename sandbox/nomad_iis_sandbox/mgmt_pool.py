"""Status, lifecycle and debug routes (IisTaskHandle.GetStatusAsync / Start|Stop|RecycleAppPoolAsync,
ManagementApiController.GetDebugInfo)."""

from __future__ import annotations

import functools
import json
import secrets

from aiohttp import web

from .cluster import IIS_PREFIX

# System.Text.Json writes compact JSON.
json_response = functools.partial(web.json_response, dumps=functools.partial(json.dumps, separators=(",", ":")))


def status_body(task) -> dict:
    pools = [pool.status() for pool in task.pools.values()]
    default = task.pools.get("default")
    return {"allocId": task.alloc.id, "taskName": task.name,
            "defaultApplicationPool": default.status() if default else None,
            "applicationPools": pools}


async def status(request: web.Request, call) -> web.Response:
    return json_response(status_body(call.task))


async def start(request: web.Request, call) -> web.Response:
    await start_pools(call.task)
    return web.Response()


async def stop(request: web.Request, call) -> web.Response:
    stop_pools(call.task)
    return web.Response()


async def recycle(request: web.Request, call) -> web.Response:
    # Recycle() on every pool, whatever its state: a stopped pool throws, which is a 500 upstream.
    for pool in call.task.pools.values():
        await pool.recycle()
    call.task.event("Driver", "ApplicationPool recycled")
    return web.Response()


async def start_pools(task) -> None:
    """Starts every pool that is Stopped (also those stopped on purpose), as upstream does;
    ApplicationPool.Start() returns with the pool Started."""
    for pool in task.pools.values():
        await pool.start()
    task.event("Driver", "ApplicationPool started")


def stop_pools(task) -> None:
    for pool in task.pools.values():
        pool.stop_now()
    task.event("Driver", "ApplicationPool stopped")


async def debug(request: web.Request, call) -> web.Response:
    """GetDebugInfo: the handles the driver holds, and every application pool and website of the
    node's IIS, dangling when its name starts with `nomad-` and no handle owns it."""
    handles, owned_pools, owned_sites = [], set(), set()
    for alloc in call.cluster.allocs.values():
        if alloc.node is not call.node:
            continue
        for task in alloc.iis_tasks().values():
            if task.state != "running":
                continue
            task_id = getattr(task, "driver_task_id", None)
            if task_id is None:
                task_id = task.driver_task_id = f"{alloc.id}/{task.name}/{secrets.token_hex(4)}"
            handles.append({"taskId": task_id, "appPoolNames": [p.iis_name for p in task.pools.values()],
                            "allocId": alloc.id, "namespace": alloc.namespace, "jobId": alloc.job.id,
                            "jobName": alloc.job.id, "taskName": task.name, "taskGroupName": alloc.group.name,
                            "isRecovered": False})
            owned_pools.update(p.iis_name for p in task.pools.values())
            owned_sites.add(task.site_name)

    def dangling(name: str, owned: set) -> bool:
        return name.startswith(IIS_PREFIX) and name not in owned

    iis = call.node.iis
    pools = [{"name": p.iis_name, "isDangling": dangling(p.iis_name, owned_pools)} for p in iis.pools.values()]
    sites = [{"name": s.name, "isDangling": dangling(s.name, owned_sites)} for s in iis.sites.values()]
    return json_response({
        "iisHandleCount": len(handles), "iisHandles": handles,
        "danglingIisAppPools": sum(p["isDangling"] for p in pools),
        "danglingIisWebsites": sum(s["isDangling"] for s in sites),
        "iisAppPools": pools, "iisWebsites": sites})
