"""Server-state reads: jobs, allocations and nodes (Nomad's `command/agent/job_endpoint.go`,
`alloc_endpoint.go`, `node_endpoint.go`), shaped as Nomad's structs serialise them, with
blocking-query headers and Nomad's ID and ACL rules.

Jobs are rendered as `nomad job run` would have registered them: the IIS task's `config` holds the
blocks a user writes in HCL (`application_pool`, `application`, `binding`), each a list of maps."""

from __future__ import annotations

import os
import time

from aiohttp import web

from .cluster import Alloc, Cluster, Node, Task
from .config import GroupConfig, JobConfig, PoolConfig, TaskConfig
from .go_bexpr import FilterError, filter_list
from .nomad_drain import node_drain, node_eligibility, queued
from .go_compat import uuid_index_error, uuid_key
from .nomad_common import (CLUSTER, NOMAD_REVISION, NOMAD_VERSION, TLS, NomadError, authorize, block_until_changed,
                           blocking_headers, error_response, json_reply, namespace_filter, parse_query, query_bool,
                           require_method, server_alloc, server_node)

IIS_DRIVER_VERSION = "0.20.1"
ZERO_TIME = "0001-01-01T00:00:00Z"
REGISTRATION_DISABLED = "Job registration, dispatch, and scale are disabled by the scheduler configuration"
SECOND_NS = 1_000_000_000
WINDOWS_ATTRIBUTES = {
    "arch": "amd64", "cpu.arch": "amd64", "kernel.name": "windows", "kernel.arch": "x86_64",
    "kernel.version": "10.0.20348", "os.name": "Microsoft Windows Server 2022 Datacenter",
    "os.version": "10.0.20348 Build 20348", "os.build": "20348.2762", "os.family": "windows",
    "nomad.version": NOMAD_VERSION, "nomad.revision": NOMAD_REVISION, "nomad.service_discovery": "true",
    "driver.iis": "1", "driver.iis.version": IIS_DRIVER_VERSION, "driver.iis.iis_version": "10.0.20348.1",
    "driver.iis.iis_aspnet_core_available": "false", "driver.iis.iis_rewrite_module_available": "false",
    "driver.iis.directory_security_enabled": "true", "driver.iis.target_websites_enabled": "false",
}


def iso_from_ns(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns / SECOND_NS)) + f".{ns % SECOND_NS:09d}Z"


# --- Jobs -------------------------------------------------------------------------------------

def job_allocs(cluster: Cluster, job: JobConfig) -> list[Alloc]:
    return [a for a in cluster.allocs.values() if a.job is job]


def job_index(cluster: Cluster, job: JobConfig) -> tuple[int, int]:
    """(CreateIndex, ModifyIndex): the job was registered just before its allocations."""
    allocs = job_allocs(cluster, job)
    create = min((a.create_index for a in allocs), default=1) - 1
    return create, max([create, *(a.modify_index for a in allocs)])


def job_status(cluster: Cluster, job: JobConfig) -> str:
    allocs = job_allocs(cluster, job)
    if any(not a.terminal for a in allocs):
        return "running" if any(a.client_status == "running" for a in allocs) else "pending"
    return "dead"


def pool_block(pool: PoolConfig) -> dict:
    block = {"name": pool.name}
    if pool.start_mode != "OnDemand":
        block["start_mode"] = pool.start_mode
    return block


def task_driver_config(task: TaskConfig) -> dict:
    """The task's `config { ... }` after HCL parsing: blocks become lists of objects."""
    if task.driver != "iis":
        return {}
    config: dict = {}
    # The blocks the job declares, in its order (the driver's order of the pools too).
    pools = [pool_block(p) for p in task.pools if p.declared]
    if pools:
        config["application_pool"] = pools
    apps = []
    for app in task.applications:
        block = {"path": app.path}
        if app.alias:
            block["alias"] = app.alias
        if app.application_pool != "default":
            block["application_pool"] = app.application_pool
        apps.append(block)
    config["application"] = apps
    if task.bindings:
        config["binding"] = [{"type": b.type, "port": b.port, **({"hostname": b.hostname} if b.hostname else {})}
                             for b in task.bindings]
    return config


