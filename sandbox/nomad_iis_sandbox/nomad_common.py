"""What every endpoint of the Nomad HTTP API shares (Nomad's `command/agent/http.go`, `acl/`): the
app's keys and the agent's version, response framing (JSON 200s, empty 200s, plain-text errors
with Nomad's codes), Go-flavoured parsing of query parameters, blocking-query headers, token
parsing and ACL checks, and the allocation and node lookups with Nomad's ID rules. The endpoint
groups (nomad_*.py, each with an `add_routes(app)`) import this module; nomad_app.py puts them
together."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field

from aiohttp import web

from .cluster import Alloc, Cluster, Node
from .config import AclToken
from .go_compat import go_parse_bool, go_parse_duration, go_quote, uuid_index_error, uuid_key

CLUSTER = web.AppKey("cluster", Cluster)
ACL = web.AppKey("acl", object)
TLS = web.AppKey("tls", bool)
TLS_INFO = web.AppKey("tls_info", dict)

NOMAD_VERSION = "1.10.5"
NOMAD_REVISION = "8ec1b4b4b4ae4bb1c8e1d7cd5f3e0f7f5c5c9a1b"

ANONYMOUS_POLICY = "anonymous"
# Nomad's namespace policy shorthands (acl/policy.go expandNamespacePolicy).
NAMESPACE_POLICY_CAPS = {
    "deny": ["deny"],
    "read": ["list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume",
             "read-job-scaling", "list-scaling-policies", "read-scaling-policy"],
    "scale": ["list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"],
}
NAMESPACE_POLICY_CAPS["write"] = NAMESPACE_POLICY_CAPS["read"] + [
    "scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec", "alloc-lifecycle",
    "csi-write-volume", "csi-mount-volume", "submit-recommendation", "gc-allocation"]
LEVELS = {"": 0, "read": 1, "write": 2}
MAX_BLOCKING_WAIT = 300.0  # seconds, Nomad's default and maximum
TEXT_PLAIN = "text/plain"


class NomadError(Exception):
    """An error answered as Nomad does: the status and the plain error text."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status
        self.text = text


def error_response(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type=TEXT_PLAIN, charset="utf-8")


def json_reply(data, request: web.Request | None = None, status: int = 200) -> web.Response:
    pretty = request is not None and "pretty" in request.query and request.query["pretty"] != "0"
    body = json.dumps(data, indent=4 if pretty else None, separators=None if pretty else (",", ":"))
    # Exactly `application/json`, without a charset, as Nomad sends it.
    return web.Response(status=status, body=(body + ("\n" if pretty else "")).encode(),
                        content_type="application/json")


def empty_ok() -> web.Response:
    """Handlers that return nothing: 200 with an empty body and no JSON content type."""
    return web.Response(status=200)


def require_method(request: web.Request, *methods: str) -> None:
    if request.method not in methods:
        raise NomadError(405, "Invalid method")


# --- Query parameters -------------------------------------------------------------------------

def query_bool(request: web.Request, name: str) -> bool | None:
    """parseBool in http.go: None when absent or empty."""
    raw = request.query.get(name, "")
    if raw == "":
        return None
    try:
        return go_parse_bool(raw)
    except ValueError as exc:
        raise ValueError(f"Failed to parse value of {go_quote(name)} ({raw}) as a bool: {exc}") from None


def query_flag(request: web.Request, name: str, default: bool, status: int, message: str) -> bool:
    """A boolean parameter as the streaming endpoints parse it: `default` when absent or empty,
    else strconv.ParseBool, refused with `status` and `<message>: <Go's error>`."""
    text = request.query.get(name, "")
    if not text:
        return default
    try:
        return go_parse_bool(text)
    except ValueError as exc:
        raise NomadError(status, f"{message}: {exc}") from None


# --- Query options and blocking queries -------------------------------------------------------

@dataclass
class QueryOptions:
    namespace: str = "default"
    prefix: str = ""
    min_index: int = 0
    max_wait: float = 0.0
    stale: bool = False


