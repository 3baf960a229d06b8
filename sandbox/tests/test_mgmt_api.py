"""Management API routing as ASP.NET Core does it for upstream v0.20.1 (README, "Faithful quirks"):
the Host header's port, 405 with Allow before authentication, 404 for unknown templates,
case-insensitive literals, trailing slashes, the plugin banner, and allocation/task lookup."""

from __future__ import annotations

import urllib.parse

import pytest

from conftest import SandboxProcess

UNKNOWN_ALLOC = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """Node `a` runs job `web` (task `app` with driver iis plus a `sidecar` with another driver);
    node `b` runs job `other`."""
    config = {
        "nodes": [{"name": "a"}, {"name": "b"}],
        "jobs": [
            {"id": "web", "groups": [{"name": "web", "nodes": ["a"],
                                      "tasks": [{"name": "app"}, {"name": "sidecar", "driver": "docker"}]}]},
            {"id": "other", "groups": [{"name": "other", "nodes": ["b"], "tasks": [{"name": "app"}]}]},
        ],
    }
    sandbox = SandboxProcess(tmp_path_factory.mktemp("routing"), ["--api-key", "k"], config)
    yield sandbox
    assert not sandbox.stop()


def alloc_of(sandbox, job: str) -> str:
    return next(a["id"] for a in sandbox.info["allocs"] if a["job"] == job)


def api_port(sandbox) -> int:
    return urllib.parse.urlsplit(sandbox.api_url).port


# --- Host -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("host, status", [
    ("127.0.0.1", 404), ("127.0.0.1:80", 404), ("127.0.0.1:1", 404),
    ("127.0.0.1:{port}", 200), ("localhost:{port}", 200), ("node.example:{port}", 200),
])
def test_the_host_header_must_carry_the_api_port(demo, host, status):
    host = host.format(port=api_port(demo))
    reply = demo.api("GET", "status", headers={"Host": host})
    assert reply.status == status
    if status == 404:
        assert reply.body == b""


def test_a_wrong_host_is_404_before_authentication_and_before_405(demo):
    assert demo.api("GET", "status", key=None, headers={"Host": "127.0.0.1"}).status == 404
    assert demo.api("GET", "start", headers={"Host": "127.0.0.1"}).status == 404


# --- verbs and templates --------------------------------------------------------------------------

@pytest.mark.parametrize("method, route, allow", [
    ("GET", "start", "PUT"), ("POST", "stop", "PUT"), ("DELETE", "recycle", "PUT"),
    ("POST", "status", "GET"), ("HEAD", "status", "GET"), ("PUT", "screenshot", "GET"),
    ("POST", "procdump", "GET"), ("PUT", "/api/v1/debug", "GET"),
    ("POST", "fs/local", "DELETE, GET, PATCH, PUT"), ("OPTIONS", "fs/local", "DELETE, GET, PATCH, PUT"),
    ("POST", "/", "GET"),
])
def test_a_wrong_verb_is_405_with_allow_even_without_credentials(demo, method, route, allow):
    reply = demo.api(method, route, key=None)
    assert reply.status == 405
    assert reply.headers["Allow"] == allow
    assert reply.body == b""


@pytest.mark.parametrize("route", [
    "upload", "fs", "fs/local/index.html", "status/extra", "/api/v1/allocs/{alloc}/upload",
    "/api/v1/allocs/{alloc}", "/api/v2/debug", "/api/v1/debug/x", "/api", "/v1/debug", "/favicon.ico",
])
def test_an_unknown_template_is_404_even_without_credentials(demo, route):
    route = route.format(alloc=demo.alloc_id)
    for key in ("default", None):
        reply = demo.api("GET", route, key=key)
        assert (reply.status, reply.body) == (404, b""), (route, key)


@pytest.mark.parametrize("route", [
    "/API/V1/ALLOCS/{alloc}/app/STATUS", "/Api/v1/Allocs/{alloc}/app/Status", "/API/V1/DEBUG",
])
def test_literal_segments_are_case_insensitive(demo, route):
    assert demo.api("GET", route.format(alloc=demo.alloc_id)).status == 200


@pytest.mark.parametrize("route", ["status/", "/api/v1/debug/", "x/../status", "./status"])
def test_trailing_slash_and_dot_segments(demo, route):
    reply = demo.api("GET", route)
    assert reply.status == 200


def test_the_plugin_banner_needs_no_authentication_and_ignores_the_host(demo):
    for headers in ({}, {"Host": "example.org"}):
        reply = demo.api("GET", "/", key=None, headers=headers)
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        assert reply.text.startswith("This binary is a plugin. These are not meant to be executed directly.")


# --- allocation and task lookup -------------------------------------------------------------------

def test_status_of_the_running_iis_task(two_nodes):
    alloc = alloc_of(two_nodes, "web")
    reply = two_nodes.api("GET", f"/api/v1/allocs/{alloc}/app/status")
    assert reply.status == 200 and reply.json()["allocId"] == alloc


@pytest.mark.parametrize("alloc, task", [
    (UNKNOWN_ALLOC, "app"), ("web", "nope"), ("web", "APP"), ("web", "sidecar"), ("WEB", "app"),
    ("web-prefix", "app"), ("other", "app"),
], ids=["unknown-alloc", "unknown-task", "task-name-case", "non-iis-task", "alloc-id-case",
        "alloc-id-prefix", "alloc-on-another-node"])
def test_unknown_allocations_and_tasks_are_404(two_nodes, alloc, task):
    web = alloc_of(two_nodes, "web")
    alloc = {"web": web, "WEB": web.upper(), "web-prefix": web[:8],
             "other": alloc_of(two_nodes, "other")}.get(alloc, alloc)
    for route in ("status", "procdump", "screenshot"):
        reply = two_nodes.api("GET", f"/api/v1/allocs/{alloc}/{task}/{route}")
        assert (reply.status, reply.body) == (404, b""), route
    assert two_nodes.api("PUT", f"/api/v1/allocs/{alloc}/{task}/stop").status == 404


def test_each_node_answers_for_its_own_allocations(two_nodes):
    other = alloc_of(two_nodes, "other")
    node_b = next(n for n in two_nodes.info["nodes"] if n["name"] == "b")
    reply = two_nodes.api("GET", f"{node_b['management_api_url']}/api/v1/allocs/{other}/app/status")
    assert reply.status == 200 and reply.json()["allocId"] == other
