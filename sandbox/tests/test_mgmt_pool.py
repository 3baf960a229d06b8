"""Status, pool lifecycle and debug routes (README, "How it is built": app pools are processes), checked
against the pools' real worker processes (/proc), the sites' answers and the task events."""

from __future__ import annotations

import re
import time

import pytest

from conftest import SandboxProcess
from sandbox_http import request

SLOW_STOP = {"shutdown_delay": 1.0}  # keeps Stopping observable
CONFIG = {
    "nodes": [{"name": "n1"}],
    "jobs": [
        {"id": "single", "groups": [{"name": "single", "tasks": [{"name": "app", "config": {
            "application_pool": [{"name": "default", **SLOW_STOP}]}}]}]},
        {"id": "multi", "groups": [{"name": "multi", "tasks": [{"name": "app", "config": {
            "application_pool": [{"name": "default", **SLOW_STOP}, {"name": "admin", **SLOW_STOP}],
            "application": [{"path": "local"},
                            {"path": "local/admin", "alias": "admin", "application_pool": "admin"}]}}]}]},
        {"id": "named", "groups": [{"name": "named", "tasks": [{"name": "app", "config": {
            "application_pool": [{"name": "appA"}],
            "application": [{"path": "local", "application_pool": "appA"}]}}]}]},
        {"id": "always", "groups": [{"name": "always", "tasks": [{"name": "app", "config": {
            "application_pool": [{"name": "default", "start_mode": "AlwaysRunning"}]}}]}]},
    ],
}


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("pools"), ["--inspect", "--api-key", "k"], CONFIG)
    yield sandbox
    assert not sandbox.stop()


class Job:
    """One job's allocation in the `pools` sandbox."""

    def __init__(self, sandbox, job: str):
        self.sandbox = sandbox
        alloc = next(a for a in sandbox.info["allocs"] if a["job"] == job)
        self.alloc_id = alloc["id"]
        self.app_url = alloc["tasks"]["app"]["app_url"]

    def api(self, method: str, action: str):
        return self.sandbox.api(method, f"/api/v1/allocs/{self.alloc_id}/app/{action}")

    def status(self) -> dict:
        reply = self.api("GET", "status")
        assert reply.status == 200
        return reply.json()

    def pool_states(self) -> dict[str, str]:
        return {p["name"]: p["status"] for p in self.status()["applicationPools"]}

    def task(self) -> dict:
        return self.sandbox.task_state(self.alloc_id)

    def pids(self) -> dict[str, int | None]:
        return {name: pool["worker_pid"] for name, pool in self.task()["pools"].items()}

    def act(self, action: str) -> None:
        reply = self.api("PUT", action)
        assert (reply.status, reply.body) == (200, b""), action

    def wait_states(self, state: str) -> None:
        wait_for(lambda: set(self.pool_states().values()) == {state}, f"all pools {state}")


