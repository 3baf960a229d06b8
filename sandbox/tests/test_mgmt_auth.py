"""Management API authentication and authorization as upstream v0.20.1 answers
(README, "Faithful quirks"): API key, JWT bearer tokens with scoped claims, and the quirks
(unchecked Bearer prefix, 500 for a short Authorization header, 403 everywhere without auth)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from conftest import JWT_SECRET, SandboxProcess
from sandbox_http import request

CASE_KEY = "AbCdEf-123"
SECRET_31 = "s" * 31
SECRET_32 = "t" * 32
CAPABILITIES = ["Status", "FilesystemAccess", "AppPoolLifecycle", "Screenshots", "ProcDump", "Debug"]
# (method, route below the allocation, capability)
ALLOC_ROUTES = [
    ("GET", "status", "Status"),
    ("PUT", "start", "AppPoolLifecycle"),
    ("PUT", "stop", "AppPoolLifecycle"),
    ("PUT", "recycle", "AppPoolLifecycle"),
    ("GET", "fs/local", "FilesystemAccess"),
    ("PUT", "fs/local%2Fprobe.txt", "FilesystemAccess"),
    ("PATCH", "fs/local%2Fprobe.txt", "FilesystemAccess"),
    ("DELETE", "fs/local%2Fiisstart.htm", "FilesystemAccess"),
    ("GET", "screenshot", "Screenshots"),
    ("GET", "procdump", "ProcDump"),
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(secret: str = JWT_SECRET, header: dict | None = None, **claims) -> str:
    """An HS256 JWT like the docs' generator makes; a claim given as None is left out."""
    now = int(time.time())
    payload = {"iss": "NomadIIS", "aud": "ManagementApi", "iat": now, "exp": now + 600, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    signing_input = (b64url(json.dumps(header or {"typ": "JWT", "alg": "HS256"}).encode()) + "."
                     + b64url(json.dumps(payload).encode()))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def scoped(sandbox, **overrides) -> str:
    """A token for the sandbox's first allocation with the Status capability."""
    claims = {"namespace": "default", "jobName": "web", "allocId": sandbox.alloc_id, "capabilities": ["Status"]}
    claims.update(overrides)
    return mint(**claims)


def bearer(sandbox, route: str, token: str, method: str = "GET", prefix: str = "Bearer "):
    return sandbox.api(method, route, key=None, headers={"Authorization": prefix + token})


def assert_empty_401(reply) -> None:
    assert reply.status == 401
    assert reply.body == b""
    assert "WWW-Authenticate" not in reply.headers


def node_target(sandbox, name: str) -> tuple[str, str]:
    """(Management API URL, status URL of the node's allocation) of a node of a multi-node sandbox."""
    node = next(n for n in sandbox.info["nodes"] if n["name"] == name)
    alloc = next(a for a in sandbox.info["allocs"] if a["node_id"] == node["id"])
    api = node["management_api_url"]
    return api, f"{api}/api/v1/allocs/{alloc['id']}/app/status"


def node_config(name: str, **api) -> dict:
    return {"name": name, "management_api": api}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """One node per authentication set-up, each running one allocation of job `web`."""
    nodes = [node_config("open", api_key=None, jwt_secret=None),
             node_config("keyonly", api_key=CASE_KEY, jwt_secret=None),
             node_config("short", api_key="k", jwt_secret=SECRET_31),
             node_config("exact", api_key="k", jwt_secret=SECRET_32)]
    groups = [{"name": n["name"], "nodes": [n["name"]], "tasks": [{"name": "app"}]} for n in nodes]
    path = tmp_path_factory.mktemp("auth-config")
    sandbox = SandboxProcess(path, ["--inspect"], {"nodes": nodes, "jobs": [{"id": "web", "groups": groups}]})
    yield sandbox
    assert not sandbox.stop()


# --- API key --------------------------------------------------------------------------------------

def test_the_api_key_grants_every_route(demo):
    assert demo.api("GET", "status").status == 200
    assert demo.api("GET", "/api/v1/debug").status == 200


def test_api_key_missing_wrong_or_differently_cased_is_an_empty_401(variants):
    _api, url = node_target(variants, "keyonly")
    assert request("GET", url, headers={"X-Api-Key": CASE_KEY}).status == 200
    for headers in ({}, {"X-Api-Key": "nope"}, {"X-Api-Key": CASE_KEY.lower()}, {"X-Api-Key": CASE_KEY.upper()},
                    {"X-Api-Key": CASE_KEY[:-1]}, {"Authorization": "Bearer " + CASE_KEY}):
        assert_empty_401(request("GET", url, headers=headers))


def test_without_a_jwt_secret_tokens_and_short_headers_are_just_401(variants):
    _api, url = node_target(variants, "keyonly")
    token = mint(namespace="*", jobName="*", allocId="*", capabilities="*")
    assert_empty_401(request("GET", url, headers={"Authorization": "Bearer " + token}))
    assert_empty_401(request("GET", url, headers={"Authorization": "abc"}))


def test_the_api_key_wins_over_a_broken_authorization_header(demo):
    assert demo.api("GET", "status", headers={"Authorization": "abc"}).status == 200


def test_a_jwt_sent_as_x_api_key_is_401(demo):
    token = scoped(demo, capabilities="*")
    assert bearer(demo, "status", token).status == 200
    assert_empty_401(demo.api("GET", "status", key=token))


# --- JWT: validation ------------------------------------------------------------------------------

def test_a_valid_token_is_accepted(demo):
    reply = bearer(demo, "status", scoped(demo))
    assert reply.status == 200
    assert reply.json()["allocId"] == demo.alloc_id


@pytest.mark.parametrize("age, status", [(120, 200), (600, 401)], ids=["within-skew", "beyond-skew"])
def test_expiry_has_five_minutes_of_clock_skew(demo, age, status):
    now = int(time.time())
    reply = bearer(demo, "status", scoped(demo, iat=now - 3600, exp=now - age))
    assert reply.status == status
    if status == 401:
        assert_empty_401(reply)


@pytest.mark.parametrize("token", [
    pytest.param(lambda d: mint(secret="another-secret-of-more-than-32-bytes!", namespace="*", jobName="*",
                                allocId="*", capabilities="*"), id="wrong-signature"),
    pytest.param(lambda d: scoped(d, iss="Nomad"), id="wrong-iss"),
    pytest.param(lambda d: scoped(d, aud="NomadIIS"), id="wrong-aud"),
    pytest.param(lambda d: scoped(d, exp=None), id="missing-exp"),
    pytest.param(lambda d: scoped(d, nbf=int(time.time()) + 3600), id="not-yet-valid"),
    pytest.param(lambda d: scoped(d).rsplit(".", 1)[0] + ".", id="unsigned"),
    pytest.param(lambda d: "not-a-jwt", id="garbage"),
])
def test_invalid_tokens_are_401(demo, token):
    assert_empty_401(bearer(demo, "status", token(demo)))


def test_a_tampered_payload_is_401(demo):
    header, _payload, signature = scoped(demo).split(".")
    forged = b64url(json.dumps({"iss": "NomadIIS", "aud": "ManagementApi", "exp": int(time.time()) + 600,
                                "namespace": "*", "jobName": "*", "allocId": "*", "capabilities": "*"}).encode())
    assert_empty_401(bearer(demo, "status", f"{header}.{forged}.{signature}"))


def test_a_secret_under_32_bytes_rejects_every_token(variants):
    for node, secret, expected in (("short", SECRET_31, 401), ("exact", SECRET_32, 200)):
        _api, url = node_target(variants, node)
        token = mint(secret=secret, namespace="*", jobName="*", allocId="*", capabilities="*")
        assert request("GET", url, headers={"Authorization": "Bearer " + token}).status == expected, node
        assert request("GET", url, headers={"X-Api-Key": "k"}).status == 200


def test_a_short_jwt_secret_from_the_command_line(start_sandbox):
    secret = "only-16-bytes!!!"
    sandbox = start_sandbox(["--api-key", "k", "--jwt-secret", secret])
    assert sandbox.node["jwt_secret"] == secret
    token = mint(secret=secret, namespace="*", jobName="*", allocId="*", capabilities="*")
    assert_empty_401(bearer(sandbox, "status", token))
    assert_empty_401(bearer(sandbox, "/api/v1/debug", token))
    assert sandbox.api("GET", "status").status == 200


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", "Token: ", "1234567"])
def test_the_bearer_prefix_is_not_checked(demo, prefix):
    assert bearer(demo, "status", scoped(demo), prefix=prefix).status == 200


def test_exactly_seven_characters_are_stripped(demo):
    assert_empty_401(bearer(demo, "status", scoped(demo), prefix="Bearer"))
    assert_empty_401(bearer(demo, "status", scoped(demo), prefix="Bearer  "))


@pytest.mark.parametrize("value", ["abc", "Bearer"])
def test_an_authorization_header_under_seven_characters_is_500(demo, value):
    reply = demo.api("GET", "status", key=None, headers={"Authorization": value})
    assert reply.status == 500 and reply.body == b""


# --- JWT: scope and capabilities ------------------------------------------------------------------

@pytest.mark.parametrize("claim, value, status", [
    ("namespace", "default", 200), ("namespace", "*", 200), ("namespace", "Default", 403),
    ("namespace", "other", 403), ("namespace", None, 403),
    ("jobName", "web", 200), ("jobName", "*", 200), ("jobName", "WEB", 403), ("jobName", None, 403),
    ("allocId", "<alloc>", 200), ("allocId", "*", 200), ("allocId", "<ALLOC>", 403),
    ("allocId", "00000000-0000-0000-0000-000000000000", 403), ("allocId", None, 403),
])
def test_scope_claims_specific_wildcard_or_wrong(demo, claim, value, status):
    if value == "<alloc>":
        value = demo.alloc_id
    elif value == "<ALLOC>":
        value = demo.alloc_id.upper()
    reply = bearer(demo, "status", scoped(demo, **{claim: value}))
    assert reply.status == status
    if status == 403:
        assert reply.body == b""


@pytest.mark.parametrize("capabilities, status", [
    (["Status"], 200), ("Status", 200), (["ProcDump", "Status"], 200), ("*", 200), (["*"], 200),
    (["FilesystemAccess", "ProcDump"], 403), ("status", 403), ([], 403), (None, 403), ("Debug", 403),
])
def test_capabilities_as_array_or_single_string(demo, capabilities, status):
    assert bearer(demo, "status", scoped(demo, capabilities=capabilities)).status == status


def test_claim_types_are_case_insensitive(demo):
    token = mint(NAMESPACE="default", jobname="web", AllocID=demo.alloc_id, Capabilities=["Status"])
    assert bearer(demo, "status", token).status == 200


@pytest.mark.parametrize("method, route, capability", ALLOC_ROUTES, ids=[f"{m} {r}" for m, r, _capability in ALLOC_ROUTES])
def test_each_route_needs_its_capability(demo, method, route, capability):
    before = demo.task_state()
    others = [c for c in CAPABILITIES if c != capability]
    denied = bearer(demo, route, scoped(demo, capabilities=others), method=method)
    assert denied.status == 403 and denied.body == b""
    after = demo.task_state()
    # A 403 is answered before the action: no pool or file changed.
    assert {p: s["state"] for p, s in after["pools"].items()} == {p: s["state"] for p, s in before["pools"].items()}
    assert after["files"] == before["files"]
    if method == "GET":
        allowed = bearer(demo, route, scoped(demo, capabilities=[capability]), method=method)
        assert allowed.status not in (401, 403)


def test_the_debug_capability_alone_opens_debug_and_nothing_else(demo):
    debug_only = mint(capabilities=["Debug"])  # no namespace, job or alloc claims needed
    assert bearer(demo, "/api/v1/debug", debug_only).status == 200
    wildcard_debug = mint(namespace="*", jobName="*", allocId="*", capabilities="Debug")
    for method, route, _capability in ALLOC_ROUTES:
        assert bearer(demo, route, wildcard_debug, method=method).status == 403, route
    no_debug = mint(namespace="*", jobName="*", allocId="*", capabilities=[c for c in CAPABILITIES if c != "Debug"])
    assert bearer(demo, "/api/v1/debug", no_debug).status == 403


# --- ordering: 401, then 404, then 403 --------------------------------------------------------------

def test_401_comes_before_the_404_of_an_unknown_allocation(demo):
    unknown = f"{demo.api_url}/api/v1/allocs/00000000-0000-0000-0000-000000000000/app/status"
    assert_empty_401(demo.api("GET", unknown, key=None))
    assert_empty_401(demo.api("GET", unknown, key="wrong"))
    assert demo.api("GET", unknown).status == 404


def test_an_unknown_allocation_is_404_even_to_a_token_that_would_be_forbidden(demo):
    unknown = f"{demo.api_url}/api/v1/allocs/00000000-0000-0000-0000-000000000000/app/status"
    token = scoped(demo, capabilities=["ProcDump"])
    assert bearer(demo, unknown, token).status == 404
    assert bearer(demo, "status", token).status == 403


# --- no key and no secret -------------------------------------------------------------------------

def test_without_key_and_secret_every_route_is_403(variants):
    api, status_url = node_target(variants, "open")
    alloc_url = status_url.rsplit("/", 1)[0]
    alloc_id = alloc_url.split("/")[-2]
    before = variants.task_state(alloc_id)
    token = mint(namespace="*", jobName="*", allocId="*", capabilities="*")
    for headers in ({}, {"X-Api-Key": "anything"}, {"Authorization": "Bearer " + token}, {"Authorization": "abc"}):
        for method, route, _capability in ALLOC_ROUTES:
            reply = request(method, f"{alloc_url}/{route}", headers=headers)
            assert (reply.status, reply.body) == (403, b""), (method, route, headers)
        assert request("GET", f"{api}/api/v1/debug", headers=headers).status == 403
    after = variants.task_state(alloc_id)
    assert after["pools"]["default"]["state"] == before["pools"]["default"]["state"] == "Started"
    assert after["files"] == before["files"]
    unknown = f"{api}/api/v1/allocs/00000000-0000-0000-0000-000000000000/app/status"
    assert request("GET", unknown).status == 404