def restart_policy(mode: str = "fail") -> dict:
    return {"Attempts": 2, "Interval": 1800 * SECOND_NS, "Delay": 15 * SECOND_NS, "Mode": mode,
            "RenderTemplates": False}


def task_json(task: TaskConfig) -> dict:
    return {
        "Name": task.name, "Driver": task.driver, "User": "", "Config": task_driver_config(task),
        "Env": None, "Services": None, "Vault": None, "Consul": None, "Templates": None, "Constraints": None,
        "Affinities": None,
        "Resources": {"CPU": 100, "Cores": 0, "MemoryMB": 300, "MemoryMaxMB": 0, "DiskMB": 0, "IOPS": 0,
                      "Networks": None, "Devices": None, "NUMA": None},
        "RestartPolicy": restart_policy(), "DispatchPayload": None, "Lifecycle": None, "Meta": None,
        "KillTimeout": 5 * SECOND_NS, "LogConfig": {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False},
        "Artifacts": None, "Leader": False, "ShutdownDelay": 0, "VolumeMounts": None, "ScalingPolicies": None,
        "KillSignal": "", "Kind": "", "CSIPluginConfig": None, "Identity": None, "Identities": None,
        "Actions": None, "Schedule": None,
    }


def group_ports(group: GroupConfig) -> tuple[list[dict], list[dict]]:
    """(reserved, dynamic) port labels of the group's network block, from the IIS bindings."""
    reserved, dynamic, seen = [], [], set()
    for task in group.tasks:
        for binding in task.bindings:
            if binding.port in seen:
                continue
            seen.add(binding.port)
            port = {"Label": binding.port, "Value": binding.static or 0, "To": 0, "HostNetwork": "default",
                    "IgnoreCollision": False}
            (reserved if binding.static else dynamic).append(port)
    return reserved, dynamic


def group_json(group: GroupConfig) -> dict:
    reserved, dynamic = group_ports(group)
    networks = None
    if reserved or dynamic:
        networks = [{"Mode": "host", "Device": "", "CIDR": "", "IP": "", "Hostname": "", "MBits": 0, "DNS": None,
                     "ReservedPorts": reserved or None, "DynamicPorts": dynamic or None}]
    return {
        "Name": group.name, "Count": group.count, "Update": None, "Migrate": None, "Constraints": None,
        "Scaling": None, "RestartPolicy": restart_policy(), "Tasks": [task_json(t) for t in group.tasks],
        "EphemeralDisk": {"Sticky": False, "SizeMB": 300, "Migrate": False}, "Meta": None,
        "ReschedulePolicy": {"Attempts": 0, "Interval": 0, "Delay": 30 * SECOND_NS, "DelayFunction": "exponential",
                             "MaxDelay": 3600 * SECOND_NS, "Unlimited": True},
        "Affinities": None, "Spreads": None, "Networks": networks,
        "Consul": {"Namespace": "", "Cluster": "default", "Partition": ""},
        "Services": None, "Volumes": None, "ShutdownDelay": None, "StopAfterClientDisconnect": None,
        "MaxClientDisconnect": None, "PreventRescheduleOnLost": False, "Disconnect": None,
    }


