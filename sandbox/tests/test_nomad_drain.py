"""Node drain and eligibility: Nomad's shapes, statuses and errors; allocations that migrate (new IDs,
fresh task directories, the old pools really stopped), batch allocations and the deadline, blocked
placements, cancelling, system jobs."""

import json
import os
import time

import pytest

from conftest import SandboxProcess

MISSING = "00000000-0000-4000-8000-000000000000"
DRAINING_NOT_ELIGIBLE = "can not set node's scheduling eligibility to eligible while it is draining"

CONFIG = {
    "nodes": [{"name": "win-1"}, {"name": "win-2"}, {"name": "win-3"}],
    "jobs": [
        {"id": "web", "groups": [{"name": "web", "count": 2, "nodes": ["win-1", "win-2"], "tasks": [{"name": "app"}]}]},
        {"id": "pinned", "groups": [{"name": "pinned", "nodes": ["win-3"], "tasks": [{"name": "app"}]}]},
        {"id": "report", "type": "batch", "groups": [{"name": "run", "nodes": ["win-2"], "tasks": [{"name": "app"}]}]},
        {"id": "agent", "type": "system", "groups": [{"name": "agent", "nodes": ["win-2"],
                                                      "tasks": [{"name": "ship", "driver": "raw_exec"}]}]},
    ],
}


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def get_json(sandbox, path):
    reply = sandbox.nomad("GET", path)
    assert reply.status == 200, (path, reply.status, reply.text)
    return reply.json()


