"""ACLs (--acl): tokens from the config and the ready file, both token headers, and the capability
each endpoint needs, with Nomad's status codes when a token falls short."""

import json

import pytest

from conftest import SandboxProcess

UNKNOWN = "00000000-0000-4000-8000-00000000dead"
SECRETS = {
    "reader": "11111111-1111-4111-8111-111111111111",
    "writer": "22222222-2222-4222-8222-222222222222",
    "fs": "33333333-3333-4333-8333-333333333333",
    "prod": "44444444-4444-4444-8444-444444444444",
    "denied": "55555555-5555-4555-8555-555555555555",
}
CONFIG = {
    "nodes": [{"name": "win-1"}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]},
             {"id": "shop", "namespace": "prod-eu", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}],
    "acl": {
        "policies": [
            {"name": "readonly", "namespace": {"default": "read"}, "node": "read", "agent": "read"},
            {"name": "ops", "namespace": {"default": ["policy:write"], "*": ["read-job"]}, "node": "write",
             "agent": "write"},
            {"name": "files", "namespace": {"default": ["read-fs"]}},
            {"name": "prod", "namespace": {"prod-*": ["list-jobs", "read-job"]}},
            {"name": "no-default", "namespace": {"default": "deny"}, "node": "deny"},
            {"name": "anonymous", "namespace": {"public": "read"}},
        ],
        "tokens": [
            {"name": "reader", "secret_id": SECRETS["reader"], "policies": ["readonly"]},
            {"name": "writer", "secret_id": SECRETS["writer"], "policies": ["ops"]},
            {"name": "fs", "secret_id": SECRETS["fs"], "policies": ["files"]},
            {"name": "prod", "secret_id": SECRETS["prod"], "policies": ["prod"]},
            {"name": "denied", "secret_id": SECRETS["denied"], "policies": ["ops", "no-default"]},
        ],
    },
}


@pytest.fixture(scope="module")
def acl(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("acl"), ["--acl", "--inspect"], CONFIG)
    yield sandbox
    assert not sandbox.stop()


def call(sandbox, method, path, token=None, bearer=None, body=None):
    headers = {}
    if token is not None:
        headers["X-Nomad-Token"] = token
    if bearer is not None:
        headers["Authorization"] = bearer
    data = json.dumps(body).encode() if body is not None else None
    return sandbox.nomad(method, path, headers=headers, body=data)


def status(sandbox, method, path, **kwargs):
    return call(sandbox, method, path, **kwargs).status


def assert_denied(reply):
    assert (reply.status, reply.text) == (403, "Permission denied")


def reads(sandbox):
    alloc, node = sandbox.alloc_id, sandbox.node["id"]
    return ["/v1/jobs", "/v1/job/web", "/v1/job/web/allocations", "/v1/allocations", "/v1/nodes",
            f"/v1/node/{node}", "/v1/client/metadata", "/v1/client/stats",
            f"/v1/client/allocation/{alloc}/stats", "/v1/agent/self", "/v1/agent/members", "/v1/agent/servers"]


def test_ready_file_has_the_management_token(acl):
    assert acl.info["nomad_token"]
    assert acl.nomad("GET", "/v1/agent/self").status == 403


def test_no_token_and_unknown_tokens_are_denied(acl):
    for path in reads(acl):
        assert_denied(call(acl, "GET", path))
        assert_denied(call(acl, "GET", path, token=UNKNOWN))
        assert_denied(call(acl, "GET", path, bearer=f"Bearer {UNKNOWN}"))
        assert_denied(call(acl, "GET", path, token="not-a-uuid"))


def test_management_token_may_do_everything(acl):
    token = acl.info["nomad_token"]
    for path in reads(acl):
        assert status(acl, "GET", path, token=token) == 200, path
    assert status(acl, "GET", "/v1/agent/pprof/cmdline", token=token) == 200
    assert status(acl, "POST", "/v1/client/metadata", token=token, body={"Meta": {"by": "management"}}) == 200


def test_bearer_header_and_its_precedence(acl):
    reader = SECRETS["reader"]
    assert status(acl, "GET", "/v1/agent/self", bearer=f"Bearer {reader}") == 200
    assert status(acl, "GET", "/v1/agent/self", bearer=f"bearer {reader} trailing") == 200
    assert status(acl, "GET", "/v1/agent/self", bearer=f"Basic {reader}") == 403
    assert status(acl, "GET", "/v1/agent/self", token=f"  {reader} ") == 200
    assert status(acl, "GET", "/v1/agent/self", token=UNKNOWN, bearer=f"Bearer {reader}") == 403


