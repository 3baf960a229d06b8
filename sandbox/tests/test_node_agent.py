"""A node's Nomad agent through the inspection endpoint: stop (down, Management API gone), change the
installed driver (409 while running), start (initializing, then ready with the new fingerprint and
key), failing starts, the plugin loader's version-gated config keys, and /v1/agent/self showing the
plugin block with its secrets, as Nomad does."""

import json
import socket
import time

import pytest

from conftest import SandboxProcess
from sandbox_http import request

CONFIG = {
    "nodes": [{"name": "win-1"}, {"name": "win-2", "driver_version": None}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "nodes": ["win-1"], "tasks": [{"name": "app"}]}]}],
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def admin(sandbox, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    return request(method, f"{sandbox.info['inspect_url']}/nodes/{path}", body=data,
                   headers={"Content-Type": "application/json"})


def node(sandbox, name):
    return sandbox.nomad("GET", f"/v1/node/{sandbox.ids[name]}").json()


@pytest.fixture
def cluster(tmp_path):
    sandbox = SandboxProcess(tmp_path, ["--inspect", "--api-key", "old-key"], CONFIG)
    sandbox.ids = {n["name"]: n["id"] for n in sandbox.info["nodes"]}
    yield sandbox
    assert not sandbox.stop()


def test_upgrade_by_hand(cluster):
    before = node(cluster, "win-1")
    assert before["Drivers"]["iis"]["Attributes"]["driver.iis.version"] == "0.20.1"
    old_api = cluster.api_url
    assert request("GET", f"{old_api}/api/v1/debug", headers={"X-Api-Key": "old-key"}).status == 200

    new_driver = {"version": "0.19.0", "args": ["--management-api-port=%d" % free_port(), "--management-api-key=new-key"],
                  "config": {"enabled": True, "allowed_apppool_identities": ["ApplicationPoolIdentity"]},
                  "exe_sha256": "ab" * 32, "config_sha256": "cd" * 32}
    refused = admin(cluster, "PUT", "win-1/driver", new_driver)
    assert refused.status == 409 and "stop the agent first" in refused.text

    stopped = admin(cluster, "POST", "win-1/agent/stop").json()
    assert (stopped["agent"], stopped["status"]) == ("stopped", "down")
    assert node(cluster, "win-1")["Status"] == "down"
    # The last fingerprint stays in the servers' state while the node is down.
    assert node(cluster, "win-1")["Drivers"]["iis"]["Healthy"] is True
    with pytest.raises(OSError):
        request("GET", f"{old_api}/", timeout=5)
    assert cluster.inspect("state")["allocs"][cluster.alloc_id]["client_status"] == "running"

    installed = admin(cluster, "PUT", "win-1/driver", new_driver).json()
    assert installed["installed"]["exe_sha256"] == "ab" * 32 and installed["running"]["version"] == "0.20.1"

    started = admin(cluster, "POST", "win-1/agent/start", {"delay": 0.5}).json()
    assert (started["agent"], started["status"], started["running"]) == ("starting", "initializing", None)
    assert (started["agent_starts"], started["agent_stops"]) == (1, 1)
    assert node(cluster, "win-1")["Drivers"] == {}
    ready = wait_for(lambda: (n := node(cluster, "win-1"))["Status"] == "ready" and n, what="the node to be ready")
    assert [e["Message"] for e in ready["Events"][-2:]] == ["Node heartbeat missed", "Node re-registered"]
    iis = ready["Drivers"]["iis"]
    assert (iis["Detected"], iis["Healthy"]) == (True, True)
    assert iis["UpdateTime"] > before["Drivers"]["iis"]["UpdateTime"]
    assert iis["Attributes"]["driver.iis.version"] == "0.19.0"
    port = int(new_driver["args"][0].split("=")[1])
    assert iis["Attributes"]["driver.iis.management_api_port"] == str(port)
    assert ready["Attributes"]["driver.iis"] == "1"
    new_api = f"http://127.0.0.1:{port}"
    assert request("GET", f"{new_api}/api/v1/debug", headers={"X-Api-Key": "new-key"}).status == 200
    assert request("GET", f"{new_api}/api/v1/debug", headers={"X-Api-Key": "old-key"}).status == 401
    state = cluster.inspect("state")["nodes"][cluster.ids["win-1"]]
    assert state["management_api_url"] == new_api and state["running"]["api_key"] == "new-key"

    plugins = cluster.nomad("GET", "/v1/agent/self").json()["config"]["Plugins"]
    assert plugins == [{"Name": "nomad_iis", "Args": new_driver["args"], "Config": new_driver["config"]}]


def test_failing_start_and_plugin_loader_errors(cluster):
    admin(cluster, "POST", "win-1/agent/stop")
    failed = admin(cluster, "POST", "win-1/agent/start", {"fail": True}).json()
    assert (failed["agent"], failed["status"]) == ("failed", "down")
    time.sleep(0.3)
    assert node(cluster, "win-1")["Status"] == "down"

    # udp_logger_port was removed in v0.16.0: the agent does not start with it.
    admin(cluster, "PUT", "win-1/driver", {"version": "0.20.1", "config": {"enabled": True, "udp_logger_port": 0}})
    refused = admin(cluster, "POST", "win-1/agent/start", {"delay": 0}).json()
    assert refused["agent"] == "failed"
    assert 'An argument named "udp_logger_port" is not expected here' in refused["agent_error"]
    # allowed_apppool_identities only exists from v0.18.0.
    admin(cluster, "PUT", "win-1/driver", {"version": "0.17.0", "config": {"allowed_apppool_identities": []}})
    assert admin(cluster, "POST", "win-1/agent/start", {"delay": 0}).json()["agent"] == "failed"
    admin(cluster, "PUT", "win-1/driver", {"version": "0.15.0", "config": {"udp_logger_port": 0}})
    assert admin(cluster, "POST", "win-1/agent/start", {"delay": 0}).json()["agent"] == "starting"
    wait_for(lambda: node(cluster, "win-1")["Status"] == "ready", what="the node to be ready")


def test_builds_without_the_api_disabled_drivers_and_no_driver(cluster):
    # win-2 has no driver installed: no iis entry at all.
    assert node(cluster, "win-2")["Drivers"] == {}
    assert "driver.iis" not in node(cluster, "win-2")["Attributes"]
    admin(cluster, "POST", "win-2/agent/stop")
    # The build without the Management API leaves both of its attributes out; v0.11.0 says 0.10.0.
    admin(cluster, "PUT", "win-2/driver", {"version": "0.11.0", "management_api": False,
                                           "args": ["--management-api-port=5999"]})
    admin(cluster, "POST", "win-2/agent/start", {"delay": 0})
    ready = wait_for(lambda: (n := node(cluster, "win-2"))["Status"] == "ready" and n, what="win-2 ready")
    attributes = ready["Drivers"]["iis"]["Attributes"]
    assert attributes["driver.iis.version"] == "0.10.0"
    assert "driver.iis.management_api_enabled" not in attributes and "driver.iis.management_api_port" not in attributes
    admin(cluster, "POST", "win-2/agent/stop")
    admin(cluster, "PUT", "win-2/driver", {"version": "0.20.1", "config": {"enabled": False}})
    admin(cluster, "POST", "win-2/agent/start", {"delay": 0})
    ready = wait_for(lambda: (n := node(cluster, "win-2"))["Status"] == "ready" and n, what="win-2 ready")
    assert ready["Drivers"]["iis"]["Detected"] is False
    assert ready["Drivers"]["iis"]["HealthDescription"] == "Driver disabled"
    admin(cluster, "POST", "win-2/agent/stop")
    assert admin(cluster, "PUT", "win-2/driver", None).status == 400  # an empty body is refused
    removed = request("PUT", f"{cluster.info['inspect_url']}/nodes/win-2/driver", body=b"null").json()
    assert removed["installed"] is None


def test_agent_self_shows_the_plugin_block_with_its_secrets(cluster):
    config = cluster.nomad("GET", "/v1/agent/self").json()["config"]
    (plugin,) = config["Plugins"]
    assert plugin["Name"] == "nomad_iis"
    assert "--management-api-key=old-key" in plugin["Args"]
    assert plugin["Args"][0] == f"--management-api-port={cluster.info['nodes'][0]['management_api_url'].rsplit(':', 1)[1]}"
    assert config["PluginDir"] == config["DataDir"] + "\\plugins"
    assert admin(cluster, "POST", "nobody/agent/stop").status == 404