def post(sandbox, path, body, method="POST"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sandbox.nomad(method, path, body=data, headers={"Content-Type": "application/json"})


def assert_error(reply, status, text):
    assert (reply.status, reply.text) == (status, text)


@pytest.fixture
def cluster(tmp_path):
    sandbox = SandboxProcess(tmp_path, ["--inspect"], CONFIG)
    sandbox.ids = {n["name"]: n["id"] for n in sandbox.info["nodes"]}
    yield sandbox
    assert not sandbox.stop()


def node(sandbox, name):
    return get_json(sandbox, f"/v1/node/{sandbox.ids[name]}")


def running_allocs(sandbox, job):
    return [a for a in get_json(sandbox, f"/v1/job/{job}/allocations") if a["ClientStatus"] == "running"]


def drain(sandbox, name, deadline=3600 * 10 ** 9, ignore_system=False, **extra):
    reply = post(sandbox, f"/v1/node/{sandbox.ids[name]}/drain",
                 {"DrainSpec": {"Deadline": deadline, "IgnoreSystemJobs": ignore_system}, **extra})
    assert reply.status == 200, reply.text
    return reply


def drained(sandbox, name):
    current = node(sandbox, name)
    return current if current["DrainStrategy"] is None and (current["LastDrain"] or {}).get("Status") == "complete" else None


def test_request_errors(cluster):
    path = f"/v1/node/{cluster.ids['win-1']}/drain"
    assert_error(cluster.nomad("GET", path), 405, "Invalid method")
    assert_error(cluster.nomad("POST", path), 400, "Request body is empty")
    assert_error(post(cluster, path, b"{nope"), 400, "invalid character 'n' looking for beginning of object key string")
    assert_error(post(cluster, path, {"DrainSpec": {"Deadline": "1h"}}), 400,
                 "json: cannot unmarshal string into Go struct field DrainSpec.DrainSpec.Deadline of type time.Duration")
    assert_error(post(cluster, path, {"MarkEligible": "yes"}), 400,
                 "json: cannot unmarshal string into Go struct field NodeUpdateDrainRequest.MarkEligible of type bool")
    assert_error(post(cluster, path, []), 400, "json: cannot unmarshal array into Go value of type api.NodeUpdateDrainRequest")
    assert_error(post(cluster, f"/v1/node/{MISSING}/drain", {"DrainSpec": None}), 500, "node not found")
    assert_error(post(cluster, f"/v1/node/{cluster.ids['win-1'][:8]}/drain", {"DrainSpec": None}), 500,
                 "node lookup failed: index error: UUID must be 36 characters")
    eligibility = f"/v1/node/{cluster.ids['win-1']}/eligibility"
    assert_error(cluster.nomad("DELETE", eligibility), 405, "Invalid method")
    assert_error(post(cluster, eligibility, {"Eligibility": "maybe"}), 500, 'invalid scheduling eligibility "maybe"')
    assert_error(post(cluster, eligibility, {}), 500, 'invalid scheduling eligibility ""')
    assert_error(post(cluster, f"/v1/node/{MISSING}/eligibility", {"Eligibility": "eligible"}), 500, "node not found")


def test_eligibility_toggles_and_is_a_no_op_when_unchanged(cluster):
    path = f"/v1/node/{cluster.ids['win-3']}/eligibility"
    reply = post(cluster, path, {"Eligibility": "ineligible"})
    body = reply.json()
    assert body["NodeModifyIndex"] > 0 and body["Index"] == body["NodeModifyIndex"]
    assert reply.headers["X-Nomad-Index"] == str(body["Index"])
    current = node(cluster, "win-3")
    assert current["SchedulingEligibility"] == "ineligible" and current["DrainStrategy"] is None
    assert current["Events"][-1]["Message"] == "Node marked as ineligible for scheduling"
    # Allocations stay where they are: ineligible only stops new placements.
    assert [a["NodeName"] for a in running_allocs(cluster, "pinned")] == ["win-3"]
    assert post(cluster, path, {"Eligibility": "ineligible"}).json() == {
        "NodeModifyIndex": 0, "EvalIDs": None, "EvalCreateIndex": 0, "Index": 0}
    back = post(cluster, path, {"Eligibility": "eligible"}).json()
    assert back["EvalIDs"] and back["EvalCreateIndex"] == back["Index"]
    stub = next(n for n in get_json(cluster, "/v1/nodes") if n["Name"] == "win-3")
    assert stub["SchedulingEligibility"] == "eligible" and stub["Drain"] is False


def test_drain_migrates_service_allocations_to_fresh_ones(cluster):
    (old,) = [a for a in running_allocs(cluster, "web") if a["NodeName"] == "win-1"]
    old_state = cluster.inspect(f"state?alloc={old['ID']}")["allocs"][old["ID"]]
    pushed = os.path.join(old_state["tasks"]["app"]["dir"], "local", "pushed.txt")
    with open(pushed, "w", encoding="utf-8") as handle:
        handle.write("deployed into the old allocation")
    reply = drain(cluster, "win-1", Meta={"message": "driver upgrade"})
    assert reply.json()["EvalIDs"] is None
    # One allocation with somewhere to go: the drain may be over by the time the node is read.
    done = wait_for(lambda: drained(cluster, "win-1"), what="the drain to complete")
    assert done["SchedulingEligibility"] == "ineligible"
    assert [e["Message"] for e in done["Events"][-2:]] == ["Node drain strategy set", "Node drain complete"]
    assert done["LastDrain"]["Meta"] == {"message": "driver upgrade"}
    assert done["LastDrain"]["AccessorID"] == "token:acls-disabled"
    assert "." not in done["LastDrain"]["StartedAt"]  # whole seconds, as the RPC sends them

    stopped = get_json(cluster, f"/v1/allocation/{old['ID']}")
    assert (stopped["ClientStatus"], stopped["DesiredStatus"]) == ("complete", "stop")
    assert stopped["DesiredTransition"]["Migrate"] is True
    assert stopped["DesiredDescription"] == "alloc is being migrated"
    new_id = stopped["NextAllocation"]
    replacement = get_json(cluster, f"/v1/allocation/{new_id}")
    # The least loaded eligible node with a healthy iis driver within the group's nodes: win-2.
    assert (replacement["NodeName"], replacement["ClientStatus"]) == ("win-2", "running")
    assert replacement["PreviousAllocation"] == old["ID"] and replacement["Name"] == old["Name"]
    state = cluster.inspect("state")["allocs"]
    assert all(p["worker_pid"] is None and p["state"] == "Stopped" for p in state[old["ID"]]["tasks"]["app"]["pools"].values())
    files = state[new_id]["tasks"]["app"]["files"]
    assert "local/iisstart.htm" in files and "local/pushed.txt" not in files
    assert len(running_allocs(cluster, "web")) == 2

    # A completed drain leaves the node ineligible until someone says otherwise.
    post(cluster, f"/v1/node/{cluster.ids['win-1']}/eligibility", {"Eligibility": "eligible"})
    assert node(cluster, "win-1")["SchedulingEligibility"] == "eligible"


def test_placements_without_a_node_are_blocked_until_one_is_eligible(cluster):
    # win-3's only allocation has nowhere to go: it stops, and its placement waits.
    drain(cluster, "win-3")
    wait_for(lambda: not running_allocs(cluster, "pinned"), what="the pinned allocation to stop")
    summary = get_json(cluster, "/v1/job/pinned/summary")["Summary"]["pinned"]
    assert (summary["Queued"], summary["Running"]) == (1, 0)
    wait_for(lambda: drained(cluster, "win-3"), what="the drain to complete")
    # Eligible again: the blocked placement lands there, as a new allocation.
    post(cluster, f"/v1/node/{cluster.ids['win-3']}/eligibility", {"Eligibility": "eligible"})
    (back,) = wait_for(lambda: running_allocs(cluster, "pinned"), what="the placement to unblock")
    assert back["NodeName"] == "win-3"
    assert get_json(cluster, "/v1/job/pinned/summary")["Summary"]["pinned"]["Queued"] == 0


def test_batch_waits_for_the_deadline_system_jobs_last_and_cancel(cluster):
    drain(cluster, "win-2", deadline=3600 * 10 ** 9)

    def web_on_2():
        return [a for a in running_allocs(cluster, "web") if a["NodeName"] == "win-2"]

    wait_for(lambda: not web_on_2(), what="web to leave win-2")
    time.sleep(0.5)
    # The batch allocation waits for the deadline, so the system allocation is still there too.
    assert [a["NodeName"] for a in running_allocs(cluster, "report")] == ["win-2"]
    assert [a["NodeName"] for a in running_allocs(cluster, "agent")] == ["win-2"]
    draining = node(cluster, "win-2")
    assert draining["SchedulingEligibility"] == "ineligible" and draining["Drain"] is True
    strategy = draining["DrainStrategy"]
    # DrainSpec is embedded in DrainStrategy: its fields are top level, as Go encodes them.
    assert set(strategy) == {"Deadline", "IgnoreSystemJobs", "ForceDeadline", "StartedAt"}
    assert strategy["Deadline"] == 3600 * 10 ** 9 and strategy["ForceDeadline"] > strategy["StartedAt"]
    assert draining["LastDrain"]["Status"] == "draining"
    assert_error(post(cluster, f"/v1/node/{cluster.ids['win-2']}/eligibility", {"Eligibility": "eligible"}),
                 500, DRAINING_NOT_ELIGIBLE)
    # Cancel, making the node eligible again: the batch and system allocations keep running.
    reply = post(cluster, f"/v1/node/{cluster.ids['win-2']}/drain", {"DrainSpec": None, "MarkEligible": True})
    assert reply.status == 200
    current = node(cluster, "win-2")
    assert (current["DrainStrategy"], current["SchedulingEligibility"]) == (None, "eligible")
    assert current["LastDrain"]["Status"] == "canceled"
    assert current["Events"][-1]["Message"] == "Node drain disabled"
    # Forced: the batch allocation stops at once (not replaced); system jobs ignored stay.
    drain(cluster, "win-2", deadline=-1, ignore_system=True)
    wait_for(lambda: drained(cluster, "win-2"), what="the forced drain to complete")
    assert running_allocs(cluster, "report") == []
    assert [a["NodeName"] for a in running_allocs(cluster, "agent")] == ["win-2"]
    assert node(cluster, "win-2")["DrainStrategy"] is None


def test_drain_with_acls_needs_node_write(tmp_path):
    config = dict(CONFIG, acl={"policies": [{"name": "reader", "node": "read"}, {"name": "writer", "node": "write"}],
                               "tokens": [{"name": "r", "secret_id": "11111111-1111-4111-8111-111111111111",
                                           "policies": ["reader"]},
                                          {"name": "w", "secret_id": "22222222-2222-4222-8222-222222222222",
                                           "accessor_id": "33333333-3333-4333-8333-333333333333",
                                           "policies": ["writer"]}]})
    sandbox = SandboxProcess(tmp_path, ["--acl"], config)
    try:
        node_id = sandbox.info["nodes"][2]["id"]
        path = f"/v1/node/{node_id}/eligibility"
        body = json.dumps({"Eligibility": "ineligible"}).encode()
        assert_error(sandbox.nomad("POST", path, body=body, headers={"X-Nomad-Token": "11111111-1111-4111-8111-111111111111"}),
                     403, "Permission denied")
        reply = sandbox.nomad("POST", f"/v1/node/{node_id}/drain", body=json.dumps({"DrainSpec": {"Deadline": -1}}).encode(),
                              headers={"X-Nomad-Token": "22222222-2222-4222-8222-222222222222"})
        assert reply.status == 200, reply.text
        read = sandbox.nomad("GET", f"/v1/node/{node_id}", headers={"X-Nomad-Token": sandbox.info["nomad_token"]}).json()
        assert read["LastDrain"]["AccessorID"] == "33333333-3333-4333-8333-333333333333"
    finally:
        assert not sandbox.stop()