def test_read_only_token(acl):
    reader = SECRETS["reader"]
    for path in reads(acl):
        assert status(acl, "GET", path, token=reader) == 200, path
    assert_denied(call(acl, "POST", "/v1/client/metadata", token=reader, body={"Meta": {"a": "b"}}))
    assert_denied(call(acl, "GET", f"/v1/client/allocation/{acl.alloc_id}/gc", token=reader))
    assert_denied(call(acl, "PUT", "/v1/agent/servers?address=10.0.0.1:4647", token=reader))
    assert_denied(call(acl, "PUT", "/v1/agent/force-leave?node=x", token=reader))
    assert_denied(call(acl, "GET", "/v1/agent/pprof/cmdline", token=reader))
    assert_denied(call(acl, "GET", "/v1/client/gc", token=reader))


def test_write_token(acl):
    writer = SECRETS["writer"]
    reply = call(acl, "POST", "/v1/client/metadata", token=writer, body={"Meta": {"by": "writer"}})
    assert reply.status == 200
    assert acl.inspect("state")["nodes"][acl.node["id"]]["dynamic"]["by"] == "writer"
    assert status(acl, "GET", "/v1/agent/pprof/cmdline", token=writer) == 200
    assert status(acl, "GET", "/v1/client/gc", token=writer) == 200
    gc = call(acl, "GET", f"/v1/client/allocation/{acl.alloc_id}/gc", token=writer)
    assert (gc.status, gc.text) == (500, "No such allocation on client, or allocation not eligible for GC")


def test_acl_is_checked_before_validation_but_after_decoding(acl):
    reader = SECRETS["reader"]
    assert_denied(call(acl, "POST", "/v1/client/metadata", token=reader, body={"Meta": {"1bad": "x"}}))
    empty = acl.nomad("POST", "/v1/client/metadata", headers={"X-Nomad-Token": reader}, body=b"")
    assert (empty.status, empty.text) == (400, "Request body is empty")
    missing = acl.nomad("PUT", "/v1/agent/servers")
    assert (missing.status, missing.text) == (400, "missing server address")


def test_capability_without_read_job(acl):
    fs = SECRETS["fs"]
    assert_denied(call(acl, "GET", "/v1/job/web", token=fs))
    assert_denied(call(acl, "GET", "/v1/allocations", token=fs))
    assert_denied(call(acl, "GET", "/v1/nodes", token=fs))
    assert_denied(call(acl, "GET", f"/v1/client/allocation/{acl.alloc_id}/stats", token=fs))
    # GetAlloc hides what the token may not read behind an uncoded error
    hidden = call(acl, "GET", f"/v1/allocation/{acl.alloc_id}", token=fs)
    assert (hidden.status, hidden.text) == (500, f'Unknown allocation "{acl.alloc_id}"')
    unknown = call(acl, "GET", "/v1/allocation/00000000-0000-4000-8000-000000000000", token=fs)
    assert (unknown.status, unknown.text) == (404, "alloc not found")


def test_glob_namespace_rules_and_wildcard_lists(acl):
    prod = SECRETS["prod"]
    assert_denied(call(acl, "GET", "/v1/jobs", token=prod))
    assert [j["ID"] for j in call(acl, "GET", "/v1/jobs?namespace=prod-eu", token=prod).json()] == ["shop"]
    assert [j["ID"] for j in call(acl, "GET", "/v1/jobs?namespace=*", token=prod).json()] == ["shop"]
    assert [a["JobID"] for a in call(acl, "GET", "/v1/allocations?namespace=*", token=prod).json()] == ["shop"]
    writer = SECRETS["writer"]
    assert sorted(a["JobID"] for a in call(acl, "GET", "/v1/allocations?namespace=*", token=writer).json()) == [
        "shop", "web"]


def test_deny_wins_over_other_policies(acl):
    denied = SECRETS["denied"]
    assert_denied(call(acl, "GET", "/v1/job/web", token=denied))
    assert_denied(call(acl, "GET", "/v1/client/metadata", token=denied))
    assert status(acl, "GET", "/v1/job/shop?namespace=prod-eu", token=denied) == 200  # "*" still applies there
    assert status(acl, "GET", "/v1/agent/self", token=denied) == 200


def test_anonymous_policy_applies_without_a_token(acl):
    assert call(acl, "GET", "/v1/jobs?namespace=public").json() == []
    assert_denied(call(acl, "GET", "/v1/jobs?namespace=default"))
    assert_denied(call(acl, "GET", "/v1/jobs?namespace=public", token=UNKNOWN))


def test_endpoints_without_acl(acl):
    assert status(acl, "GET", "/v1/agent/health") == 200
    assert call(acl, "PUT", "/v1/agent/join?address=127.0.0.1").json()["num_joined"] == 1
