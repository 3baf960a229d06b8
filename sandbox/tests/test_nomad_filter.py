"""Nodes as Nomad lists them (pools, classes, statuses, eligibility, drains, driver health, a `down`
twin of a rebuilt node), over HTTP."""

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
    assert node["DrainStrategy"]["DrainSpec"]["Deadline"] == 3600 * 10 ** 9
    one = next(s for s in ok(get(cluster, "/v1/nodes")) if s["Name"] == "win-node-2")
    assert ok(get(cluster, "/v1/node/" + one["ID"]))["DrainStrategy"] is None


def test_down_nodes_get_no_allocations(cluster):
    down = next(s for s in ok(get(cluster, "/v1/nodes")) if s["Status"] == "down")
    assert ok(get(cluster, "/v1/node/%s/allocations" % down["ID"])) == []
    nodes = {a["NodeName"] for a in ok(get(cluster, "/v1/allocations", namespace="*"))}
    assert nodes == {"win-node-1", "win-node-2"}
    assert all(a["NodeID"] != down["ID"] for a in ok(get(cluster, "/v1/allocations", namespace="*")))


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