def job_json(cluster: Cluster, job: JobConfig) -> dict:
    create, modify = job_index(cluster, job)
    return {
        "Stop": False, "Region": cluster.cfg.region, "Namespace": job.namespace, "ID": job.id, "ParentID": "",
        "Name": job.id, "Type": job.type, "Priority": 50, "AllAtOnce": False, "Datacenters": job.datacenters,
        "NodePool": "default", "Constraints": None, "Affinities": None, "Spreads": None,
        "TaskGroups": [group_json(g) for g in job.groups],
        "Update": {"Stagger": 30 * SECOND_NS, "MaxParallel": 1, "HealthCheck": "", "MinHealthyTime": 0,
                   "HealthyDeadline": 0, "ProgressDeadline": 0, "AutoRevert": False, "AutoPromote": False,
                   "Canary": 0},
        "Multiregion": None, "Periodic": None, "ParameterizedJob": None, "Dispatched": False,
        "DispatchIdempotencyToken": "", "Payload": None, "Meta": None, "ConsulToken": "", "ConsulNamespace": "",
        "VaultToken": "", "VaultNamespace": "", "NomadTokenID": "", "Status": job_status(cluster, job),
        "StatusDescription": "", "Stable": True, "Version": 0, "SubmitTime": cluster.job_submit_time,
        "CreateIndex": create, "ModifyIndex": modify, "JobModifyIndex": create, "UI": None, "VersionTag": None,
    }


def job_summary(cluster: Cluster, job: JobConfig) -> dict:
    create, modify = job_index(cluster, job)
    summary = {}
    for group in job.groups:
        allocs = [a for a in job_allocs(cluster, job) if a.group is group]
        counts = {status: sum(a.client_status == status for a in allocs)
                  for status in ("pending", "running", "complete", "failed", "lost", "unknown")}
        summary[group.name] = {"Queued": queued(cluster, job, group), "Complete": counts["complete"], "Failed": counts["failed"],
                               "Running": counts["running"], "Starting": counts["pending"], "Lost": counts["lost"],
                               "Unknown": counts["unknown"]}
    return {"JobID": job.id, "Namespace": job.namespace, "Summary": summary,
            "Children": {"Pending": 0, "Running": 0, "Dead": 0}, "CreateIndex": create, "ModifyIndex": modify}


def job_stub(cluster: Cluster, job: JobConfig) -> dict:
    create, modify = job_index(cluster, job)
    return {
        "ID": job.id, "ParentID": "", "Name": job.id, "Namespace": job.namespace, "Datacenters": job.datacenters,
        "NodePool": "default", "Multiregion": None, "Type": job.type, "Priority": 50, "Periodic": False,
        "ParameterizedJob": False, "Stop": False, "Status": job_status(cluster, job), "StatusDescription": "",
        "JobSummary": job_summary(cluster, job), "CreateIndex": create, "ModifyIndex": modify,
        "JobModifyIndex": create, "SubmitTime": cluster.job_submit_time,
    }


def find_job(cluster: Cluster, namespace: str, job_id: str) -> JobConfig | None:
    return next((j for j in cluster.cfg.jobs if j.namespace == namespace and j.id == job_id), None)


# --- Allocations ------------------------------------------------------------------------------

CLIENT_DESCRIPTIONS = {"pending": "No tasks have started", "running": "Tasks are running",
                       "complete": "All tasks have completed", "failed": "Failed tasks"}
EVENT_DEFAULTS = {"Type": "", "Time": 0, "Message": "", "DisplayMessage": "", "Details": {}, "FailsTask": False,
                  "RestartReason": "", "SetupError": "", "DriverError": "", "ExitCode": 0, "Signal": 0,
                  "KillTimeout": 0, "KillError": "", "KillReason": "", "StartDelay": 0, "DownloadError": "",
                  "ValidationError": "", "DiskLimit": 0, "FailedSibling": "", "VaultError": "",
                  "TaskSignalReason": "", "TaskSignal": "", "DriverMessage": "", "GenericSource": ""}


def task_state(task: Task) -> dict:
    return {"State": task.state, "Failed": False, "Restarts": 0, "LastRestart": ZERO_TIME,
            "StartedAt": task.started_at or ZERO_TIME, "FinishedAt": task.finished_at or ZERO_TIME,
            "Events": [{**EVENT_DEFAULTS, **event} for event in task.events], "TaskHandle": None}


