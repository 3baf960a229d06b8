"""Server-state reads: jobs, allocations, nodes, their errors and blocking-query parameters."""

import socket
import threading
import time
import urllib.parse

import pytest

JOB_REGISTRATION_DISABLED = "Job registration, dispatch, and scale are disabled by the scheduler configuration"


def get_json(sandbox, path):
    reply = sandbox.nomad("GET", path)
    assert reply.status == 200, (path, reply.status, reply.text)
    assert reply.headers["Content-Type"] == "application/json"
    return reply.json()


def assert_error(reply, status, text):
    assert (reply.status, reply.text) == (status, text)
    if text:
        assert reply.headers["Content-Type"].startswith("text/plain")


def app_port(sandbox):
    return urllib.parse.urlsplit(sandbox.alloc["tasks"]["app"]["app_url"]).port


# --- jobs ---------------------------------------------------------------------------------------

def test_jobs_list_stubs_with_summary_and_index(demo):
    reply = demo.nomad("GET", "/v1/jobs")
    (job,) = reply.json()
    assert (job["ID"], job["Namespace"], job["Type"], job["Status"]) == ("web", "default", "service", "running")
    assert job["JobSummary"]["Summary"]["web"]["Running"] == 1
    assert "TaskGroups" not in job
    assert int(reply.headers["X-Nomad-Index"]) >= job["ModifyIndex"]
    assert reply.headers["X-Nomad-KnownLeader"] == "true"
    assert get_json(demo, "/v1/jobs?prefix=we")[0]["ID"] == "web"
    assert get_json(demo, "/v1/jobs?prefix=x") == []
    assert get_json(demo, "/v1/jobs?namespace=other") == []


def test_jobs_cannot_be_registered_and_other_verbs_are_refused(demo):
    assert_error(demo.nomad("PUT", "/v1/jobs", body=b"{}"), 403, JOB_REGISTRATION_DISABLED)
    assert_error(demo.nomad("DELETE", "/v1/jobs"), 405, "Invalid method")


def test_job_has_the_iis_task_config_as_hcl_parses_it(demo):
    job = get_json(demo, "/v1/job/web")
    (group,) = job["TaskGroups"]
    (task,) = group["Tasks"]
    assert (task["Name"], task["Driver"]) == ("app", "iis")
    assert task["Config"] == {"application": [{"path": "local"}], "binding": [{"type": "http", "port": "http"}]}
    (network,) = group["Networks"]
    assert [p["Label"] for p in network["DynamicPorts"]] == ["http"]
    assert network["ReservedPorts"] is None


def test_unknown_job_is_404_with_index_header(demo):
    reply = demo.nomad("GET", "/v1/job/nope")
    assert_error(reply, 404, "job not found")
    assert int(reply.headers["X-Nomad-Index"]) > 0


def test_job_allocations_and_unknown_job_is_empty(demo):
    (stub,) = get_json(demo, "/v1/job/web/allocations")
    assert stub["ID"] == demo.alloc_id
    assert (stub["JobID"], stub["TaskGroup"], stub["ClientStatus"]) == ("web", "web", "running")
    assert get_json(demo, "/v1/job/nope/allocations") == []
    assert_error(demo.nomad("POST", "/v1/job/web/allocations"), 405, "Invalid method")


# --- allocations --------------------------------------------------------------------------------

def test_allocation_list_prefix_rules(demo):
    alloc_id = demo.alloc_id
    assert [a["ID"] for a in get_json(demo, f"/v1/allocations?prefix={alloc_id[:4]}")] == [alloc_id]
    assert [a["ID"] for a in get_json(demo, f"/v1/allocations?prefix={alloc_id[:9]}")] == [alloc_id]
    assert [a["ID"] for a in get_json(demo, f"/v1/allocations?prefix={alloc_id[:6].upper()}")] == [alloc_id]
    assert_error(demo.nomad("GET", f"/v1/allocations?prefix={alloc_id[:5]}"), 500,
                 "alloc lookup failed: index error: Input (without hyphens) must be even length")
    assert_error(demo.nomad("GET", "/v1/allocations?prefix=zz"), 500,
                 "alloc lookup failed: index error: Invalid UUID: encoding/hex: invalid byte: U+007A 'z'")
    assert_error(demo.nomad("GET", f"/v1/allocations?prefix={alloc_id}0"), 500,
                 "alloc lookup failed: index error: Invalid UUID length. UUID have 36 characters; got 37")
    other = "ff" if not alloc_id.startswith("ff") else "00"
    assert get_json(demo, f"/v1/allocations?prefix={other}") == []


