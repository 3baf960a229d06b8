"""The Nomad HTTP API subset, as a combined server+client agent answers (specs/nomad-http-api.md).

This module holds what every endpoint shares: response framing (JSON 200s, empty 200s, plain-text
errors with Nomad's codes, empty 404 for unknown paths), token parsing and ACL checks, and the
allocation lookups with Nomad's ID rules. Endpoint groups live in nomad_*.py modules, each with an
`add_routes(app, cluster)` function."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web

from .cluster import Alloc, Cluster, Node

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CLUSTER = web.AppKey("cluster", Cluster)
ACL = web.AppKey("acl", object)
TLS = web.AppKey("tls", bool)

# Nomad's namespace policy shorthands (acl/policy.go expandNamespacePolicy).
NAMESPACE_POLICY_CAPS = {
    "deny": ["deny"],
    "read": ["list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume",
             "read-job-scaling", "list-scaling-policies", "read-scaling-policy"],
}
NAMESPACE_POLICY_CAPS["write"] = NAMESPACE_POLICY_CAPS["read"] + [
    "scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec", "alloc-lifecycle",
    "csi-write-volume", "csi-mount-volume", "submit-recommendation", "gc-allocation"]
LEVELS = {"": 0, "deny": -1, "read": 1, "write": 2}


class NomadError(Exception):
    """An error answered as Nomad does: the status and the plain error text."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status
        self.text = text


def json_reply(data, request: web.Request | None = None, status: int = 200) -> web.Response:
    pretty = request is not None and "pretty" in request.query and request.query["pretty"] != "0"
    body = json.dumps(data, indent=4 if pretty else None, separators=None if pretty else (",", ":"))
    return web.Response(status=status, text=body, content_type="application/json")


def empty_ok() -> web.Response:
    """Handlers that return nothing: 200 with an empty body and no JSON content type."""
    return web.Response(status=200)


def blocking_headers(response: web.StreamResponse, cluster: Cluster) -> web.StreamResponse:
    response.headers["X-Nomad-Index"] = str(cluster.index)
    response.headers["X-Nomad-KnownLeader"] = "true"
    response.headers["X-Nomad-LastContact"] = "0"
    return response


@dataclass
class AclState:
    enabled: bool
    tokens: dict  # secret -> AclToken-like (type, policies)
    policies: dict  # name -> AclPolicy


def request_token(request: web.Request) -> str:
    token = request.headers.get("X-Nomad-Token", "").strip()
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    parts = auth.split()
    if len(parts) >= 2 and parts[0].lower() == "bearer":
        return parts[1]
    return ""


def _namespace_caps(policy, namespace: str) -> list[str]:
    """Capabilities a policy grants in a namespace; an exact rule beats a glob, as in Nomad."""
    rules = policy.namespaces
    if namespace in rules:
        chosen = rules[namespace]
    else:
        globs = [(pattern, caps) for pattern, caps in rules.items() if "*" in pattern
                 and re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), namespace)]
        if not globs:
            return []
        chosen = max(globs, key=lambda item: len(item[0].replace("*", "")))[1]
    caps: list[str] = []
    for cap in chosen:
        caps += NAMESPACE_POLICY_CAPS.get(cap.removeprefix("policy:"), [cap]) if cap.startswith("policy:") else [cap]
    return caps


def authorize(request: web.Request, *, namespace: str | None = None, any_of: tuple[str, ...] = (),
              node: str | None = None, agent: str | None = None) -> None:
    """Raise 403 `Permission denied` unless the request's token grants one of the namespace
    capabilities `any_of` in `namespace`, and the node/agent level ("read"/"write") asked for."""
    acl: AclState = request.app[ACL]
    if not acl.enabled:
        return
    token = acl.tokens.get(request_token(request))
    if token is None:
        raise NomadError(403, "Permission denied")
    if token.type == "management":
        return
    policies = [acl.policies[name] for name in token.policies if name in acl.policies]
    if any_of:
        caps = [c for p in policies for c in _namespace_caps(p, namespace or "default")]
        if "deny" in caps or not any(c in caps for c in any_of):
            raise NomadError(403, "Permission denied")
    for wanted, attr in ((node, "node"), (agent, "agent")):
        if wanted is None:
            continue
        levels = [LEVELS.get(getattr(p, attr), 0) for p in policies]
        if -1 in levels or max(levels, default=0) < LEVELS[wanted]:
            raise NomadError(403, "Permission denied")


def is_management(request: web.Request) -> bool:
    acl: AclState = request.app[ACL]
    if not acl.enabled:
        return True
    token = acl.tokens.get(request_token(request))
    return token is not None and token.type == "management"


def client_alloc(cluster: Cluster, alloc_id: str) -> Alloc:
    """An allocation as the client endpoints look it up: exact IDs only (specs §1.8)."""
    if not alloc_id:
        raise NomadError(400, "must provide a valid alloc id")
    alloc = cluster.allocs.get(alloc_id)
    if alloc is not None:
        return alloc
    if len(alloc_id) != 36:
        raise NomadError(500, "alloc lookup failed: index error: UUID must be 36 characters")
    if not UUID_RE.match(alloc_id):
        raise NomadError(500, "alloc lookup failed: index error: Invalid UUID: encoding/hex: invalid byte")
    raise NomadError(404, f'Unknown allocation "{alloc_id}"')


def client_node(request: web.Request, cluster: Cluster) -> Node:
    """The node a client endpoint acts on: `?node_id=` or the local node (the first one)."""
    node_id = request.query.get("node_id", "")
    if not node_id:
        return cluster.nodes[0]
    node = cluster.node_by_id(node_id)
    if node is None:
        raise NomadError(500, f"Unknown node {node_id}")
    return node


def create_app(cluster: Cluster, observer, acl: bool, management_token: str | None, tls: bool) -> web.Application:
    @web.middleware
    async def nomad_errors(request: web.Request, handler):
        try:
            return await handler(request)
        except NomadError as exc:
            return web.Response(status=exc.status, text=exc.text, content_type="text/plain", charset="utf-8")
        except web.HTTPNotFound:
            return web.Response(status=404)
        except web.HTTPMethodNotAllowed:
            return web.Response(status=405, text="Invalid method", content_type="text/plain", charset="utf-8")

    app = web.Application(middlewares=[observer.middleware("nomad"), nomad_errors])
    tokens = {t.secret_id: t for t in cluster.cfg.tokens}
    if management_token:
        from .config import AclToken
        tokens[management_token] = AclToken(name="Bootstrap Token", secret_id=management_token,
                                            accessor_id="00000000-0000-0000-0000-000000000001",
                                            type="management")
    app[CLUSTER] = cluster
    app[ACL] = AclState(enabled=acl, tokens=tokens, policies={p.name: p for p in cluster.cfg.policies})
    app[TLS] = tls
    from . import nomad_agent, nomad_client, nomad_state, nomad_streams
    for group in (nomad_state, nomad_client, nomad_agent, nomad_streams):
        group.add_routes(app)
    return app