def alloc_ports(alloc: Alloc) -> tuple[list[dict], list[dict]]:
    """(reserved, dynamic) host ports the alloc got, from its tasks' bound listeners."""
    static = {b.port for t in alloc.tasks.values() for b in t.cfg.bindings if b.static}
    reserved, dynamic = [], []
    for task in alloc.tasks.values():
        for label, value in task.ports.items():
            port = {"Label": label, "Value": value, "To": 0, "HostNetwork": "default", "IgnoreCollision": False}
            (reserved if label in static else dynamic).append(port)
    return reserved, dynamic


def allocated_resources(alloc: Alloc) -> dict:
    reserved, dynamic = alloc_ports(alloc)
    networks = None
    if reserved or dynamic:
        networks = [{"Mode": "host", "Device": "", "CIDR": "", "IP": "127.0.0.1", "Hostname": "", "MBits": 0,
                     "DNS": None, "ReservedPorts": reserved or None, "DynamicPorts": dynamic or None}]
    return {
        "Tasks": {name: {"Cpu": {"CpuShares": 100, "ReservedCores": None},
                         "Memory": {"MemoryMB": 300, "MemoryMaxMB": 0}, "Networks": None, "Devices": None}
                  for name in alloc.tasks},
        "TaskLifecycles": {name: None for name in alloc.tasks},
        "Shared": {"Networks": networks, "DiskMB": 300,
                   "Ports": [{"Label": p["Label"], "Value": p["Value"], "To": 0, "HostIP": "127.0.0.1"}
                             for p in reserved + dynamic] or None},
    }


def alloc_stub(alloc: Alloc, task_states: bool = True, resources: bool = False) -> dict:
    stub = {
        "ID": alloc.id, "EvalID": alloc.eval_id, "Name": alloc.name, "Namespace": alloc.namespace,
        "NodeID": alloc.node.id, "NodeName": alloc.node.name, "JobID": alloc.job.id, "JobType": alloc.job.type,
        "JobVersion": 0, "TaskGroup": alloc.group.name, "DesiredStatus": alloc.desired_status,
        "DesiredDescription": alloc.desired_description,
        "ClientStatus": alloc.client_status,
        "ClientDescription": CLIENT_DESCRIPTIONS.get(alloc.client_status, ""),
        "DesiredTransition": {"Migrate": alloc.migrate, "Reschedule": None, "ForceReschedule": None,
                              "NoShutdownDelay": None},
        "TaskStates": {n: task_state(t) for n, t in alloc.tasks.items()} if task_states else None,
        "DeploymentStatus": None, "FollowupEvalID": "", "NextAllocation": alloc.next_allocation,
        "RescheduleTracker": None,
        "PreemptedAllocations": None, "PreemptedByAllocation": "", "CreateIndex": alloc.create_index,
        "ModifyIndex": alloc.modify_index, "CreateTime": alloc.create_time, "ModifyTime": alloc.modify_time,
    }
    if resources:
        stub["AllocatedResources"] = allocated_resources(alloc)
    return stub


def alloc_json(cluster: Cluster, alloc: Alloc) -> dict:
    full = alloc_stub(alloc)
    resources = allocated_resources(alloc)
    full.update({
        "Job": job_json(cluster, alloc.job), "AllocatedResources": resources,
        "Resources": {"CPU": 100 * len(alloc.tasks), "Cores": 0, "MemoryMB": 300 * len(alloc.tasks),
                      "MemoryMaxMB": 0, "DiskMB": 300, "IOPS": 0, "Networks": resources["Shared"]["Networks"],
                      "Devices": None, "NUMA": None},
        "SharedResources": {"CPU": 0, "Cores": 0, "MemoryMB": 0, "MemoryMaxMB": 0, "DiskMB": 300, "IOPS": 0,
                            "Networks": resources["Shared"]["Networks"], "Devices": None, "NUMA": None},
        "TaskResources": None,
        "Metrics": {"NodesEvaluated": len(cluster.nodes), "NodesFiltered": 0, "NodesInPool": len(cluster.nodes),
                    "NodesAvailable": {alloc.node.datacenter: len(cluster.nodes)}, "ClassFiltered": None,
                    "ConstraintFiltered": None, "NodesExhausted": 0, "ClassExhausted": None,
                    "DimensionExhausted": None, "QuotaExhausted": None, "ResourcesExhausted": None, "Scores": None,
                    "ScoreMetaData": None, "AllocationTime": 250000, "CoalescedFailures": 0},
        "AllocStates": None, "PreviousAllocation": alloc.previous_allocation, "DeploymentID": "", "NetworkStatus": None,
        "AllocModifyIndex": alloc.create_index, "SigningKeyID": "",
    })
    return full