def parse_query(request: web.Request) -> QueryOptions:
    """http.go parse(): stale, prefix, namespace, then wait and index (400s with Nomad's texts)."""
    query = request.query
    opts = QueryOptions(namespace=query.get("namespace") or "default", prefix=query.get("prefix", ""))
    if "stale" in query and query["stale"] != "":
        try:
            opts.stale = go_parse_bool(query["stale"])
        except ValueError:
            raise NomadError(400, "Expect `true` or `false` for `stale` query string parameter, "
                                  f"got {query['stale']}") from None
    if query.get("wait"):
        try:
            opts.max_wait = go_parse_duration(query["wait"])
        except ValueError:
            raise NomadError(400, "Invalid wait time") from None
    if query.get("index"):
        if not re.fullmatch(r"\d+", query["index"]) or int(query["index"]) >= 2 ** 64:
            raise NomadError(400, "Invalid index")
        opts.min_index = int(query["index"])
    return opts


async def block_until_changed(cluster: Cluster, opts: QueryOptions) -> None:
    """blockingRPC: with ?index=N wait until the state index passes N or the wait (default and
    maximum 300 s, plus up to 1/16 jitter) runs out."""
    if opts.min_index <= 0 or cluster.index > opts.min_index:
        return
    wait = opts.max_wait if 0 < opts.max_wait <= MAX_BLOCKING_WAIT else MAX_BLOCKING_WAIT
    deadline = time.monotonic() + wait + random.uniform(0, wait / 16)
    while cluster.index <= opts.min_index and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def blocking_headers(response: web.StreamResponse, cluster: Cluster) -> web.StreamResponse:
    response.headers["X-Nomad-Index"] = str(cluster.index)
    response.headers["X-Nomad-KnownLeader"] = "true"
    response.headers["X-Nomad-LastContact"] = "0"
    return response


# --- ACL --------------------------------------------------------------------------------------

@dataclass
class AclState:
    enabled: bool
    tokens: dict  # secret -> AclToken
    policies: dict  # name -> AclPolicy


@dataclass
class CompiledAcl:
    """acl.NewACL: the policies of one token merged, deny winning."""
    management: bool = False
    namespaces: dict[str, set[str]] = field(default_factory=dict)  # name or glob -> capabilities
    node: str = ""
    agent: str = ""

    def _caps_for(self, namespace: str) -> set[str]:
        if namespace in self.namespaces:
            return self.namespaces[namespace]
        globs = [(len(namespace) - len(p.replace("*", "")), p) for p in self.namespaces
                 if "*" in p and re.fullmatch(re.escape(p).replace(r"\*", ".*"), namespace)]
        return self.namespaces[min(globs)[1]] if globs else set()

    def allow_ns_op(self, namespace: str, capability: str) -> bool:
        if self.management:
            return True
        if namespace == "*" and any(capability in caps for caps in self.namespaces.values()):
            return True
        return capability in self._caps_for(namespace)

    def allow_level(self, which: str, wanted: str) -> bool:
        level = self.node if which == "node" else self.agent
        return self.management or (level != "deny" and LEVELS.get(level, 0) >= LEVELS[wanted])


def _merge_level(current: str, new: str) -> str:
    """acl.maxPrivilege: deny beats everything, then write, then read."""
    if "deny" in (current, new):
        return "deny"
    return max(current, new, key=lambda level: LEVELS.get(level, 0))


def compile_acl(policies: list) -> CompiledAcl:
    compiled = CompiledAcl()
    for policy in policies:
        for namespace, raw_caps in policy.namespaces.items():
            caps = compiled.namespaces.setdefault(namespace, set())
            if "deny" in caps:
                continue
            for cap in raw_caps:
                expanded = NAMESPACE_POLICY_CAPS.get(cap[len("policy:"):], []) if cap.startswith("policy:") else [cap]
                if "deny" in expanded:
                    caps.clear()
                    caps.add("deny")
                    break
                caps.update(expanded)
        compiled.node = _merge_level(compiled.node, policy.node)
        compiled.agent = _merge_level(compiled.agent, policy.agent)
    return compiled


def request_token(request: web.Request) -> str:
    """parseToken: X-Nomad-Token wins, else the first word after `Authorization: Bearer`."""
    header = request.headers.get("X-Nomad-Token", "")
    if header:
        return header.strip()  # even when that leaves nothing: Go returns here
    parts = request.headers.get("Authorization", "").split(" ")
    if len(parts) > 1 and parts[0].lower() == "bearer":
        value = " ".join(parts[1:]).strip()
        return value.split(" ", maxsplit=1)[0].strip()
    return ""


