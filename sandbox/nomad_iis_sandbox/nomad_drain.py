"""Node drain and scheduling eligibility, and the scheduler's part in them.

The endpoints (Nomad's `command/agent/node_endpoint.go` nodeToggleDrain and nodeToggleEligibility,
`nomad/node_endpoint.go` UpdateDrain and UpdateEligibility, `nomad/state/state_store.go`
updateNodeDrainImpl):

    PUT|POST /v1/node/:id/drain        {"DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": bool} | null,
                                        "MarkEligible": bool, "Meta": {...}}
    PUT|POST /v1/node/:id/eligibility  {"Eligibility": "eligible" | "ineligible"}

Both answer `{"NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"}` and `X-Nomad-Index`. Other
methods are 405; a missing body 400 `Request body is empty`, bad JSON or a wrong type 400 with
encoding/json's text; without `node:write` 403; an unknown node **500** `node not found` (an
uncoded RPC error); eligible while draining 500 `can not set node's scheduling eligibility to
eligible while it is draining`; another value 500 `invalid scheduling eligibility "x"`.

A drain (`nomad/drainer/`) makes the node ineligible and sets `DrainStrategy` (`ForceDeadline` =
now + Deadline when Deadline > 0; 0: no deadline; < 0: forced) and `LastDrain` (status `draining`,
times in whole seconds, `Meta`, `AccessorID`). Allocations leave as upstream's `nomad node drain`
documents it: a service job's allocations migrate one at a time (the default `migrate` block's
`max_parallel = 1`): the scheduler places a replacement (a new allocation ID, a fresh task
directory) on another ready, eligible node whose iis driver is healthy (within the group's `nodes`
when it has some), or leaves it blocked until such a node appears (the job summary's `Queued`),
and the old allocation stops (`DesiredTransition.Migrate`, its pools and workers really stop).
Batch allocations are left to finish until the deadline, then stopped without replacement; system
allocations are stopped last, not replaced, and not at all with `IgnoreSystemJobs`. When nothing
is left the drain is complete: `DrainStrategy` null, `LastDrain.Status` `complete`, a `Node drain
complete` event, and the node stays ineligible. Cancelling (`DrainSpec: null`) leaves
`LastDrain.Status` `canceled`; `MarkEligible` makes the node eligible again.
"""

from __future__ import annotations

import asyncio
import calendar
import fnmatch
import logging
import time
import uuid

from aiohttp import web

from .cluster import Alloc, Cluster, Node, now_ns
from .go_compat import go_quote, rfc3339nano
from .nomad_client import BodyError, JsonObject, decode_body
from .nomad_common import ACL, CLUSTER, NomadError, authorize, json_reply, request_token, server_node

log = logging.getLogger(__name__)

DRAIN_SET = "Node drain strategy set"
DRAIN_UPDATED = "Node drain strategy updated"
DRAIN_DISABLED = "Node drain disabled"
DRAIN_COMPLETE = "Node drain complete"
MARKED_ELIGIBLE = "Node marked as eligible for scheduling"
MARKED_INELIGIBLE = "Node marked as ineligible for scheduling"
DRAINING_NOT_ELIGIBLE = "can not set node's scheduling eligibility to eligible while it is draining"
ACLS_DISABLED_ACCESSOR = "token:acls-disabled"
DRAIN_TICK = 0.1  # seconds between the drainer's looks at a node


# --- Request bodies as encoding/json decodes them -----------------------------------------------

def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, JsonObject) else "array"


class Decoded:
    """Fields of a request struct; `error` is encoding/json's first type error."""

    def __init__(self, struct: str):
        self.struct = struct
        self.fields: dict = {}
        self.error: str | None = None

    def fail(self, value, where: str, go_type: str) -> None:
        if self.error is None:
            kind = _kind(value)
            if kind == "number" and go_type in ("int64", "time.Duration"):
                kind = f"number {value}"
            self.error = f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}"