def prefix_matches(alloc_id: str, prefix: str) -> bool:
    return uuid_key(alloc_id).startswith(uuid_key(prefix))


def stub_fields(request: web.Request) -> tuple[bool, bool]:
    """(task_states, resources) of an alloc list; a bad bool is an uncoded error: 500."""
    try:
        resources = query_bool(request, "resources")
        task_states = query_bool(request, "task_states")
    except ValueError as exc:
        raise NomadError(500, str(exc)) from None
    return task_states is not False, bool(resources)


# --- Nodes ------------------------------------------------------------------------------------

def node_address(cluster: Cluster) -> str:
    return (cluster.nomad_addr or "http://127.0.0.1:4646").split("://", 1)[1]


def mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 1024 ** 3


def driver_attributes(node: Node) -> dict[str, str]:
    """The iis driver's fingerprint attributes, from the driver the node's agent loaded (node_driver.py)."""
    if node.running is None or not node.running.enabled:
        return {}
    return node.running.attributes()


def node_attributes(cluster: Cluster, node: Node) -> dict[str, str]:
    """Node.Attributes: the client's fingerprint; `driver.<name>` and the driver's own attributes
    only while the driver is detected (client/node_updater.go)."""
    cores = os.cpu_count() or 1
    attributes = {k: v for k, v in WINDOWS_ATTRIBUTES.items() if not k.startswith("driver.")}
    for name, info in node_drivers(node).items():
        if info["Detected"]:
            attributes.update(info["Attributes"])
            attributes[f"driver.{name}"] = "1"  # after the driver's own `driver.<name>`, as the client does
    return {**attributes,
            "cpu.numcores": str(cores), "cpu.frequency": "2600", "cpu.totalcompute": str(2600 * cores),
            "cpu.modelname": "Sandbox Virtual CPU", "memory.totalbytes": str(mem_total()),
            "unique.hostname": node.name, "unique.network.ip-address": "127.0.0.1",
            "nomad.advertise.address": node_address(cluster)}


DRIVER_HEALTH_DESCRIPTIONS = {"healthy": "Healthy", "unhealthy": "Unhealthy", "undetected": "Driver not detected"}


def node_drivers(node: Node) -> dict:
    """Node.Drivers (structs.DriverInfo per driver). The iis driver is there while its plugin is
    loaded (node_agent.py, node_driver.py), undetected ("Driver disabled") with `enabled = false`,
    with the health the node's `drivers` config gives it; the config's other drivers as it says.
    Nomad keeps an entry for a driver it did not detect too, so a driver's presence alone says
    nothing."""
    started = iso_from_ns(int(node.cluster.started * SECOND_NS))
    drivers = {}
    for name, health in node.cfg.drivers.items():
        if name == "iis":
            continue
        detected = health != "undetected"
        drivers[name] = {"Attributes": {f"driver.{name}": "true"} if detected else {}, "Detected": detected,
                         "Healthy": health == "healthy", "HealthDescription": DRIVER_HEALTH_DESCRIPTIONS[health],
                         "UpdateTime": started}
    if node.running is not None:
        health = node.cfg.drivers.get("iis", "healthy")
        detected = health != "undetected" and node.running.enabled
        description = DRIVER_HEALTH_DESCRIPTIONS[health] if node.running.enabled else "Driver disabled"
        drivers["iis"] = {"Attributes": driver_attributes(node) if detected else {}, "Detected": detected,
                          "Healthy": detected and health == "healthy", "HealthDescription": description,
                          "UpdateTime": iso_from_ns(node.driver_updated_ns)}
    return dict(sorted(drivers.items()))