def test_allocation_list_fields_and_namespaces(demo):
    (stub,) = get_json(demo, "/v1/allocations")
    assert stub["TaskStates"]["app"]["State"] == "running"
    assert "AllocatedResources" not in stub
    (bare,) = get_json(demo, "/v1/allocations?task_states=false&resources=true")
    assert bare["TaskStates"] is None
    assert bare["AllocatedResources"]["Shared"]["Ports"][0]["Value"] == app_port(demo)
    assert get_json(demo, "/v1/allocations?namespace=other") == []
    assert len(get_json(demo, "/v1/allocations?namespace=*")) == 1
    assert_error(demo.nomad("GET", "/v1/allocations?resources=maybe"), 500,
                 'Failed to parse value of "resources" (maybe) as a bool: '
                 'strconv.ParseBool: parsing "maybe": invalid syntax')
    assert_error(demo.nomad("PUT", "/v1/allocations"), 405, "Invalid method")


def test_allocation_is_complete_with_job_ports_and_events(demo):
    alloc = get_json(demo, f"/v1/allocation/{demo.alloc_id}")
    assert (alloc["ID"], alloc["NodeID"], alloc["Job"]["ID"]) == (demo.alloc_id, demo.node["id"], "web")
    assert alloc["Name"] == "web.web[0]"
    assert alloc["AllocatedResources"]["Shared"]["Ports"] == [
        {"Label": "http", "Value": app_port(demo), "To": 0, "HostIP": "127.0.0.1"}]
    (network,) = alloc["AllocatedResources"]["Shared"]["Networks"]
    assert network["IP"] == "127.0.0.1" and network["DynamicPorts"][0]["Value"] == app_port(demo)
    state = alloc["TaskStates"]["app"]
    assert state["State"] == "running" and state["StartedAt"] != "0001-01-01T00:00:00Z"
    assert state["FinishedAt"] == "0001-01-01T00:00:00Z"
    seen = [e["Type"] + (f": {e['Message']}" if e["Message"] else "") for e in state["Events"]]
    assert seen == demo.task_state()["events"][:len(seen)]
    assert all(isinstance(e["Time"], int) and e["Time"] > 10 ** 18 for e in state["Events"])


def test_allocation_lookup_errors(demo):
    assert_error(demo.nomad("GET", f"/v1/allocation/{demo.alloc_id[:8]}"), 500,
                 "alloc lookup failed: index error: UUID must be 36 characters")
    assert_error(demo.nomad("GET", "/v1/allocation/"), 500,
                 "alloc lookup failed: index error: UUID must be 36 characters")
    bad = "g" + demo.alloc_id[1:]
    assert_error(demo.nomad("GET", f"/v1/allocation/{bad}"), 500,
                 "alloc lookup failed: index error: Invalid UUID: encoding/hex: invalid byte: U+0067 'g'")
    unknown = demo.nomad("GET", "/v1/allocation/00000000-0000-4000-8000-000000000000")
    assert_error(unknown, 404, "alloc not found")
    assert "X-Nomad-Index" in unknown.headers
    assert_error(demo.nomad("DELETE", f"/v1/allocation/{demo.alloc_id}"), 405, "Invalid method")
    assert_error(demo.nomad("GET", f"/v1/allocation/{demo.alloc_id}/nope"), 404, "resource not found")
    assert_error(demo.nomad("GET", f"/v1/allocation/{demo.alloc_id}/a/b"), 404, "resource not found")