def _decode_struct(value, struct: str, fields: dict, decoded: Decoded, where_prefix: str) -> dict:
    """Fill `fields` ({go name: go type}) from a JSON object, names matched case-insensitively."""
    out: dict = {}
    for key, item in value:
        name = next((f for f in fields if f.lower() == key.lower()), None)
        if name is None:
            continue
        go_type = fields[name]
        where = f"{where_prefix}.{name}"
        if item is None:
            out[name] = None
        elif go_type == "bool":
            if isinstance(item, bool):
                out[name] = item
            else:
                decoded.fail(item, where, go_type)
        elif go_type in ("int64", "time.Duration"):
            if isinstance(item, int) and not isinstance(item, bool):
                out[name] = item
            else:
                decoded.fail(item, where, go_type)
        elif go_type == "string":
            if isinstance(item, str):
                out[name] = item
            else:
                decoded.fail(item, where, go_type)
        elif go_type == "map[string]string":
            if isinstance(item, JsonObject):
                meta = {}
                for meta_key, meta_value in item:
                    if isinstance(meta_value, str):
                        meta[meta_key] = meta_value
                    else:
                        decoded.fail(meta_value, where, "string")
                out[name] = meta
            else:
                decoded.fail(item, where, go_type)
        else:  # a nested struct: (struct name, its fields)
            inner_struct, inner_fields = go_type
            if isinstance(item, JsonObject):
                out[name] = _decode_struct(item, inner_struct, inner_fields, decoded, f"{inner_struct}.{name}")
            else:
                decoded.fail(item, where, f"api.{inner_struct}")
    return out


DRAIN_SPEC = ("DrainSpec", {"Deadline": "time.Duration", "IgnoreSystemJobs": "bool"})
DRAIN_REQUEST = {"NodeID": "string", "DrainSpec": DRAIN_SPEC, "MarkEligible": "bool", "Meta": "map[string]string"}
ELIGIBILITY_REQUEST = {"NodeID": "string", "Eligibility": "string"}


async def decode_request(request: web.Request, struct: str, fields: dict) -> dict:
    """decodeBody into api.<struct>: 400 with Go's text for an empty body, bad JSON or a wrong type."""
    try:
        value = decode_body(await request.read())
    except BodyError as exc:
        raise NomadError(400, str(exc)) from None
    decoded = Decoded(struct)
    if value is None:
        return {}
    if not isinstance(value, JsonObject):
        raise NomadError(400, f"json: cannot unmarshal {_kind(value)} into Go value of type api.{struct}")
    result = _decode_struct(value, struct, fields, decoded, struct)
    if decoded.error:
        raise NomadError(400, decoded.error)
    return result


def write_reply(request: web.Request, cluster: Cluster, index: int, eval_ids: list[str] | None = None) -> web.Response:
    body = {"NodeModifyIndex": index, "EvalIDs": eval_ids or None,
            "EvalCreateIndex": index if eval_ids else 0, "Index": index}
    response = json_reply(body, request)
    response.headers["X-Nomad-Index"] = str(index)
    return response


def accessor_id(request: web.Request) -> str:
    acl = request.app[ACL]
    if not acl.enabled:
        return ACLS_DISABLED_ACCESSOR
    token = acl.tokens.get(request_token(request))
    return token.accessor_id if token is not None else ""


def lookup_node(cluster: Cluster, node_id: str, missing: str) -> Node:
    """UpdateDrain/UpdateEligibility's lookup: an empty ID, then the UUID index, then `node not found`."""
    if not node_id:
        raise NomadError(500, missing)
    node = server_node(cluster, node_id)
    if node is None:
        raise NomadError(500, "node not found")
    return node


def node_eval_ids(cluster: Cluster, node: Node) -> list[str]:
    """createNodeEvals: one evaluation per job with allocations on the node."""
    jobs = {(a.namespace, a.job.id) for a in cluster.allocs.values() if a.node is node}
    return [str(uuid.uuid4()) for _job in sorted(jobs)]


# --- Handlers ---------------------------------------------------------------------------------

async def node_drain(request: web.Request, node_id: str) -> web.Response:
    if request.method not in ("PUT", "POST"):
        raise NomadError(405, "Invalid method")
    body = await decode_request(request, "NodeUpdateDrainRequest", DRAIN_REQUEST)
    cluster = request.app[CLUSTER]
    authorize(request, node="write")
    node = lookup_node(cluster, node_id, "missing node ID for drain update")
    spec = body.get("DrainSpec")
    strategy = None
    now = now_ns()
    if spec is not None:
        deadline = int(spec.get("Deadline") or 0)
        started = node.drain_strategy["StartedAt"] if node.drain_strategy else rfc3339nano(now)
        strategy = {"Deadline": deadline, "IgnoreSystemJobs": bool(spec.get("IgnoreSystemJobs")),
                    "ForceDeadline": rfc3339nano(now + deadline) if deadline > 0 else "0001-01-01T00:00:00Z",
                    "StartedAt": started}
    mark_eligible = bool(body.get("MarkEligible"))
    was_ineligible = node.eligibility == "ineligible"
    set_drain(node, strategy, mark_eligible, body.get("Meta") or {}, accessor_id(request))
    index = node.modify_index
    eval_ids = None
    if was_ineligible and mark_eligible and strategy is None:
        eval_ids = node_eval_ids(cluster, node)
        schedule(cluster, unblock(cluster))
    if strategy is not None:
        start_drainer(cluster, node)
    return write_reply(request, cluster, index, eval_ids)


