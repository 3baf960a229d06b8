"""Nodes as Nomad lists them (pools, classes, statuses, eligibility, drains, driver health, a `down`
twin of a rebuilt node) and `?filter=` on /v1/nodes and /v1/allocations, over HTTP."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from conftest import SandboxProcess
from nomad_iis_sandbox.config import ConfigError, parse_config

READER = "4c1d8f0a-1b2c-4d3e-8f90-0a1b2c3d4e5f"
CONFIG = {
    "nodes": [
        # The old registration of a rebuilt machine: same name, down, no allocations.
        {"name": "win-node-1", "status": "down", "meta": {"rack": "r1"}},
        {"name": "win-node-1", "node_pool": "windows", "node_class": "web", "meta": {"rack": "r1"}},
        {"name": "win-node-2", "datacenter": "dc2", "node_pool": "windows", "eligible": False, "meta": {"rack": "r2"}},
        {"name": "win-node-3", "drivers": {"iis": "unhealthy", "raw_exec": "healthy", "docker": "undetected"},
         "drain": True, "management_api": False},
    ],
    "jobs": [
        {"id": "web", "groups": [{"name": "web", "count": 2, "nodes": ["win-node-1", "win-node-2"],
                                  "tasks": [{"name": "app"}]}]},
        {"id": "reports", "namespace": "apps", "groups": [{"name": "reports", "nodes": ["win-node-2"],
                                                           "tasks": [{"name": "app"}]}]},
    ],
    "acl": {"policies": [{"name": "reader", "namespace": {"default": "read"}, "node": "read"}],
            "tokens": [{"name": "reader", "secret_id": READER, "policies": ["reader"]}]},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("filter"), ["--acl", "--inspect"], CONFIG)
    yield sandbox
    assert not sandbox.stop()


def get(sandbox, path, token="management", **params):
    token = sandbox.info["nomad_token"] if token == "management" else token
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    return sandbox.nomad("GET", path + query, headers={"X-Nomad-Token": token} if token else {})


def ok(reply):
    assert reply.status == 200, reply.text
    return reply.json()


def by_name(stubs):
    found = {}
    for stub in stubs:
        found.setdefault(stub["Name"], []).append(stub)
    return found


def test_node_stubs_carry_pool_class_status_eligibility_drain_and_drivers(cluster):
    nodes = by_name(ok(get(cluster, "/v1/nodes")))
    assert sorted(nodes) == ["win-node-1", "win-node-2", "win-node-3"]
    (old, new) = sorted(nodes["win-node-1"], key=lambda s: s["CreateIndex"])
    assert (old["Status"], new["Status"]) == ("down", "ready")
    assert old["ID"] != new["ID"]
    assert (new["NodePool"], new["NodeClass"], new["Datacenter"]) == ("windows", "web", "dc1")
    (two,) = nodes["win-node-2"]
    assert (two["Datacenter"], two["SchedulingEligibility"], two["Drain"]) == ("dc2", "ineligible", False)
    (three,) = nodes["win-node-3"]
    assert (three["NodePool"], three["Drain"], three["SchedulingEligibility"]) == ("default", True, "ineligible")
    drivers = three["Drivers"]
    assert {name: (d["Detected"], d["Healthy"]) for name, d in drivers.items()} == {
        "iis": (True, False), "raw_exec": (True, True), "docker": (False, False)}
    assert drivers["iis"]["Attributes"]["driver.iis.management_api_enabled"] == "false"
    assert drivers["docker"]["Attributes"] == {}
    assert new["Drivers"]["iis"]["Healthy"] is True
    assert new["Drivers"]["iis"]["Attributes"]["driver.iis.management_api_enabled"] == "true"


def test_full_nodes_have_driver_attributes_only_while_detected_and_a_drain_strategy(cluster):
    three = next(s for s in ok(get(cluster, "/v1/nodes")) if s["Name"] == "win-node-3")
    node = ok(get(cluster, "/v1/node/" + three["ID"]))
    attributes = node["Attributes"]
    assert attributes["driver.iis"] == "1" and attributes["driver.raw_exec"] == "1"
    assert "driver.docker" not in attributes
    assert node["DrainStrategy"]["Deadline"] == 3600 * 10 ** 9  # DrainSpec is embedded: its fields are top level
    one = next(s for s in ok(get(cluster, "/v1/nodes")) if s["Name"] == "win-node-2")
    assert ok(get(cluster, "/v1/node/" + one["ID"]))["DrainStrategy"] is None


def test_down_nodes_get_no_allocations(cluster):
    down = next(s for s in ok(get(cluster, "/v1/nodes")) if s["Status"] == "down")
    assert ok(get(cluster, "/v1/node/%s/allocations" % down["ID"])) == []
    nodes = {a["NodeName"] for a in ok(get(cluster, "/v1/allocations", namespace="*"))}
    assert nodes == {"win-node-1", "win-node-2"}
    assert all(a["NodeID"] != down["ID"] for a in ok(get(cluster, "/v1/allocations", namespace="*")))


@pytest.mark.parametrize("expression, names", [
    ('Status == "ready"', ["win-node-1", "win-node-2", "win-node-3"]),
    ('Status != "down" and NodePool == "windows"', ["win-node-1", "win-node-2"]),
    # Meta and Attributes are not in the stubs: the filter runs on the full node
    ('Meta.rack == "r2"', ["win-node-2"]),
    ('Meta["rack"] == "r1" and Datacenter == "dc1" and Status == ready', ["win-node-1"]),
    ('Attributes["kernel.name"] == "windows" and "docker" in Drivers', ["win-node-3"]),
    ("Drivers.iis.Healthy == true and Drivers.iis.Detected == true and Status == ready", ["win-node-1", "win-node-2"]),
    ('SchedulingEligibility == "ineligible"', ["win-node-2", "win-node-3"]),
    ("DrainStrategy is not empty", ["win-node-3"]),
    ('Name matches "-[23]$"', ["win-node-2", "win-node-3"]),
])
def test_nodes_filter(cluster, expression, names):
    assert sorted(s["Name"] for s in ok(get(cluster, "/v1/nodes", filter=expression))) == names


def test_nodes_filter_combines_with_prefix(cluster):
    two = next(s for s in ok(get(cluster, "/v1/nodes")) if s["Name"] == "win-node-2")
    assert [s["ID"] for s in ok(get(cluster, "/v1/nodes", prefix=two["ID"][:4], filter='Datacenter == "dc2"'))] == [two["ID"]]
    assert ok(get(cluster, "/v1/nodes", prefix=two["ID"][:4], filter='Datacenter == "dc1"')) == []


def test_bad_node_filters_are_400_with_nomads_text(cluster):
    reply = get(cluster, "/v1/nodes", filter="NotValid")
    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.text.startswith("failed to create result paginator: failed to read filter expression: 1:9 (8): no match found")
    # Address and Version exist on the stubs only, not on the node the filter reads.
    reply = get(cluster, "/v1/nodes", filter='Address == "127.0.0.1"')
    assert (reply.status, reply.text) == (400, 'failed to read result page: error finding value in datum: /Address at part 0: '
                                               'couldn\'t find struct field with name "Address"')


def test_acl_is_checked_before_the_filter(cluster):
    assert get(cluster, "/v1/nodes", token=None, filter="NotValid").status == 403
    assert get(cluster, "/v1/nodes", token=READER, filter="NotValid").status == 400
    assert len(ok(get(cluster, "/v1/nodes", token=READER, filter='Status == "ready"'))) == 3


def test_allocations_filter_runs_on_the_full_allocation(cluster):
    every = ok(get(cluster, "/v1/allocations", namespace="*"))
    assert len(every) == 3
    on_two = ok(get(cluster, "/v1/allocations", namespace="*", filter='NodeName == "win-node-2"'))
    assert sorted(a["JobID"] for a in on_two) == ["reports", "web"]
    running = ok(get(cluster, "/v1/allocations", filter='TaskStates.app.State == "running" and JobID == web'))
    assert len(running) == 2 and {a["Namespace"] for a in running} == {"default"}
    # the embedded job is part of what the filter sees
    assert len(ok(get(cluster, "/v1/allocations", namespace="*", filter='Job.Namespace == "apps"'))) == 1
    reply = get(cluster, "/v1/allocations", filter='JobID = "web"')
    assert reply.status == 400 and reply.text.startswith("failed to create result paginator: failed to read filter expression: ")


def test_the_job_allocations_endpoint_ignores_filters_as_nomad_does(cluster):
    # Job.Allocations does not go through the paginator.
    assert len(ok(get(cluster, "/v1/job/web/allocations", filter="NotValid"))) == 2


@pytest.mark.parametrize("nodes, message", [
    ([{"name": "a"}, {"name": "a"}], "node names must be unique, except for nodes with status down"),
    ([{"name": "a", "status": "gone"}], "status must be one of initializing, ready, down, disconnected"),
    ([{"name": "a", "drivers": {"iis": "sick"}}], "each driver is healthy, unhealthy, undetected"),
])
def test_node_config_is_checked(nodes, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({"nodes": nodes})
    assert message in str(caught.value)


def test_allocations_are_not_placed_on_a_down_node():
    config = {"nodes": [{"name": "gone", "status": "down"}, {"name": "a"}],
              "jobs": [{"id": "web", "groups": [{"name": "web", "nodes": ["gone"], "tasks": [{"name": "app"}]}]}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(config)
    assert "unknown node 'gone'" in str(caught.value)
    assert parse_config(json.loads(json.dumps({"nodes": config["nodes"]}))).nodes[0].status == "down"