def resolve_acl(request: web.Request) -> CompiledAcl | None:
    """None with ACLs off. No token is the anonymous token (the `anonymous` policy, if any);
    a token nobody knows is 403 `Permission denied`."""
    acl: AclState = request.app[ACL]
    if not acl.enabled:
        return None
    secret = request_token(request)
    if not secret:
        anonymous = acl.policies.get(ANONYMOUS_POLICY)
        return compile_acl([anonymous] if anonymous else [])
    token: AclToken | None = acl.tokens.get(secret)
    if token is None:
        raise NomadError(403, "Permission denied")
    if token.type == "management":
        return CompiledAcl(management=True)
    return compile_acl([acl.policies[name] for name in token.policies if name in acl.policies])


def authorize(request: web.Request, *, namespace: str | None = None, any_of: tuple[str, ...] = (),
              node: str | None = None, agent: str | None = None) -> None:
    """Raise 403 `Permission denied` unless the request's token grants one of the namespace
    capabilities `any_of` in `namespace`, and the node/agent level ("read"/"write") asked for."""
    compiled = resolve_acl(request)
    if compiled is None:
        return
    if any_of and not any(compiled.allow_ns_op(namespace or "default", cap) for cap in any_of):
        raise NomadError(403, "Permission denied")
    for which, wanted in (("node", node), ("agent", agent)):
        if wanted is not None and not compiled.allow_level(which, wanted):
            raise NomadError(403, "Permission denied")


def namespace_filter(request: web.Request, capability: str):
    """A predicate: may this request's token use `capability` in a namespace (allowedNSes)."""
    compiled = resolve_acl(request)
    return lambda namespace: compiled is None or compiled.allow_ns_op(namespace, capability)


def is_management(request: web.Request) -> bool:
    compiled = resolve_acl(request)
    return compiled is None or compiled.management


# --- Lookups ----------------------------------------------------------------------------------

def client_alloc(cluster: Cluster, alloc_id: str) -> Alloc:
    """An allocation as the client endpoints look it up: full IDs only (README, "Faithful quirks"); anything
    not local goes to the servers, whose UUID index refuses malformed IDs with a 500."""
    if not alloc_id:
        raise NomadError(400, "must provide a valid alloc id")
    return rpc_alloc(cluster, alloc_id)


def rpc_alloc(cluster: Cluster, alloc_id: str) -> Alloc:
    """The alloc a client RPC acts on (stats, gc, fs): local exact match, else the servers."""
    alloc = cluster.allocs.get(alloc_id)
    if alloc is not None:
        return alloc
    index_error = uuid_index_error(alloc_id, exact=True)
    if index_error:
        raise NomadError(500, f"alloc lookup failed: index error: {index_error}")
    raise NomadError(404, f'Unknown allocation "{alloc_id}"')


def server_alloc(cluster: Cluster, alloc_id: str) -> Alloc | None:
    """state.AllocByID: the UUID index compares decoded bytes; malformed IDs are a 500."""
    index_error = uuid_index_error(alloc_id, exact=True)
    if index_error:
        raise NomadError(500, f"alloc lookup failed: index error: {index_error}")
    key = uuid_key(alloc_id)
    return next((a for a in cluster.allocs.values() if uuid_key(a.id) == key), None)


def server_node(cluster: Cluster, node_id: str) -> Node | None:
    """state.NodeByID, with the same UUID index rules."""
    index_error = uuid_index_error(node_id, exact=True)
    if index_error:
        raise NomadError(500, f"node lookup failed: index error: {index_error}")
    key = uuid_key(node_id)
    return next((n for n in cluster.nodes if uuid_key(n.id) == key), None)


def local_node(cluster: Cluster) -> Node:
    """The client of this agent: the first node (the others are reached through the servers)."""
    return cluster.nodes[0]


def node_for_rpc(cluster: Cluster, node_id: str) -> Node:
    """rpcHandlerForNode: the local node when `node_id` is empty or its ID; another node is found
    through the servers (getNodeForRpc): unknown → 500 `Unknown node <id>`."""
    if not node_id or node_id == local_node(cluster).id:
        return local_node(cluster)
    node = server_node(cluster, node_id)
    if node is None:
        raise NomadError(500, f"Unknown node {node_id}")
    return node


def client_node(request: web.Request, cluster: Cluster) -> Node:
    """The node a client endpoint acts on: `?node_id=` or the local node."""
    return node_for_rpc(cluster, request.query.get("node_id", ""))
