"""Client-local endpoints: node metadata, host and allocation stats, garbage collection."""

import json
import os
import time

import pytest

from sandbox_http import request

STATIC_DEFAULTS = {"connect.sidecar_image", "connect.gateway_image", "connect.log_level",
                   "connect.proxy_concurrency", "connect.transparent_proxy.default_uid",
                   "connect.transparent_proxy.default_outbound_port"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def assert_error(reply, status, text):
    assert (reply.status, reply.text) == (status, text)


def post_meta(sandbox, body, query=""):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sandbox.nomad("POST", f"/v1/client/metadata{query}", body=data)


def node_state(sandbox, node_id=None):
    return sandbox.inspect("state")["nodes"][node_id or sandbox.node["id"]]


# --- metadata -----------------------------------------------------------------------------------

def test_metadata_read(demo):
    reply = demo.nomad("GET", "/v1/client/metadata")
    assert reply.status == 200 and "X-Nomad-Index" not in reply.headers
    meta = reply.json()
    assert set(meta) == {"Meta", "Dynamic", "Static"}
    assert set(meta["Static"]) == STATIC_DEFAULTS | {"rack"}
    assert meta["Static"]["rack"] == "r1"
    assert meta["Meta"] == node_state(demo)["meta"]
    assert demo.nomad("GET", f"/v1/client/metadata?node_id={demo.node['id']}").json()["Static"] == meta["Static"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_metadata_other_methods_are_405(demo, method):
    assert_error(demo.nomad(method, "/v1/client/metadata", body=b'{"Meta": {"a": "b"}}'), 405, "Invalid method")


def test_metadata_apply_merges_and_tombstones_only_static_keys(start_sandbox):
    sandbox = start_sandbox(["--inspect"])
    first = post_meta(sandbox, {"Meta": {"role": "db", "tier": "gold"}})
    assert first.status == 200
    assert first.json()["Dynamic"] == {"role": "db", "tier": "gold"}
    second = post_meta(sandbox, {"Meta": {"zone": "a", "tier": None, "rack": None, "connect.log_level": "debug"}})
    body = second.json()
    # partial update: role stays; tier (dynamic only) disappears; rack (static) leaves a tombstone
    assert body["Dynamic"] == {"role": "db", "zone": "a", "rack": None, "connect.log_level": "debug"}
    assert "rack" not in body["Meta"] and "tier" not in body["Meta"]
    assert body["Meta"]["connect.log_level"] == "debug" and body["Meta"]["role"] == "db"
    assert body["Static"]["rack"] == "r1" and body["Static"]["connect.log_level"] == "info"
    state = node_state(sandbox)
    assert state["dynamic"] == body["Dynamic"] and state["meta"] == body["Meta"]
    node = sandbox.nomad("GET", f"/v1/node/{sandbox.node['id']}").json()
    assert node["Meta"] == body["Meta"]
    assert sandbox.nomad("GET", "/v1/client/metadata").json() == body


@pytest.mark.parametrize("body, text", [
    (b"", "Request body is empty"),
    (b"   ", "EOF"),
    (b"{", "unexpected EOF"),
    (b"x", "invalid character 'x' looking for beginning of value"),
    (b'{"Meta": {"a": "b",}}', "invalid character '}' looking for beginning of object key string"),
    (b'{"Meta" {}}', "invalid character '{' after object key"),
    (b'{"Meta": {"a": "b"} "x": 1}', "invalid character '\"' after object key:value pair"),
    (b"[1 2]", "invalid character '2' after array element"),
    (b'{"Meta": {"a": 1}}', "json: cannot unmarshal number into Go struct field NodeMetaApplyRequest.Meta of type string"),
    (b'{"Meta": {"a": true}}', "json: cannot unmarshal bool into Go struct field NodeMetaApplyRequest.Meta of type string"),
    (b'{"Meta": "a"}', "json: cannot unmarshal string into Go struct field NodeMetaApplyRequest.Meta of type map[string]*string"),
    (b'["a"]', "json: cannot unmarshal array into Go value of type structs.NodeMetaApplyRequest"),
    (b"{}", "missing required Meta object"),
    (b"null", "missing required Meta object"),
    (b'{"Meta": {}}', "missing required Meta object"),
    (b'{"Meta": null}', "missing required Meta object"),
    (b'{"Meta": {"": "x"}}', "metadata keys must not be empty"),
])
def test_metadata_body_errors_are_400(demo, body, text):
    before = node_state(demo)["dynamic"]
    assert_error(post_meta(demo, body), 400, text)
    assert node_state(demo)["dynamic"] == before


VALID_KEYS = ["rack", "my_key", "my-key", "a.b.c", "_x", "ключ", "名前.値", "e\u0301", "Ⅻ", "x٣", "x‿y"]
INVALID_KEYS = ["1abc", "a..b", ".a", "a.", "a b", "a/b", "a:b", "-x", "²x", "x²", "\u0301e", "a.1", "€"]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_metadata_keys_must_be_dotted_hcl_identifiers(demo, key):
    text = json.dumps(key, ensure_ascii=False)
    assert_error(post_meta(demo, {"Meta": {key: "v"}}), 400,
                 f"{text} is invalid; metadata keys must be valid dotted hcl identifiers")


def test_metadata_accepts_unicode_identifier_keys(demo):
    reply = post_meta(demo, {"Meta": {key: "v" for key in VALID_KEYS}})
    assert reply.status == 200, reply.text
    assert all(reply.json()["Meta"][key] == "v" for key in VALID_KEYS)
    assert all(node_state(demo)["dynamic"][key] == "v" for key in VALID_KEYS)


def test_metadata_lower_case_field_names_are_accepted(demo):
    assert post_meta(demo, {"meta": {"lower": "yes"}}).json()["Meta"]["lower"] == "yes"


def test_metadata_unknown_nodes(demo):
    assert_error(demo.nomad("GET", f"/v1/client/metadata?node_id={UNKNOWN_ID}"), 500, f"Unknown node {UNKNOWN_ID}")
    assert_error(post_meta(demo, {"Meta": {"a": "b"}}, f"?node_id={UNKNOWN_ID}"), 500, f"Unknown node {UNKNOWN_ID}")
    assert_error(demo.nomad("GET", "/v1/client/metadata?node_id=abc"), 500,
                 "node lookup failed: index error: UUID must be 36 characters")


def test_metadata_node_id_in_body_and_query(start_sandbox):
    sandbox = start_sandbox(["--inspect"], config={
        "nodes": [{"name": "a"}, {"name": "b"}],
        "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}]})
    first, second = (n["id"] for n in sandbox.info["nodes"])
    assert post_meta(sandbox, {"NodeID": second, "Meta": {"where": "body"}}).status == 200
    assert post_meta(sandbox, {"NodeID": second, "Meta": {"where": "query"}}, f"?node_id={first}").status == 200
    assert node_state(sandbox, second)["dynamic"] == {"where": "body"}
    assert node_state(sandbox, first)["dynamic"] == {"where": "query"}
    assert sandbox.nomad("GET", f"/v1/client/metadata?node_id={second}").json()["Dynamic"] == {"where": "body"}


# --- host stats ---------------------------------------------------------------------------------

def meminfo_total():
    with open("/proc/meminfo", encoding="ascii") as handle:
        return int(next(line for line in handle if line.startswith("MemTotal:")).split()[1]) * 1024


def test_host_stats_are_this_machines(demo):
    reply = demo.nomad("GET", "/v1/client/stats")
    assert reply.status == 200 and "X-Nomad-Index" not in reply.headers
    stats = reply.json()
    assert stats["Memory"]["Total"] == meminfo_total()
    assert 0 < stats["Memory"]["Available"] <= stats["Memory"]["Total"]
    assert stats["Memory"]["Used"] == stats["Memory"]["Total"] - stats["Memory"]["Available"]
    with open("/proc/stat", encoding="ascii") as handle:
        cpus = [line.split()[0] for line in handle if line.startswith("cpu") and not line.startswith("cpu ")]
    assert [c["CPU"] for c in stats["CPU"]] == cpus
    for cpu in stats["CPU"]:
        # iowait, steal and irq time are in none of the three, so under load they sum to less than 100.
        assert 0 <= cpu["Idle"] <= 100 and 0 < cpu["User"] + cpu["System"] + cpu["Idle"] <= 100.5
    assert abs(stats["Timestamp"] - time.time_ns()) < 60 * 10 ** 9
    with open("/proc/uptime", encoding="ascii") as handle:
        assert abs(stats["Uptime"] - float(handle.read().split()[0])) < 60
    statvfs = os.statvfs(demo.info["state_dir"])
    (disk,) = stats["DiskStats"]
    assert disk["Size"] == statvfs.f_blocks * statvfs.f_frsize
    assert stats["AllocDirStats"]["Size"] == disk["Size"]
    assert stats["CPUTicksConsumed"] == pytest.approx(sum(c["TotalTicks"] for c in stats["CPU"]))


def test_host_stats_of_an_unknown_node_is_404(demo):
    assert_error(demo.nomad("GET", f"/v1/client/stats?node_id={UNKNOWN_ID}"), 404, f"Unknown node {UNKNOWN_ID}")


# --- allocation stats ---------------------------------------------------------------------------

def rss_of(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        return int(next(line for line in handle if line.startswith("VmRSS:")).split()[1]) * 1024


def test_allocation_stats_are_the_workers(demo):
    assert request("GET", demo.alloc["tasks"]["app"]["app_url"]).status == 200  # starts the worker
    pid = demo.task_state()["pools"]["default"]["worker_pid"]
    reply = demo.nomad("GET", f"/v1/client/allocation/{demo.alloc_id}/stats")
    assert reply.status == 200
    stats = reply.json()
    usage = stats["Tasks"]["app"]["ResourceUsage"]
    assert usage["MemoryStats"]["RSS"] == pytest.approx(rss_of(pid), rel=0.5)
    assert usage["CpuStats"]["Percent"] >= 0
    assert stats["ResourceUsage"]["MemoryStats"]["RSS"] == usage["MemoryStats"]["RSS"]
    assert stats["Tasks"]["app"]["Timestamp"] > 10 ** 18
    filtered = demo.nomad("GET", f"/v1/client/allocation/{demo.alloc_id}/stats?task=nope").json()
    assert filtered["Tasks"] == {} and filtered["ResourceUsage"]["MemoryStats"]["RSS"] == 0


def test_client_allocation_errors(demo):
    base = "/v1/client/allocation"
    assert_error(demo.nomad("GET", f"{base}/{demo.alloc_id}/nope"), 404, "resource not found")
    assert_error(demo.nomad("GET", f"{base}/{demo.alloc_id}"), 404, "resource not found")
    assert_error(demo.nomad("GET", f"{base}/{demo.alloc_id}/stats/x"), 404, "resource not found")
    assert_error(demo.nomad("GET", f"{base}/{demo.alloc_id[:8]}/stats"), 500,
                 "alloc lookup failed: index error: UUID must be 36 characters")
    assert_error(demo.nomad("GET", f"{base}/{UNKNOWN_ID}/stats"), 404, f'Unknown allocation "{UNKNOWN_ID}"')
    assert_error(demo.nomad("GET", f"{base}/{UNKNOWN_ID}/gc"), 404, f'Unknown allocation "{UNKNOWN_ID}"')


# --- garbage collection -------------------------------------------------------------------------

def test_running_allocation_is_not_eligible_for_gc(demo):
    assert_error(demo.nomad("GET", f"/v1/client/allocation/{demo.alloc_id}/gc"), 500,
                 "No such allocation on client, or allocation not eligible for GC")
    assert os.path.isdir(demo.inspect("state")["allocs"][demo.alloc_id]["dir"])


def test_stopped_allocation_is_collected(start_sandbox):
    sandbox = start_sandbox(["--inspect"])
    request("GET", sandbox.alloc["tasks"]["app"]["app_url"])
    pid = sandbox.task_state()["pools"]["default"]["worker_pid"]
    alloc_dir = sandbox.inspect("state")["allocs"][sandbox.alloc_id]["dir"]
    assert sandbox.inspect(f"allocs/{sandbox.alloc_id}/stop", "POST", {})["client_status"] == "complete"
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped
    alloc = sandbox.nomad("GET", f"/v1/allocation/{sandbox.alloc_id}").json()
    assert (alloc["ClientStatus"], alloc["DesiredStatus"]) == ("complete", "stop")
    assert alloc["TaskStates"]["app"]["State"] == "dead"
    assert alloc["TaskStates"]["app"]["FinishedAt"] != "0001-01-01T00:00:00Z"
    reply = sandbox.nomad("GET", f"/v1/client/allocation/{sandbox.alloc_id}/gc")
    assert (reply.status, reply.body) == (200, b"")
    assert "Content-Type" not in reply.headers or "json" not in reply.headers["Content-Type"]
    assert not os.path.exists(alloc_dir)
    assert sandbox.inspect("state")["allocs"][sandbox.alloc_id]["collected"] is True
    # the servers still know it; the client no longer has anything to collect
    assert sandbox.nomad("GET", f"/v1/allocation/{sandbox.alloc_id}").status == 200
    assert_error(sandbox.nomad("GET", f"/v1/client/allocation/{sandbox.alloc_id}/gc"), 500,
                 "No such allocation on client, or allocation not eligible for GC")


def test_client_gc_collects_every_terminal_allocation(start_sandbox):
    config = {"nodes": [{"name": "n1"}],
              "jobs": [{"id": "web", "groups": [{"name": "web", "count": 2, "tasks": [{"name": "app"}]}]}]}
    sandbox = start_sandbox(["--inspect"], config=config)
    stopped, running = (a["id"] for a in sandbox.info["allocs"])
    sandbox.inspect(f"allocs/{stopped}/stop", "POST", {})
    assert_error(sandbox.nomad("GET", "/v1/client/gc?node_id=abc"), 500,
                 "node lookup failed: index error: UUID must be 36 characters")
    reply = sandbox.nomad("PUT", "/v1/client/gc")
    assert (reply.status, reply.body) == (200, b"")
    allocs = sandbox.inspect("state")["allocs"]
    assert allocs[stopped]["collected"] is True and not os.path.exists(allocs[stopped]["dir"])
    assert allocs[running]["collected"] is False and os.path.isdir(allocs[running]["dir"])
