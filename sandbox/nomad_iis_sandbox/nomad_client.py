"""Client-local endpoints: node metadata, host and allocation stats, garbage collection (Nomad's
`command/agent/client_meta_endpoint.go`, `stats_endpoint.go`, `alloc_endpoint.go`). None of them
sets blocking-query headers.

Stats are real numbers of this machine: /proc/meminfo, /proc/stat deltas between requests, statvfs
of the state directory, and the RSS and CPU time of each task's worker processes."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from aiohttp import web

from .cluster import Alloc, Cluster, Node
from .go_compat import go_quote, hcl_identifier
from .nomad_common import CLUSTER, NomadError, authorize, client_node, empty_ok, json_reply, node_for_rpc, rpc_alloc

CPU_MHZ_FALLBACK = 2600.0
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MEMORY_MEASURED = ["RSS", "Swap", "Max Usage"]
CPU_MEASURED = ["System Mode", "User Mode", "Percent"]
NOT_ELIGIBLE_FOR_GC = "No such allocation on client, or allocation not eligible for GC"
UNSUPPORTED_ACTIONS = ("exec", "snapshot", "restart", "signal", "pause")
STATS = web.AppKey("client_stats", object)


# --- Metadata ---------------------------------------------------------------------------------

class BodyError(ValueError):
    """A request body that decodeBody refuses; the text is Go's."""


class JsonObject(list):
    """A decoded JSON object as its (key, value) pairs, in order and with repeated keys."""


def _quote_char(char: str) -> str:
    """encoding/json's quoteChar for the byte at an error."""
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + go_quote(char)[1:-1] + "'"


def _container_at(text: str, pos: int) -> str:
    """Whether `pos` is inside an object or an array, skipping strings."""
    stack, in_string, escaped = [], False, False
    for char in text[:pos]:
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return "object" if stack and stack[-1] == "{" else "array"


def _syntax_error(text: str, exc: json.JSONDecodeError) -> str:
    """The encoding/json Decoder's message for what Python's decoder found."""
    at_end = exc.pos >= len(text)
    char = "" if at_end else text[exc.pos]
    message = exc.msg
    if at_end or message.startswith("Unterminated string"):
        return "unexpected EOF"
    first_byte = chr(char.encode("utf-8")[0])
    if message.startswith("Expecting value"):
        return f"invalid character {_quote_char(first_byte)} looking for beginning of value"
    if message.startswith("Expecting property name"):
        return f"invalid character {_quote_char(first_byte)} looking for beginning of object key string"
    if message.startswith("Expecting ':'"):
        return f"invalid character {_quote_char(first_byte)} after object key"
    if message.startswith("Expecting ','"):
        where = "object key:value pair" if _container_at(text, exc.pos) == "object" else "array element"
        return f"invalid character {_quote_char(first_byte)} after {where}"
    if message.startswith("Invalid control character"):
        return f"invalid character {_quote_char(first_byte)} in string literal"
    if message.startswith("Invalid \\escape"):
        return f"invalid character {_quote_char(text[exc.pos + 1:exc.pos + 2] or first_byte)} in string escape code"
    return message


def _refuse_constant(name: str):
    raise BodyError(f"invalid character {_quote_char(name[0])} looking for beginning of value")


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, JsonObject) else "array"


def decode_body(raw: bytes):
    """decodeBody: one JSON value (trailing data ignored), keys kept in order as pairs."""
    if not raw:
        raise BodyError("Request body is empty")
    text = raw.decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise BodyError("EOF")
    decoder = json.JSONDecoder(object_pairs_hook=JsonObject, parse_constant=_refuse_constant)
    try:
        value, _end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise BodyError(_syntax_error(text, exc)) from None
    return value


@dataclass
class MetaApply:
    """structs.NodeMetaApplyRequest as encoding/json fills it (field names matched case-insensitively)."""
    meta: list[tuple[str, str | None]] | None = None
    node_id: str = ""
    type_error: str | None = None

    def fail(self, kind: str, target: str) -> None:
        if self.type_error is None:  # encoding/json reports the first type error
            self.type_error = f"json: cannot unmarshal {kind} into {target}"