# --- nodes --------------------------------------------------------------------------------------

def test_node_list_stubs(demo):
    (stub,) = get_json(demo, "/v1/nodes")
    assert (stub["ID"], stub["Name"], stub["Status"]) == (demo.node["id"], demo.node["name"], "ready")
    assert "HTTPAddr" not in stub and "Attributes" not in stub
    assert stub["Drivers"]["iis"]["Healthy"] is True
    (with_os,) = get_json(demo, "/v1/nodes?os=true")
    assert with_os["Attributes"] == {"os.name": "Microsoft Windows Server 2022 Datacenter"}
    assert get_json(demo, f"/v1/nodes?prefix={demo.node['id'][:4]}")[0]["ID"] == demo.node["id"]
    assert_error(demo.nomad("GET", "/v1/nodes?os=maybe"), 400,
                 'Failed to parse node list fields: Failed to parse value of "os" (maybe) as a bool: '
                 'strconv.ParseBool: parsing "maybe": invalid syntax')
    assert_error(demo.nomad("POST", "/v1/nodes"), 405, "Invalid method")


def test_node_tells_how_to_reach_the_client_and_its_management_api(demo):
    node = get_json(demo, f"/v1/node/{demo.node['id']}")
    assert node["HTTPAddr"] == urllib.parse.urlsplit(demo.nomad_addr).netloc
    assert node["TLSEnabled"] is False
    attrs = node["Attributes"]
    assert attrs["driver.iis.management_api_enabled"] == "true"
    assert attrs["driver.iis.management_api_port"] == str(urllib.parse.urlsplit(demo.api_url).port)
    assert attrs["driver.iis.version"] == "0.20.1"
    assert (attrs["kernel.name"], attrs["os.name"]) == ("windows", "Microsoft Windows Server 2022 Datacenter")
    assert attrs["unique.hostname"] == demo.node["name"]
    assert node["Drivers"]["iis"]["Healthy"] is True
    assert node["Meta"] == demo.inspect("state")["nodes"][demo.node["id"]]["meta"]


def test_node_lookup_errors(demo):
    assert_error(demo.nomad("GET", "/v1/node/00000000-0000-4000-8000-000000000000"), 404, "node not found")
    assert_error(demo.nomad("GET", f"/v1/node/{demo.node['id'][:8]}"), 500,
                 "node lookup failed: index error: UUID must be 36 characters")


# --- query parameters and blocking --------------------------------------------------------------

@pytest.mark.parametrize("query, text", [
    ("index=abc", "Invalid index"),
    ("index=-1", "Invalid index"),
    ("wait=10", "Invalid wait time"),
    ("wait=soon", "Invalid wait time"),
    ("index=abc&wait=nope", "Invalid wait time"),
    ("stale=maybe", "Expect `true` or `false` for `stale` query string parameter, got maybe"),
])
def test_bad_query_parameters_are_400(demo, query, text):
    for path in ("/v1/allocations", "/v1/jobs", f"/v1/node/{demo.node['id']}"):
        assert_error(demo.nomad("GET", f"{path}?{query}"), 400, text)


def test_blocking_query_waits_for_the_wait_time(demo):
    index = int(demo.nomad("GET", "/v1/allocations").headers["X-Nomad-Index"])
    started = time.monotonic()
    reply = demo.nomad("GET", f"/v1/allocations?index={index}&wait=300ms&stale=")
    assert reply.status == 200 and time.monotonic() - started >= 0.3
    assert int(reply.headers["X-Nomad-Index"]) == index
    quick = time.monotonic()
    assert demo.nomad("GET", f"/v1/allocations?index={index - 1}&wait=5s").status == 200
    assert time.monotonic() - quick < 2