def node_resources() -> dict:
    cores = os.cpu_count() or 1
    return {"Cpu": {"CpuShares": 2600 * cores, "TotalCpuCores": cores, "ReservableCpuCores": list(range(cores))},
            "Memory": {"MemoryMB": mem_total() // 1024 ** 2}, "Disk": {"DiskMB": 100 * 1024},
            "Networks": None, "NodeNetworks": None, "Devices": None, "NUMA": None,
            "MinDynamicPort": 20000, "MaxDynamicPort": 32000}


def reserved_resources() -> dict:
    return {"Cpu": {"CpuShares": 0, "ReservedCpuCores": None}, "Memory": {"MemoryMB": 0},
            "Disk": {"DiskMB": 0}, "Networks": {"ReservedHostPorts": ""}}


def node_stub(cluster: Cluster, node: Node, with_os: bool = False, resources: bool = False) -> dict:
    stub = {"Address": "127.0.0.1", "ID": node.id, "Datacenter": node.datacenter, "Name": node.name,
            "NodeClass": node.cfg.node_class, "NodePool": node.cfg.node_pool, "Version": NOMAD_VERSION,
            "Drain": node.drain_strategy is not None, "SchedulingEligibility": node.eligibility,
            "Status": node.status, "StatusDescription": "",
            "Drivers": node_drivers(node), "HostVolumes": None, "LastDrain": node.last_drain,
            "CreateIndex": node.create_index, "ModifyIndex": node.modify_index}
    if with_os:
        stub["Attributes"] = {"os.name": WINDOWS_ATTRIBUTES["os.name"]}
    if resources:
        stub["NodeResources"] = node_resources()
        stub["ReservedResources"] = reserved_resources()
    return stub


def node_json(cluster: Cluster, node: Node, tls: bool) -> dict:
    full = node_stub(cluster, node, resources=True)
    full.pop("Address")
    full.pop("Version")
    full.update({
        "SecretID": "", "HTTPAddr": node_address(cluster), "TLSEnabled": tls,
        "Attributes": node_attributes(cluster, node), "Resources": None, "Reserved": None, "Links": {},
        "Meta": node.meta, "ComputedClass": f"v1:{abs(hash(node.name)) % 10 ** 19}", "DrainStrategy": node.drain_strategy,
        "StatusUpdatedAt": int(cluster.started), "CSIControllerPlugins": None, "CSINodePlugins": None,
        "HostNetworks": None, "NodeMaxAllocs": 0,
        "Events": [dict(event, Timestamp=iso_from_ns(event["Timestamp"])) for event in node.events],
    })
    return full


# --- Handlers ---------------------------------------------------------------------------------

def filtered(request: web.Request, items: list, datum_of) -> list:
    """`?filter=` as Nomad's paginator applies it on list endpoints (go_bexpr.py): to the full
    object behind each stub; a bad expression or an unknown field is a 400."""
    try:
        return filter_list(request.query.get("filter", ""), items, datum_of)
    except FilterError as exc:
        raise NomadError(400, str(exc)) from None


async def read_state(request: web.Request):
    """What every server-state read does first: 405, query parsing (400s), then blocking."""
    require_method(request, "GET")
    opts = parse_query(request)
    return request.app[CLUSTER], opts


def answer(request: web.Request, cluster: Cluster, data) -> web.Response:
    return blocking_headers(json_reply(data, request), cluster)


async def jobs_list(request: web.Request) -> web.Response:
    if request.method in ("PUT", "POST"):
        raise NomadError(403, REGISTRATION_DISABLED)
    cluster, opts = await read_state(request)
    authorize(request, namespace=opts.namespace, any_of=("list-jobs",))
    await block_until_changed(cluster, opts)
    allowed = namespace_filter(request, "list-jobs")
    jobs = sorted((j for j in cluster.cfg.jobs
                   if (opts.namespace == "*" or j.namespace == opts.namespace) and allowed(j.namespace)
                   and j.id.startswith(opts.prefix)), key=lambda j: (j.namespace, j.id))
    return answer(request, cluster, [job_stub(cluster, j) for j in jobs])


async def job_specific(request: web.Request) -> web.Response:
    """jobSpecificRequest: dispatch on the path's suffix; anything else is the job itself."""
    path = request.match_info["tail"]
    if path.endswith("/allocations"):
        return await job_allocations(request, path[: -len("/allocations")])
    if path.endswith("/summary"):
        return await job_summary_request(request, path[: -len("/summary")])
    if request.method in ("PUT", "POST"):
        raise NomadError(403, REGISTRATION_DISABLED)
    if request.method == "DELETE":
        raise NomadError(500, "job deregistration is not supported by nomad-iis-sandbox "
                              "(stop an allocation with POST /_sandbox/allocs/<id>/stop)")
    cluster, opts = await read_state(request)
    authorize(request, namespace=opts.namespace, any_of=("read-job",))
    await block_until_changed(cluster, opts)
    job = find_job(cluster, opts.namespace, path)
    if job is None:
        return blocking_headers(error_response(404, "job not found"), cluster)
    return answer(request, cluster, job_json(cluster, job))


async def job_allocations(request: web.Request, job_id: str) -> web.Response:
    cluster, opts = await read_state(request)
    authorize(request, namespace=opts.namespace, any_of=("read-job",))
    await block_until_changed(cluster, opts)
    allocs = sorted((a for a in cluster.allocs.values()
                     if a.job.id == job_id and a.namespace == opts.namespace),
                    key=lambda a: (a.create_index, a.id))
    return answer(request, cluster, [alloc_stub(a) for a in allocs])


async def job_summary_request(request: web.Request, job_id: str) -> web.Response:
    cluster, opts = await read_state(request)
    authorize(request, namespace=opts.namespace, any_of=("read-job",))
    await block_until_changed(cluster, opts)
    job = find_job(cluster, opts.namespace, job_id)
    if job is None:
        return blocking_headers(error_response(404, "job not found"), cluster)
    return answer(request, cluster, job_summary(cluster, job))


async def allocations_list(request: web.Request) -> web.Response:
    cluster, opts = await read_state(request)
    task_states, resources = stub_fields(request)
    authorize(request, namespace=opts.namespace, any_of=("read-job",))
    await block_until_changed(cluster, opts)
    if opts.prefix:
        index_error = uuid_index_error(opts.prefix, exact=False)
        if index_error:
            raise NomadError(500, f"alloc lookup failed: index error: {index_error}")
    allowed = namespace_filter(request, "read-job")
    allocs = [a for a in cluster.allocs.values()
              if (opts.namespace == "*" or a.namespace == opts.namespace) and allowed(a.namespace)
              and (not opts.prefix or prefix_matches(a.id, opts.prefix))]
    allocs.sort(key=(lambda a: a.id) if opts.prefix else (lambda a: (a.create_index, a.id)))
    allocs = filtered(request, allocs, lambda a: alloc_json(cluster, a))
    return answer(request, cluster, [alloc_stub(a, task_states, resources) for a in allocs])


async def allocation_specific(request: web.Request) -> web.Response:
    """AllocSpecificRequest: `<id>` or `<id>/<action>`; more segments → 404 `resource not found`."""
    tokens = request.match_info["tail"].split("/")
    if len(tokens) > 2:
        raise NomadError(404, "resource not found")
    if len(tokens) == 2:
        return await allocation_action(request, tokens[0], tokens[1])
    cluster, opts = await read_state(request)
    authorize(request)  # an unknown token is refused before the lookup
    await block_until_changed(cluster, opts)
    alloc = server_alloc(cluster, tokens[0])
    if alloc is None:
        return blocking_headers(error_response(404, "alloc not found"), cluster)
    if not namespace_filter(request, "read-job")(alloc.namespace):
        # GetAlloc hides allocations the token may not read, with an uncoded error: 500.
        raise NomadError(500, f'Unknown allocation "{tokens[0]}"')
    return answer(request, cluster, alloc_json(cluster, alloc))


async def allocation_action(request: web.Request, alloc_id: str, action: str) -> web.Response:
    if action == "stop":
        raise NomadError(500, "allocation stop is not supported by nomad-iis-sandbox "
                              "(use POST /_sandbox/allocs/<id>/stop)")
    if action in ("services", "checks"):
        cluster, opts = await read_state(request)
        alloc = server_alloc(cluster, alloc_id)
        if alloc is None:
            raise NomadError(404, f'Unknown allocation "{alloc_id}"')
        authorize(request, namespace=alloc.namespace, any_of=("read-job",))
        return answer(request, cluster, [] if action == "services" else {})
    raise NomadError(404, "resource not found")


async def nodes_list(request: web.Request) -> web.Response:
    cluster, opts = await read_state(request)
    try:
        resources = query_bool(request, "resources")
        with_os = query_bool(request, "os")
    except ValueError as exc:
        raise NomadError(400, f"Failed to parse node list fields: {exc}") from None
    authorize(request, node="read")
    await block_until_changed(cluster, opts)
    if opts.prefix:
        index_error = uuid_index_error(opts.prefix, exact=False)
        if index_error:
            raise NomadError(500, f"node lookup failed: index error: {index_error}")
    nodes = sorted((n for n in cluster.nodes if uuid_key(n.id).startswith(uuid_key(opts.prefix))),
                   key=lambda n: n.id)
    nodes = filtered(request, nodes, lambda n: node_json(cluster, n, request.app[TLS]))
    return answer(request, cluster, [node_stub(cluster, n, bool(with_os), bool(resources)) for n in nodes])


async def node_specific(request: web.Request) -> web.Response:
    path = request.match_info["tail"]
    if path.endswith("/allocations"):
        return await node_allocations(request, path[: -len("/allocations")])
    if path.endswith("/drain"):
        return await node_drain(request, path[: -len("/drain")])
    if path.endswith("/eligibility"):
        return await node_eligibility(request, path[: -len("/eligibility")])
    cluster, opts = await read_state(request)
    authorize(request, node="read")
    await block_until_changed(cluster, opts)
    node = server_node(cluster, path)
    if node is None:
        return blocking_headers(error_response(404, "node not found"), cluster)
    return answer(request, cluster, node_json(cluster, node, request.app[TLS]))


async def node_allocations(request: web.Request, node_id: str) -> web.Response:
    cluster, opts = await read_state(request)
    authorize(request, node="read")
    await block_until_changed(cluster, opts)
    node = server_node(cluster, node_id)
    allowed = namespace_filter(request, "read-job")
    allocs = [a for a in cluster.allocs.values() if node is not None and a.node is node and allowed(a.namespace)]
    return answer(request, cluster, [alloc_json(cluster, a) for a in allocs])


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
    app.router.add_route("*", "/v1/jobs", jobs_list)
    app.router.add_route("*", "/v1/job/{tail:.*}", job_specific)
    app.router.add_route("*", "/v1/allocations", allocations_list)
    app.router.add_route("*", "/v1/allocation/{tail:.*}", allocation_specific)
    app.router.add_route("*", "/v1/nodes", nodes_list)
    app.router.add_route("*", "/v1/node/{tail:.*}", node_specific)