async def node_eligibility(request: web.Request, node_id: str) -> web.Response:
    if request.method not in ("PUT", "POST"):
        raise NomadError(405, "Invalid method")
    body = await decode_request(request, "NodeUpdateEligibilityRequest", ELIGIBILITY_REQUEST)
    cluster = request.app[CLUSTER]
    authorize(request, node="write")
    wanted = body.get("Eligibility") or ""
    if not node_id:
        raise NomadError(500, "missing node ID for setting scheduling eligibility")
    if wanted not in ("eligible", "ineligible"):
        raise NomadError(500, f"invalid scheduling eligibility {go_quote(wanted)}")
    node = lookup_node(cluster, node_id, "missing node ID for setting scheduling eligibility")
    if node.drain_strategy is not None and wanted == "eligible":
        raise NomadError(500, DRAINING_NOT_ELIGIBLE)
    if node.eligibility == wanted:
        return write_reply(request, cluster, 0)  # "Nothing to do": an empty response
    node.eligibility = wanted
    node.event(MARKED_ELIGIBLE if wanted == "eligible" else MARKED_INELIGIBLE, "Cluster")
    eval_ids = None
    if wanted == "eligible":
        eval_ids = node_eval_ids(cluster, node)
        schedule(cluster, unblock(cluster))
    return write_reply(request, cluster, node.modify_index, eval_ids)


# --- State ------------------------------------------------------------------------------------

def set_drain(node: Node, strategy: dict | None, mark_eligible: bool, meta: dict, accessor: str,
              completed: bool = False) -> None:
    """updateNodeDrainImpl: the strategy, eligibility, LastDrain and the node event."""
    before = node.drain_strategy
    if before is None and strategy is not None:
        message = DRAIN_SET
    elif before is not None and strategy is not None:
        message = DRAIN_UPDATED
    elif before is not None:
        message = DRAIN_COMPLETE if completed else DRAIN_DISABLED
    else:
        message = None
    node.drain_strategy = strategy
    if strategy is not None:
        node.eligibility = "ineligible"
    elif mark_eligible:
        node.eligibility = "eligible"
    if before is not None or strategy is not None:
        updated = rfc3339nano(int(time.time()) * 1_000_000_000)  # whole seconds, as the RPC sends them
        if node.last_drain is None or node.last_drain["Status"] != "draining":
            node.last_drain = {"StartedAt": updated, "UpdatedAt": updated, "Status": "draining",
                               "AccessorID": "", "Meta": meta or None}
        node.last_drain["UpdatedAt"] = updated
        if meta:
            node.last_drain["Meta"] = meta
        if accessor:
            node.last_drain["AccessorID"] = accessor
        node.last_drain["Status"] = "draining" if strategy is not None else ("complete" if completed else "canceled")
    if message:
        node.event(message, "Drain")
    else:
        node.modify_index = node.cluster.bump()


def schedule(cluster: Cluster, coroutine) -> None:
    """Run the scheduler's or drainer's work in the background, cancelled at shutdown."""
    task = asyncio.ensure_future(coroutine)
    cluster.background.add(task)
    task.add_done_callback(cluster.background.discard)


def start_drainer(cluster: Cluster, node: Node) -> None:
    if node.id not in cluster.drainers:
        cluster.drainers.add(node.id)
        schedule(cluster, drain_node(cluster, node))


def _force_deadline_passed(strategy: dict) -> bool:
    if strategy["Deadline"] < 0:
        return True
    if strategy["Deadline"] == 0:
        return False
    started = strategy["StartedAt"]
    return time.time() >= _parse_rfc3339(started) + strategy["Deadline"] / 1e9


def _parse_rfc3339(text: str) -> float:
    seconds, _dot, fraction = text.rstrip("Z").partition(".")
    value = calendar.timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S"))
    return value + (float("0." + fraction) if fraction else 0.0)