def parse_meta_apply(value) -> MetaApply:
    out = MetaApply()
    if value is None:
        return out
    if not isinstance(value, JsonObject):
        out.fail(_json_kind(value), "Go value of type structs.NodeMetaApplyRequest")
        return out
    for key, item in value:
        if key.lower() == "meta":
            _parse_meta_field(out, item)
        elif key.lower() == "nodeid":
            if isinstance(item, str):
                out.node_id = item
            elif item is not None:
                out.fail(_json_kind(item), "Go struct field NodeMetaApplyRequest.NodeID of type string")
    return out


def _parse_meta_field(out: MetaApply, item) -> None:
    if item is None:
        out.meta = None
        return
    if not isinstance(item, JsonObject):
        out.fail(_json_kind(item), "Go struct field NodeMetaApplyRequest.Meta of type map[string]*string")
        return
    merged = dict(out.meta or [])
    for meta_key, meta_value in item:
        if meta_value is None or isinstance(meta_value, str):
            merged.pop(meta_key, None)  # a repeated key moves to its last position
            merged[meta_key] = meta_value
        else:
            out.fail(_json_kind(meta_value), "Go struct field NodeMetaApplyRequest.Meta of type string")
    out.meta = list(merged.items())


def validate_meta(meta: list[tuple[str, str | None]] | None) -> None:
    """NodeMetaApplyRequest.Validate, as an RPC error coded 400."""
    if not meta:
        raise NomadError(400, "missing required Meta object")
    for key, _value in meta:
        if key == "":
            raise NomadError(400, "metadata keys must not be empty")
        if not all(hcl_identifier(part) for part in key.split(".")):
            raise NomadError(400, f"{go_quote(key)} is invalid; metadata keys must be valid dotted hcl identifiers")


def apply_meta(cluster: Cluster, node: Node, meta: list[tuple[str, str | None]]) -> None:
    """client NodeMeta.Apply: merge into Dynamic; null drops a key, leaving a tombstone only for
    static keys so that the removal outlives a restart."""
    for key, value in meta:
        if value is None and key not in node.static_meta:
            node.dynamic_meta.pop(key, None)
        else:
            node.dynamic_meta[key] = value
    node.modify_index = cluster.bump()


def meta_response(node: Node) -> dict:
    return {"Meta": node.meta, "Dynamic": dict(node.dynamic_meta), "Static": dict(node.static_meta)}


async def metadata(request: web.Request) -> web.Response:
    cluster = request.app[CLUSTER]
    if request.method == "GET":
        authorize(request, node="read")
        node = node_for_rpc(cluster, request.query.get("node_id", ""))
        return json_reply(meta_response(node), request)
    if request.method != "POST":
        raise NomadError(405, "Invalid method")
    try:
        body = parse_meta_apply(decode_body(await request.read()))
    except BodyError as exc:
        raise NomadError(400, str(exc)) from None
    if body.type_error:
        raise NomadError(400, body.type_error)
    authorize(request, node="write")
    node = node_for_rpc(cluster, request.query.get("node_id") or body.node_id)
    validate_meta(body.meta)
    apply_meta(cluster, node, body.meta)
    return json_reply(meta_response(node), request)


# --- Host stats -------------------------------------------------------------------------------

def read_cpu_times() -> dict[str, list[int]]:
    """Per-CPU jiffies from /proc/stat: user nice system idle iowait irq softirq steal."""
    times = {}
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                times[name] = [int(v) for v in values[:8]]
    return times


