"""Agent endpoints: self, members, servers, join, force-leave, health and pprof."""

import gzip
import time
import urllib.parse

import pytest

from conftest import SandboxProcess


def assert_error(reply, status, text):
    assert (reply.status, reply.text) == (status, text)


def member_status(sandbox):
    members = sandbox.nomad("GET", "/v1/agent/members").json()["Members"]
    return {m["Name"]: m["Status"] for m in members}


CONFIG = {
    "enable_debug": False,
    "nodes": [{"name": "win-1", "datacenter": "dc2"}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}],
    "members": [{"name": "nomad-2.global", "address": "10.0.0.12:4648"},
                {"name": "nomad-3.global", "address": "127.0.0.3:4648", "status": "failed"}],
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Three servers in the gossip pool, and enable_debug off."""
    sandbox = SandboxProcess(tmp_path_factory.mktemp("agent"), ["--inspect"], CONFIG)
    yield sandbox
    assert not sandbox.stop()


# --- self, members, health ----------------------------------------------------------------------

def test_agent_self(demo):
    reply = demo.nomad("GET", "/v1/agent/self")
    assert reply.status == 200 and "X-Nomad-Index" not in reply.headers
    body = reply.json()
    config, member, stats = body["config"], body["member"], body["stats"]
    assert config["Version"]["Version"] == "1.10.5"
    assert (config["Region"], config["Datacenter"], config["NodeName"]) == ("global", "dc1", demo.node["name"])
    # Windows paths, as the node's agent reports them (they map onto the state dir).
    assert config["DataDir"] == "C:\\nomad\\data"
    assert config["Client"]["AllocDir"] == "C:\\nomad\\data\\alloc"
    assert config["Client"]["Enabled"] is True and config["Server"]["Enabled"] is True
    assert config["ACL"] == {**config["ACL"], "Enabled": False, "ReplicationToken": ""}
    assert config["Ports"]["HTTP"] == urllib.parse.urlsplit(demo.nomad_addr).port
    assert config["TLSConfig"]["EnableHTTP"] is False
    assert (member["Name"], member["Status"], member["Port"]) == (f"{demo.node['name']}.global", "alive", 4648)
    assert stats["client"]["node_id"] == demo.node["id"]
    assert stats["client"]["known_servers"] == "127.0.0.1:4647"
    assert all(isinstance(v, str) for section in stats.values() for v in section.values())
    assert_error(demo.nomad("POST", "/v1/agent/self"), 405, "Invalid method")


def test_members_lists_the_gossip_pool(cluster):
    reply = cluster.nomad("GET", "/v1/agent/members")
    body = reply.json()
    assert (body["ServerName"], body["ServerRegion"], body["ServerDC"]) == ("win-1", "global", "dc2")
    assert member_status(cluster) == {"win-1.global": "alive", "nomad-2.global": "alive",
                                      "nomad-3.global": "failed"}
    own = body["Members"][0]
    assert (own["Addr"], own["Port"], own["Tags"]["role"], own["Tags"]["port"]) == ("127.0.0.1", 4648, "nomad", "4647")
    assert cluster.nomad("GET", "/v1/agent/self").json()["stats"]["serf"]["failed"] == "1"
    assert_error(cluster.nomad("PUT", "/v1/agent/members"), 405, "Invalid method")


def test_health(demo):
    assert demo.nomad("GET", "/v1/agent/health").json() == {
        "client": {"ok": True, "message": "ok"}, "server": {"ok": True, "message": "ok"}}
    assert demo.nomad("GET", "/v1/agent/health?type=client").json() == {"client": {"ok": True, "message": "ok"}}
    assert demo.nomad("GET", "/v1/agent/health?type=other").json() == {}
    assert_error(demo.nomad("POST", "/v1/agent/health"), 405, "Invalid method")


# --- servers ------------------------------------------------------------------------------------

def test_servers_are_listed_and_replaced(start_sandbox):
    sandbox = start_sandbox()
    assert sandbox.nomad("GET", "/v1/agent/servers").json() == ["127.0.0.1:4647"]
    reply = sandbox.nomad("PUT", "/v1/agent/servers?address=10.0.0.5:4647&address=10.0.0.4&address=localhost:4700")
    assert (reply.status, reply.body) == (200, b"")
    servers = sandbox.nomad("GET", "/v1/agent/servers").json()
    assert servers == ["10.0.0.4:4647", "10.0.0.5:4647", "127.0.0.1:4700"]
    assert sandbox.nomad("GET", "/v1/agent/self").json()["stats"]["client"]["known_servers"] == ",".join(
        ["10.0.0.5:4647", "10.0.0.4:4647", "127.0.0.1:4700"])
    # one good address is enough; the bad one is dropped
    assert sandbox.nomad("POST", "/v1/agent/servers?address=a:b:c&address=10.0.0.9:4647").status == 200
    assert sandbox.nomad("GET", "/v1/agent/servers").json() == ["10.0.0.9:4647"]


@pytest.mark.parametrize("query, text", [
    ("", "missing server address"),
    ("?address=a:b:c", "1 error occurred:\n\t* address a:b:c: too many colons in address\n\n"),
    ("?address=10.0.0.1:abc", "1 error occurred:\n\t* lookup tcp/abc: unknown port\n\n"),
    ("?address=10.0.0.1:99999", "1 error occurred:\n\t* address 99999: invalid port\n\n"),
    ("?address=[::1&address=a:b:c", "2 errors occurred:\n\t* address [::1: missing ']' in address\n\t"
                                    "* address a:b:c: too many colons in address\n\n"),
])
def test_bad_server_addresses_are_400(demo, query, text):
    assert_error(demo.nomad("PUT", f"/v1/agent/servers{query}"), 400, text)
    assert demo.nomad("GET", "/v1/agent/servers").json() == ["127.0.0.1:4647"]


def test_servers_other_methods(demo):
    assert_error(demo.nomad("DELETE", "/v1/agent/servers"), 405, "Invalid method")


# --- join and force-leave -----------------------------------------------------------------------

def test_join_needs_an_address_and_put_or_post(cluster):
    assert_error(cluster.nomad("PUT", "/v1/agent/join"), 400, "missing address to join")
    assert_error(cluster.nomad("GET", "/v1/agent/join?address=10.0.0.12"), 405, "Invalid method")


def test_join_unknown_addresses_fails_as_serf_does(cluster):
    reply = cluster.nomad("PUT", "/v1/agent/join?address=10.9.9.9&address=127.0.0.9:4648&address=x:y")
    assert reply.json() == {"num_joined": 0, "warning": "", "error": (
        "3 errors occurred:\n"
        "\t* Failed to join 10.9.9.9:4648: dial tcp 10.9.9.9:4648: i/o timeout\n"
        "\t* Failed to join 127.0.0.9:4648: dial tcp 127.0.0.9:4648: connect: connection refused\n"
        '\t* Failed to resolve x:y: strconv.ParseUint: parsing "y": invalid syntax\n\n')}


def test_force_leave_then_join_revives_and_prune_forgets(cluster):
    assert_error(cluster.nomad("PUT", "/v1/agent/force-leave"), 400, "missing node to force leave")
    assert_error(cluster.nomad("PUT", "/v1/agent/force-leave?node=nomad-2.global&prune=maybe"), 400,
                 "invalid prune value")
    assert_error(cluster.nomad("GET", "/v1/agent/force-leave?node=nomad-2.global"), 405, "Invalid method")
    reply = cluster.nomad("POST", "/v1/agent/force-leave?node=nomad-2.global")
    assert (reply.status, reply.body) == (200, b"")
    assert member_status(cluster)["nomad-2.global"] == "left"
    joined = cluster.nomad("POST", "/v1/agent/join?address=10.0.0.12&address=10.9.9.9").json()
    assert joined == {"num_joined": 1, "error": "", "warning": ""}
    assert member_status(cluster)["nomad-2.global"] == "alive"
    assert cluster.nomad("PUT", "/v1/agent/force-leave?node=nomad-3.global&prune=true").status == 200
    assert "nomad-3.global" not in member_status(cluster)
    again = cluster.nomad("PUT", "/v1/agent/join?address=127.0.0.3:4648").json()
    assert again["num_joined"] == 0 and "connection refused" in again["error"]
    assert cluster.nomad("PUT", "/v1/agent/force-leave?node=nobody").status == 200


# --- pprof --------------------------------------------------------------------------------------

def test_pprof_cmdline_is_the_sandbox_command_line(demo):
    reply = demo.nomad("GET", "/v1/agent/pprof/cmdline")
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    with open(f"/proc/{demo.process.pid}/cmdline", "rb") as handle:
        assert reply.body == handle.read().rstrip(b"\0")


def test_pprof_goroutine_text_and_binary(demo):
    text = demo.nomad("GET", "/v1/agent/pprof/goroutine?debug=1")
    assert text.status == 200 and text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.text.startswith("goroutine profile: total ") and "# thread MainThread" in text.text
    binary = demo.nomad("GET", "/v1/agent/pprof/goroutine")
    assert binary.headers["Content-Type"] == "application/octet-stream"
    assert binary.headers["Content-Disposition"] == 'attachment; filename="goroutine"'
    assert gzip.decompress(binary.body).startswith(b"nomad-iis-sandbox goroutine profile")
    heap = demo.nomad("GET", "/v1/agent/pprof/heap?debug=x")  # a bad integer is 0, as in Go
    assert heap.headers["Content-Type"] == "application/octet-stream"


def test_pprof_cpu_profile_takes_its_seconds(demo):
    started = time.monotonic()
    reply = demo.nomad("GET", "/v1/agent/pprof/profile?seconds=1")
    assert reply.status == 200 and time.monotonic() - started >= 1
    assert reply.headers["Content-Disposition"] == 'attachment; filename="profile"'


def test_pprof_errors(demo):
    assert_error(demo.nomad("GET", "/v1/agent/pprof/"), 404, "Invalid method")
    assert_error(demo.nomad("GET", "/v1/agent/pprof/nope"), 404, "Pprof profile not found profile: nope")
    assert_error(demo.nomad("GET", "/v1/agent/pprof/cmdline?node_id=a&server_id=b"), 400,
                 "Cannot target node and server simultaneously")


def test_pprof_needs_enable_debug_without_acls(cluster):
    assert cluster.nomad("GET", "/v1/agent/self").json()["config"]["EnableDebug"] is False
    assert_error(cluster.nomad("GET", "/v1/agent/pprof/cmdline"), 403, "Permission denied")
    assert_error(cluster.nomad("GET", "/v1/agent/pprof/"), 404, "Invalid method")