async def drain_node(cluster: Cluster, node: Node) -> None:
    """The drainer for one node, until its drain is complete or cancelled."""
    try:
        while node.drain_strategy is not None:
            strategy = node.drain_strategy
            forced = _force_deadline_passed(strategy)
            left = [a for a in cluster.allocs.values() if a.node is node and not a.terminal]
            others = [a for a in left if a.job.type != "system"]
            movable = [a for a in others if a.job.type == "service" or forced]
            if movable:
                await migrate(cluster, movable[0])
                continue
            if others:  # batch allocations, waiting for the deadline
                await asyncio.sleep(DRAIN_TICK)
                continue
            system = [a for a in left if a.job.type == "system"]
            if system and not strategy["IgnoreSystemJobs"]:
                for alloc in system:
                    alloc.migrate = True
                    await alloc.stop()
                continue
            set_drain(node, None, False, {}, "", completed=True)
    finally:
        cluster.drainers.discard(node.id)


# --- Scheduling -------------------------------------------------------------------------------

def iis_healthy(node: Node) -> bool:
    return (node.running is not None and node.running.enabled and node.agent == "running"
            and node.cfg.drivers.get("iis", "healthy") == "healthy")


def candidate_nodes(cluster: Cluster, alloc_like, exclude: Node | None = None) -> list[Node]:
    """Nodes the scheduler may place the group on: ready, eligible, not draining, in one of the
    job's datacenters, in the group's `nodes` when it lists some, with a healthy iis driver when
    the group has an iis task; the least loaded first."""
    job, group = alloc_like.job, alloc_like.group
    needs_iis = any(t.driver == "iis" for t in group.tasks)

    def fits(node: Node) -> bool:
        return (node is not exclude and node.status == "ready" and node.eligibility == "eligible"
                and node.drain_strategy is None
                and any(fnmatch.fnmatchcase(node.datacenter, dc) for dc in job.datacenters)
                and (not group.nodes or node.name in group.nodes)
                and (iis_healthy(node) if needs_iis else node.agent == "running"))

    load = {n.id: sum(1 for a in cluster.allocs.values() if a.node is n and not a.terminal) for n in cluster.nodes}
    order = {n.id: i for i, n in enumerate(cluster.nodes)}
    return sorted((n for n in cluster.nodes if fits(n)), key=lambda n: (load[n.id], order[n.id]))


async def place(cluster: Cluster, job, group, index: int, previous: Alloc | None, node: Node) -> Alloc:
    alloc = Alloc(cluster, job, group, index, node)
    if previous is not None:
        alloc.previous_allocation = previous.id
        previous.next_allocation = alloc.id
    cluster.allocs[alloc.id] = alloc
    try:
        await alloc.start()
    except Exception:  # noqa: BLE001 - a task that cannot start fails its allocation, as a driver error does
        log.exception("replacement allocation %s failed to start", alloc.id)
        alloc.client_status = "failed"
        alloc.modify_index = cluster.bump()
    return alloc


async def migrate(cluster: Cluster, alloc: Alloc) -> None:
    """One allocation off a draining node: a replacement where the scheduler finds room (service
    jobs only), then the old allocation stops."""
    alloc.migrate = True
    alloc.desired_description = "alloc is being migrated"
    alloc.modify_index = cluster.bump()
    replacement = None
    if alloc.job.type == "service":
        targets = candidate_nodes(cluster, alloc, exclude=alloc.node)
        if targets:
            replacement = place(cluster, alloc.job, alloc.group, alloc.index, alloc, targets[0])
        else:
            cluster.blocked.append((alloc.job, alloc.group, alloc.index, alloc))
    await alloc.stop()
    if replacement is not None:
        await replacement


class _Group:
    def __init__(self, job, group):
        self.job, self.group = job, group


async def unblock(cluster: Cluster) -> None:
    """Blocked placements get a node when one becomes eligible, as blocked evaluations do."""
    waiting, cluster.blocked = cluster.blocked, []
    for job, group, index, previous in waiting:
        targets = candidate_nodes(cluster, _Group(job, group))
        if targets:
            await place(cluster, job, group, index, previous, targets[0])
        else:
            cluster.blocked.append((job, group, index, previous))


def queued(cluster: Cluster, job, group) -> int:
    """Placements of the group still waiting for a node (the job summary's `Queued`)."""
    return sum(1 for j, g, _i, _p in cluster.blocked if j is job and g is group)