def cpu_mhz() -> float:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("cpu mhz"):
                    return float(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return CPU_MHZ_FALLBACK


def meminfo() -> dict[str, int]:
    values = {}
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            key, rest = line.split(":", 1)
            values[key] = int(rest.split()[0]) * 1024
    return values


def mount_device(path: str) -> tuple[str, str]:
    """(device, mountpoint) of the filesystem holding `path`, from /proc/mounts."""
    path = os.path.realpath(path)
    best = ("", "/")
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                device, mountpoint = line.split()[:2]
                inside = path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")
                if inside and len(mountpoint) >= len(best[1]):
                    best = (device, mountpoint)
    except OSError:
        pass
    return best


def disk_stats(path: str) -> dict:
    stat = os.statvfs(path)
    size = stat.f_blocks * stat.f_frsize
    available = stat.f_bavail * stat.f_frsize
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    device, mountpoint = mount_device(path)
    inodes_used = (stat.f_files - stat.f_ffree) / stat.f_files * 100 if stat.f_files else 0.0
    return {"Device": device, "Mountpoint": mountpoint, "Size": size, "Used": used, "Available": available,
            "UsedPercent": used / (used + available) * 100 if used + available else 0.0,
            "InodesUsedPercent": inodes_used}


@dataclass
class StatsSampler:
    """Keeps the previous CPU readings so that percentages are over the time between requests."""
    cpu: dict[str, list[int]] = field(default_factory=read_cpu_times)
    cpu_result: list[dict] = field(default_factory=list)
    procs: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # pid -> (user s, system s, when)

    def host_cpu(self) -> list[dict]:
        now = read_cpu_times()
        mhz = cpu_mhz()
        result = []
        for name, values in now.items():
            before = self.cpu.get(name, [0] * 8)
            delta = [a - b for a, b in zip(values, before)]
            total = sum(delta)
            if total <= 0:
                return self.cpu_result or self._since_boot(now, mhz)
            result.append(self._cpu_entry(name, delta, total, mhz))
        self.cpu, self.cpu_result = now, result
        return result

    def _since_boot(self, now: dict[str, list[int]], mhz: float) -> list[dict]:
        return [self._cpu_entry(name, values, sum(values) or 1, mhz) for name, values in now.items()]

    @staticmethod
    def _cpu_entry(name: str, delta: list[int], total: int, mhz: float) -> dict:
        user = (delta[0] + delta[1]) / total * 100
        system = (delta[2] + delta[5] + delta[6]) / total * 100
        idle = (delta[3] + delta[4]) / total * 100
        busy = max(0.0, 100 - idle)
        return {"CPU": name, "User": user, "System": system, "Idle": idle, "TotalPercent": busy,
                "TotalTicks": busy / 100 * mhz}

    def process_cpu(self, pid: int) -> tuple[float, float]:
        """(user %, system %) of one process since the last request, or since it started."""
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        user, system = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
        now = time.monotonic()
        previous = self.procs.get(pid)
        self.procs[pid] = (user, system, now)
        if previous is None:
            elapsed = max(uptime() - int(fields[19]) / CLK_TCK, 1e-3)
            return user / elapsed * 100, system / elapsed * 100
        elapsed = max(now - previous[2], 1e-3)
        return (user - previous[0]) / elapsed * 100, (system - previous[1]) / elapsed * 100


def uptime() -> float:
    with open("/proc/uptime", encoding="ascii") as handle:
        return float(handle.read().split()[0])


def host_stats(sampler: StatsSampler, cluster: Cluster, node: Node) -> dict:
    memory = meminfo()
    cpus = sampler.host_cpu()
    alloc_dir = os.path.join(node.data_dir, "alloc")
    return {
        "Memory": {"Total": memory["MemTotal"], "Available": memory.get("MemAvailable", memory["MemFree"]),
                   "Used": memory["MemTotal"] - memory.get("MemAvailable", memory["MemFree"]),
                   "Free": memory["MemFree"]},
        "CPU": cpus,
        "DiskStats": [disk_stats(cluster.state_dir)],
        "AllocDirStats": disk_stats(alloc_dir if os.path.isdir(alloc_dir) else cluster.state_dir),
        "DeviceStats": [],
        "Uptime": int(uptime()),
        "Timestamp": time.time_ns(),
        "CPUTicksConsumed": sum(c["TotalTicks"] for c in cpus),
    }


async def client_stats(request: web.Request) -> web.Response:
    cluster = request.app[CLUSTER]
    authorize(request, node="read")
    try:
        node = client_node(request, cluster)
    except NomadError as exc:
        if "Unknown node" in exc.text:  # the stats handler maps it to 404
            raise NomadError(404, exc.text) from None
        raise
    return json_reply(host_stats(request.app[STATS], cluster, node), request)


# --- Allocation stats and GC ------------------------------------------------------------------

def process_memory(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            key, _sep, rest = line.partition(":")
            if key in ("VmRSS", "VmSwap", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def resource_usage(rss: int, swap: int, max_usage: int, user: float, system: float) -> dict:
    percent = user + system
    return {
        "MemoryStats": {"RSS": rss, "Cache": 0, "Swap": swap, "MappedFile": 0, "Usage": rss,
                        "MaxUsage": max_usage, "KernelUsage": 0, "KernelMaxUsage": 0, "Measured": MEMORY_MEASURED},
        "CpuStats": {"SystemMode": system, "UserMode": user, "TotalTicks": percent / 100 * cpu_mhz(),
                     "ThrottledPeriods": 0, "ThrottledTime": 0, "Percent": percent, "Measured": CPU_MEASURED},
        "DeviceStats": None,
    }


def task_usage(sampler: StatsSampler, task) -> dict:
    """The task's worker processes (one per started pool), summed."""
    rss = swap = max_usage = 0
    user = system = 0.0
    for pool in task.pools.values():
        if not pool.worker_running:
            continue
        try:
            memory = process_memory(pool.worker.pid)
            cpu_user, cpu_system = sampler.process_cpu(pool.worker.pid)
        except (OSError, IndexError, ValueError):
            continue  # the worker exited between the check and the read
        rss += memory.get("VmRSS", 0)
        swap += memory.get("VmSwap", 0)
        max_usage += memory.get("VmHWM", 0)
        user += cpu_user
        system += cpu_system
    return resource_usage(rss, swap, max_usage, user, system)


def sum_usage(usages: list[dict]) -> dict:
    memory = [u["MemoryStats"] for u in usages]
    cpu = [u["CpuStats"] for u in usages]
    return resource_usage(sum(m["RSS"] for m in memory), sum(m["Swap"] for m in memory),
                          sum(m["MaxUsage"] for m in memory), sum(c["UserMode"] for c in cpu),
                          sum(c["SystemMode"] for c in cpu))


def alloc_stats_body(sampler: StatsSampler, alloc: Alloc, task_filter: str) -> dict:
    now = time.time_ns()
    tasks = {name: {"ResourceUsage": task_usage(sampler, task), "Timestamp": now, "Pids": None}
             for name, task in alloc.tasks.items() if not task_filter or name == task_filter}
    return {"ResourceUsage": sum_usage([t["ResourceUsage"] for t in tasks.values()]), "Tasks": tasks,
            "Timestamp": now}


async def client_allocation(request: web.Request) -> web.Response:
    """ClientAllocRequest: exactly `<alloc id>/<action>`, else 404 `resource not found`."""
    tokens = request.match_info["tail"].split("/")
    if len(tokens) != 2:
        raise NomadError(404, "resource not found")
    alloc_id, action = tokens
    cluster = request.app[CLUSTER]
    if action == "stats":
        alloc = rpc_alloc(cluster, alloc_id)
        authorize(request, namespace=alloc.namespace, any_of=("read-job",))
        return json_reply(alloc_stats_body(request.app[STATS], alloc, request.query.get("task", "")), request)
    if action == "gc":
        alloc = rpc_alloc(cluster, alloc_id)
        authorize(request, namespace=alloc.namespace, any_of=("submit-job", "gc-allocation"))
        if not alloc.terminal or alloc.collected:
            raise NomadError(500, NOT_ELIGIBLE_FOR_GC)
        alloc.collect()
        return empty_ok()
    if action == "checks":
        alloc = rpc_alloc(cluster, alloc_id)
        authorize(request, namespace=alloc.namespace, any_of=("read-job",))
        return json_reply({}, request)
    if action in UNSUPPORTED_ACTIONS:
        raise NomadError(500, f"allocation {action} is not supported by nomad-iis-sandbox")
    raise NomadError(404, "resource not found")


async def client_gc(request: web.Request) -> web.Response:
    """GarbageCollectAll: every terminal alloc of the node (synchronously in the sandbox)."""
    cluster = request.app[CLUSTER]
    authorize(request, node="write")
    node = client_node(request, cluster)
    for alloc in cluster.allocs.values():
        if alloc.node is node and alloc.terminal and not alloc.collected:
            alloc.collect()
    return empty_ok()


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
    app[STATS] = StatsSampler()
    app.router.add_route("*", "/v1/client/metadata", metadata)
    app.router.add_route("*", "/v1/client/stats", client_stats)
    app.router.add_route("*", "/v1/client/allocation/{tail:.*}", client_allocation)
    app.router.add_route("*", "/v1/client/gc", client_gc)