def wait_for(predicate, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def get(url: str) -> int:
    return request("GET", url).status


# --- status ---------------------------------------------------------------------------------------

def test_status_shape(pools):
    job = Job(pools, "single")
    reply = job.api("GET", "status")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert b": " not in reply.body and b", " not in reply.body  # System.Text.Json writes compact JSON
    body = reply.json()
    assert list(body) == ["allocId", "taskName", "defaultApplicationPool", "applicationPools"]
    assert (body["allocId"], body["taskName"]) == (job.alloc_id, "app")
    (pool,) = body["applicationPools"]
    assert list(pool) == ["name", "status", "isWorkerProcessRunning"]
    assert pool["name"] == "default" and pool["status"] == "Started"
    assert body["defaultApplicationPool"] == pool


def test_default_pool_is_null_when_no_pool_is_named_default(pools):
    body = Job(pools, "named").status()
    assert body["defaultApplicationPool"] is None
    assert [p["name"] for p in body["applicationPools"]] == ["appA"]


# --- lifecycle ------------------------------------------------------------------------------------

def test_stop_then_start_an_on_demand_pool(pools):
    job = Job(pools, "single")
    assert get(job.app_url) == 200
    old = job.pids()["default"]
    assert old and alive(old) and job.status()["defaultApplicationPool"]["isWorkerProcessRunning"]

    job.act("stop")
    assert job.pool_states() == {"default": "Stopping"}
    job.wait_states("Stopped")
    assert not alive(old)
    assert job.status()["defaultApplicationPool"]["isWorkerProcessRunning"] is False
    assert get(job.app_url) == 503
    job.act("stop")  # only Started pools are stopped: a no-op
    assert job.pool_states() == {"default": "Stopped"}

    job.act("start")
    job.wait_states("Started")
    # OnDemand: no worker until the site gets a request.
    assert job.pids()["default"] is None
    assert job.status()["defaultApplicationPool"]["isWorkerProcessRunning"] is False
    assert get(job.app_url) == 200
    new = job.pids()["default"]
    assert new and new != old and alive(new)
    events = job.task()["events"]
    assert events.index("Driver: ApplicationPool stopped") < events.index("Driver: ApplicationPool started")


def test_start_returns_with_the_pool_started_so_a_recycle_right_after_succeeds(pools):
    """ApplicationPool.Start() returns with the pool Started (an OnDemand pool needs no worker)."""
    job = Job(pools, "single")
    job.act("stop")
    job.wait_states("Stopped")
    job.act("start")
    assert job.pool_states() == {"default": "Started"}
    assert pools.api("PUT", f"/api/v1/allocs/{job.alloc_id}/app/recycle").status == 200


def test_start_of_a_started_pool_keeps_its_worker(pools):
    job = Job(pools, "single")
    assert get(job.app_url) == 200
    pid = job.pids()["default"]
    job.act("start")
    assert job.pool_states() == {"default": "Started"} and job.pids()["default"] == pid


def test_recycle_replaces_the_worker(pools):
    job = Job(pools, "single")
    assert get(job.app_url) == 200
    old = job.pids()["default"]
    job.act("recycle")
    new = job.pids()["default"]
    assert new and new != old and alive(new)
    wait_for(lambda: not alive(old), "the old worker to exit")
    assert get(job.app_url) == 200
    assert job.pids()["default"] == new
    assert "Driver: ApplicationPool recycled" in job.task()["events"]


def test_recycle_of_a_stopped_pool_is_500(pools):
    job = Job(pools, "single")
    job.act("stop")
    job.wait_states("Stopped")
    reply = job.api("PUT", "recycle")
    assert (reply.status, reply.body) == (500, b"")
    assert job.pool_states() == {"default": "Stopped"}
    job.act("start")
    job.wait_states("Started")


def test_lifecycle_acts_on_every_pool_of_the_task(pools):
    job = Job(pools, "multi")
    assert job.pool_states() == {"default": "Started", "admin": "Started"}
    assert get(job.app_url) == 200 and get(job.app_url + "admin/") == 200
    first = job.pids()
    assert all(first.values()) and first["default"] != first["admin"]

    job.act("stop")
    job.wait_states("Stopped")
    assert not any(alive(pid) for pid in first.values())
    assert get(job.app_url) == 503 and get(job.app_url + "admin/") == 503

    job.act("start")  # also starts pools that were stopped on purpose
    job.wait_states("Started")
    assert get(job.app_url) == 200 and get(job.app_url + "admin/") == 200
    second = job.pids()
    assert all(second.values()) and not set(second.values()) & set(first.values())

    job.act("recycle")
    third = job.pids()
    assert all(third.values()) and not set(third.values()) & set(second.values())
    wait_for(lambda: not any(alive(pid) for pid in second.values()), "the recycled workers to exit")


def test_always_running_pools_have_a_worker_without_requests(pools):
    job = Job(pools, "always")
    pool = job.status()["defaultApplicationPool"]
    assert pool["status"] == "Started" and pool["isWorkerProcessRunning"] is True
    first = job.pids()["default"]
    assert first and alive(first)
    job.act("stop")
    job.wait_states("Stopped")
    assert not alive(first)
    job.act("start")
    wait_for(lambda: job.status()["defaultApplicationPool"] == {
        "name": "default", "status": "Started", "isWorkerProcessRunning": True}, "the worker")
    second = job.pids()["default"]
    assert second and second != first and alive(second)


# --- debug ----------------------------------------------------------------------------------------

def test_debug_lists_every_handle_with_its_pool_names(pools):
    reply = pools.api("GET", "/api/v1/debug")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert list(body) == ["iisHandleCount", "iisHandles", "danglingIisAppPools", "danglingIisWebsites",
                          "iisAppPools", "iisWebsites"]
    assert body["iisHandleCount"] == len(body["iisHandles"]) == len(CONFIG["jobs"])
    handles = {h["jobName"]: h for h in body["iisHandles"]}
    for job_id in ("single", "multi", "named", "always"):
        handle, alloc = handles[job_id], Job(pools, job_id).alloc_id
        assert list(handle) == ["taskId", "appPoolNames", "allocId", "namespace", "jobId", "jobName", "taskName",
                                "taskGroupName", "isRecovered"]
        assert re.fullmatch(rf"{alloc}/app/[0-9a-f]{{8}}", handle["taskId"])
        assert (handle["allocId"], handle["namespace"], handle["jobId"], handle["taskName"],
                handle["taskGroupName"], handle["isRecovered"]) == (alloc, "default", job_id, "app", job_id, False)
    multi = Job(pools, "multi").alloc_id
    assert handles["multi"]["appPoolNames"] == [f"nomad-{multi}-app", f"nomad-{multi}-app-admin"]
    assert handles["named"]["appPoolNames"] == [f"nomad-{Job(pools, 'named').alloc_id}-app-appA"]
    assert handles["single"]["appPoolNames"] == [f"nomad-{Job(pools, 'single').alloc_id}-app"]
    pool_names = [n for h in body["iisHandles"] for n in h["appPoolNames"]]
    # Every pool and site of the node's IIS is listed, IIS's own defaults too.
    assert sorted(p["name"] for p in body["iisAppPools"]) == sorted(pool_names + ["DefaultAppPool"])
    assert sorted(s["name"] for s in body["iisWebsites"]) == sorted(
        [f"nomad-{h['allocId']}-app" for h in body["iisHandles"]] + ["Default Web Site"])
    assert not any(x["isDangling"] for x in body["iisAppPools"] + body["iisWebsites"])
    assert (body["danglingIisAppPools"], body["danglingIisWebsites"]) == (0, 0)
    # The driver's task id is fixed for the handle's lifetime.
    again = {h["jobName"]: h["taskId"] for h in pools.api("GET", "/api/v1/debug").json()["iisHandles"]}
    assert again == {j: h["taskId"] for j, h in handles.items()}


def test_debug_flags_leftovers_as_dangling(tmp_path):
    """Pools and sites named nomad-* that no handle owns are dangling; others never are."""
    gone = "nomad-0b6e3c1a-1111-4222-8333-944455566677-app"
    config = {"nodes": [{"name": "win-node-1", "iis": {
        "extra_pools": [gone, {"name": "admin-pool", "state": "Stopped"}],
        "extra_sites": [{"name": gone, "pool": gone}, "Intranet"]}}],
        "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}]}
    sandbox = SandboxProcess(tmp_path, ["--api-key", "k"], config)
    try:
        body = sandbox.api("GET", "/api/v1/debug").json()
        flags = {p["name"]: p["isDangling"] for p in body["iisAppPools"]}
        alloc = sandbox.info["allocs"][0]["id"]
        assert flags == {"DefaultAppPool": False, f"nomad-{alloc}-app": False, gone: True, "admin-pool": False}
        sites = {s["name"]: s["isDangling"] for s in body["iisWebsites"]}
        assert sites == {"Default Web Site": False, f"nomad-{alloc}-app": False, gone: True, "Intranet": False}
        assert (body["danglingIisAppPools"], body["danglingIisWebsites"]) == (1, 1)
    finally:
        assert sandbox.stop() == set()