def test_blocking_query_returns_when_the_state_changes(demo):
    index = int(demo.nomad("GET", "/v1/nodes").headers["X-Nomad-Index"])
    results = {}
    waiter = threading.Thread(target=lambda: results.update(
        reply=demo.nomad("GET", f"/v1/nodes?index={index}&wait=20s")))
    started = time.monotonic()
    waiter.start()
    changed = demo.nomad("POST", "/v1/client/metadata", body=b'{"Meta": {"blocking_probe": "1"}}')
    assert changed.status == 200
    waiter.join(30)
    assert results["reply"].status == 200 and time.monotonic() - started < 10
    assert int(results["reply"].headers["X-Nomad-Index"]) > index


def test_unknown_paths_are_empty_404s(demo):
    for path in ("/v1/nope", "/v1/jobs/", "/nope"):
        reply = demo.nomad("GET", path)
        assert (reply.status, reply.body) == (404, b"")


# --- a cluster with namespaces, several nodes and static ports -----------------------------------

CONFIG = {
    "nodes": [{"name": "win-a"}, {"name": "win-b", "management_api": False, "meta": {"rack": "r2"}}],
    "jobs": [
        {"id": "web", "groups": [{"name": "web", "nodes": ["win-a"], "tasks": [{"name": "app"}]}]},
        {"id": "shop", "namespace": "prod", "groups": [{"name": "front", "nodes": ["win-b"], "tasks": [{
            "name": "site", "config": {
                "application_pool": [{"name": "api", "start_mode": "AlwaysRunning"}],
                "application": [{"path": "local"}, {"path": "local/api", "alias": "api", "application_pool": "api"}],
                "binding": [{"type": "http", "port": "web", "static": None}]}}]}]},
    ],
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_namespaces_nodes_and_task_config(start_sandbox):
    static = free_port()
    CONFIG["jobs"][1]["groups"][0]["tasks"][0]["config"]["binding"][0]["static"] = static
    sandbox = start_sandbox(config=CONFIG)
    assert [j["ID"] for j in get_json(sandbox, "/v1/jobs")] == ["web"]
    assert [(j["Namespace"], j["ID"]) for j in get_json(sandbox, "/v1/jobs?namespace=*")] == [
        ("default", "web"), ("prod", "shop")]
    assert_error(sandbox.nomad("GET", "/v1/job/shop"), 404, "job not found")
    shop = get_json(sandbox, "/v1/job/shop?namespace=prod")
    assert shop["TaskGroups"][0]["Tasks"][0]["Config"] == {
        "application_pool": [{"name": "api", "start_mode": "AlwaysRunning"}],
        "application": [{"path": "local"}, {"path": "local/api", "alias": "api", "application_pool": "api"}],
        "binding": [{"type": "http", "port": "web"}]}
    assert len(get_json(sandbox, "/v1/allocations")) == 1
    prod = get_json(sandbox, "/v1/allocations?namespace=prod")
    assert [a["JobID"] for a in prod] == ["shop"]
    network = get_json(sandbox, f"/v1/allocation/{prod[0]['ID']}")["AllocatedResources"]["Shared"]["Networks"][0]
    assert network["ReservedPorts"][0]["Value"] == static and network["DynamicPorts"] is None
    assert shop["TaskGroups"][0]["Networks"][0]["ReservedPorts"][0]["Value"] == static
    assert get_json(sandbox, "/v1/job/shop/allocations") == []
    assert len(get_json(sandbox, "/v1/job/shop/allocations?namespace=prod")) == 1
    nodes = {n["Name"]: n for n in get_json(sandbox, "/v1/nodes")}
    assert set(nodes) == {"win-a", "win-b"}
    win_b = get_json(sandbox, f"/v1/node/{nodes['win-b']['ID']}")
    assert win_b["Attributes"]["driver.iis.management_api_enabled"] == "false"
    assert win_b["Attributes"]["driver.iis.management_api_port"] == "0"
    assert win_b["Meta"]["rack"] == "r2"
    assert [a["JobID"] for a in get_json(sandbox, f"/v1/node/{nodes['win-b']['ID']}/allocations")] == ["shop"]
