"""Cluster description: the YAML schema (see README.md) and the built-in demo cluster."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml

# Upstream limits logical pool names to 8 characters (DriverTaskConfig / IisTaskHandle).
POOL_NAME_MAX = 8
# IIS object names are `nomad-{allocId}-{task}[-{pool}]` and may not exceed 64 characters.
IIS_NAME_MAX = 64
UNSET = object()


class ConfigError(ValueError):
    pass


DEFAULT_DATA_DIR = "C:\\nomad\\data"
WINRM_AUTH = ("basic", "ntlm", "negotiate")
POOL_STATES = ("Started", "Stopped")


@dataclass
class WinrmConfig:
    """A node's WinRM listener (`winrm:`; README, "WinRM")."""
    enabled: bool = True
    port: int | None = None  # HTTP; None: from --winrm-port
    https_port: int | None = None  # with --tls-dir; None: from --winrm-port
    users: Any = UNSET  # {user: password}; UNSET: one generated user shared by every node
    auth: list[str] = field(default_factory=lambda: list(WINRM_AUTH))
    allow_unencrypted: bool = False
    # Where procdump.exe is installed on the node (gcore stands in for it); None: not installed.
    procdump_path: str | None = "C:\\procdump.exe"


@dataclass
class ExtraPool:
    """An IIS application pool the driver did not make: a leftover of a crashed driver, an admin's own."""
    name: str
    state: str = "Started"
    auto_start: bool = True
    runtime: str = "v4.0"
    pipeline: str = "Integrated"


@dataclass
class ExtraSite:
    name: str
    pool: str = "DefaultAppPool"
    state: str = "Started"
    bindings: list[str] = field(default_factory=list)  # e.g. http/*:8080:  (listed, not served)


@dataclass
class IisConfig:
    extra_pools: list[ExtraPool] = field(default_factory=list)
    extra_sites: list[ExtraSite] = field(default_factory=list)


@dataclass
class ProcdumpConfig:
    binary_path: str = "C:\\procdump.exe"
    accept_eula: bool = False


NODE_STATUSES = ("initializing", "ready", "down", "disconnected")
DRIVER_HEALTH = ("healthy", "unhealthy", "undetected")


@dataclass
class NodeConfig:
    name: str
    datacenter: str = "dc1"
    node_class: str = ""
    node_pool: str = "default"
    # Nomad's node status; a `down` node keeps its last fingerprint and gets no allocations.
    status: str = "ready"
    eligible: bool = True
    drain: bool = False  # a drain in progress (DrainStrategy set; the node is then ineligible)
    # Task drivers the node fingerprints: name -> healthy | unhealthy | undetected.
    drivers: dict[str, str] = field(default_factory=lambda: {"iis": "healthy"})
    meta: dict[str, str] = field(default_factory=dict)
    api_enabled: bool = True
    api_port: int | None = None  # None: taken from --api-port
    api_key: Any = UNSET  # UNSET: --api-key or a generated key; None: no key (upstream's 403 mode)
    jwt_secret: Any = UNSET
    # None: no procdump block, so upstream's defaults apply (C:\procdump.exe, EULA not accepted).
    procdump: ProcdumpConfig | None = None
    # The node's Nomad data_dir as Windows paths show it; it maps onto `<state dir>/<node>/`.
    data_dir: str = DEFAULT_DATA_DIR
    winrm: WinrmConfig = field(default_factory=WinrmConfig)
    iis: IisConfig = field(default_factory=IisConfig)
    # The installed Nomad IIS driver (the Management API build); None: not installed, no iis driver.
    driver_version: str | None = "0.20.1"


@dataclass
class PoolConfig:
    name: str = "default"
    # IIS's default is OnDemand: a started pool gets its worker process at the first request.
    start_mode: str = "OnDemand"
    # Seconds a worker takes to shut down, so that Stopping is observable as on IIS.
    shutdown_delay: float = 0.5
    # Memory (MiB) each worker allocates and touches, to make process dumps of a realistic size.
    ballast_mb: int = 0
    # Whether the job declares the pool's block (False: added because an application uses it).
    declared: bool = True


@dataclass
class ApplicationConfig:
    path: str = "local"
    alias: str = ""
    application_pool: str = "default"


@dataclass
class BindingConfig:
    type: str = "http"
    port: str = "http"  # network port label
    static: int | None = None  # a static port instead of a dynamic one
    hostname: str = ""


@dataclass
class TaskConfig:
    name: str
    driver: str = "iis"
    pools: list[PoolConfig] = field(default_factory=list)
    applications: list[ApplicationConfig] = field(default_factory=list)
    bindings: list[BindingConfig] = field(default_factory=list)


@dataclass
class GroupConfig:
    name: str
    count: int = 1
    nodes: list[str] = field(default_factory=list)  # placement; empty: spread over all nodes
    tasks: list[TaskConfig] = field(default_factory=list)


@dataclass
class JobConfig:
    id: str
    namespace: str = "default"
    type: str = "service"
    datacenters: list[str] = field(default_factory=lambda: ["*"])
    groups: list[GroupConfig] = field(default_factory=list)


@dataclass
class AclPolicy:
    name: str
    # {"namespace": {"default": ["read-job", ...]}, "node": "read"|"write", "agent": "read"|"write"}
    namespaces: dict[str, list[str]] = field(default_factory=dict)
    node: str = ""
    agent: str = ""


@dataclass
class AclToken:
    name: str
    secret_id: str
    accessor_id: str
    type: str = "client"  # client | management
    policies: list[str] = field(default_factory=list)


@dataclass
class MemberConfig:
    """Another Nomad server in the gossip pool, besides the sandbox's own."""
    name: str  # serf member name, conventionally `<node name>.<region>`
    address: str = "127.0.0.2:4648"  # serf address ip:port
    status: str = "alive"  # alive | failed | left
    datacenter: str = "dc1"


@dataclass
class ClusterConfig:
    region: str = "global"
    nodes: list[NodeConfig] = field(default_factory=list)
    jobs: list[JobConfig] = field(default_factory=list)
    policies: list[AclPolicy] = field(default_factory=list)
    tokens: list[AclToken] = field(default_factory=list)
    members: list[MemberConfig] = field(default_factory=list)
    # The agent's enable_debug: pprof needs it when ACLs are off.
    enable_debug: bool = True


def demo_config() -> ClusterConfig:
    """One node, job `web`, group `web`, task `app`, pool `default`, one http binding, path `local`."""
    return parse_config({
        "nodes": [{"name": "win-node-1", "meta": {"rack": "r1"},
                   "management_api": {"procdump": {"binary_path": "gcore", "accept_eula": True}}}],
        "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}],
    })


def load_config(path: str) -> ClusterConfig:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return parse_config(data)


def _keys(data: dict, allowed: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _list(data: Any, where: str) -> list:
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a list")
    return data


def parse_config(data: dict) -> ClusterConfig:
    """The cluster YAML. Besides `region`, `nodes` and `jobs`:

    enable_debug: true          # the agent's enable_debug; with ACLs off, /v1/agent/pprof needs it
    acl:                        # used with --acl (the management token is in the ready file)
      policies:
        - name: ops
          namespace:            # namespace name or glob -> capabilities; an exact name beats a glob
            default: [read-job, read-fs, "policy:read"]   # `policy:<deny|read|write|scale>` expands
            "prod-*": write     # a plain string is the namespace's `policy = "..."`
          node: read            # deny | read | write
          agent: write          # deny | read | write
        - name: anonymous       # applies to requests without a token, as in Nomad
          namespace: {default: read}
      tokens:
        - name: ops-token
          secret_id: 6d3f...    # what clients send as X-Nomad-Token or Authorization: Bearer
          accessor_id: ...      # optional
          type: client          # client | management
          policies: [ops]
    members:                    # further servers in the gossip pool (/v1/agent/members, join, force-leave)
      - name: nomad-2.global
        address: 10.0.0.12:4648 # serf address; joining it revives a left member
        status: alive           # alive | failed | left
        datacenter: dc1
    """
    _keys(data, {"region", "nodes", "jobs", "acl", "enable_debug", "members"}, "config")
    cfg = ClusterConfig(region=str(data.get("region", "global")),
                        enable_debug=bool(data.get("enable_debug", True)))
    for i, raw in enumerate(_list(data.get("nodes"), "nodes")):
        cfg.nodes.append(_parse_node(raw, f"nodes[{i}]"))
    if not cfg.nodes:
        raise ConfigError("config: at least one node is required")
    live = [n.name for n in cfg.nodes if n.status != "down"]
    if len(set(live)) != len(live):
        # Nomad allows it, but then a name no longer says which node is meant: only a `down` node
        # (the old registration of a rebuilt machine) may share its name here.
        raise ConfigError("nodes: node names must be unique, except for nodes with status down")
    for i, raw in enumerate(_list(data.get("jobs"), "jobs")):
        # Allocations are placed on nodes that are not down.
        cfg.jobs.append(_parse_job(raw, f"jobs[{i}]", set(live)))
    acl = data.get("acl") or {}
    _keys(acl, {"policies", "tokens"}, "acl")
    for i, raw in enumerate(_list(acl.get("policies"), "acl.policies")):
        cfg.policies.append(_parse_policy(raw, f"acl.policies[{i}]"))
    for i, raw in enumerate(_list(acl.get("tokens"), "acl.tokens")):
        _keys(raw, {"name", "secret_id", "accessor_id", "type", "policies"}, f"acl.tokens[{i}]")
        cfg.tokens.append(AclToken(
            name=raw["name"], secret_id=raw["secret_id"],
            accessor_id=raw.get("accessor_id") or _uuid(), type=raw.get("type", "client"),
            policies=list(raw.get("policies") or [])))
    for i, raw in enumerate(_list(data.get("members"), "members")):
        cfg.members.append(_parse_member(raw, f"members[{i}]"))
    return cfg


POLICY_LEVELS = ("", "deny", "read", "write")


def _parse_policy(raw: dict, where: str) -> AclPolicy:
    _keys(raw, {"name", "namespace", "node", "agent"}, where)
    if not raw.get("name"):
        raise ConfigError(f"{where}: name is required")
    namespaces = {}
    for ns, caps in (raw.get("namespace") or {}).items():
        # A plain string is the namespace block's `policy = "..."`.
        namespaces[str(ns)] = [f"policy:{caps}"] if isinstance(caps, str) else [str(c) for c in _list(caps, where)]
    policy = AclPolicy(name=str(raw["name"]), node=str(raw.get("node", "")), agent=str(raw.get("agent", "")),
                       namespaces=namespaces)
    for level in (policy.node, policy.agent):
        if level not in POLICY_LEVELS:
            raise ConfigError(f"{where}: node and agent must be deny, read or write, not {level!r}")
    return policy


def _parse_member(raw: dict, where: str) -> MemberConfig:
    _keys(raw, {"name", "address", "status", "datacenter"}, where)
    if not raw.get("name"):
        raise ConfigError(f"{where}: name is required")
    member = MemberConfig(name=str(raw["name"]), address=str(raw.get("address", "127.0.0.2:4648")),
                          status=str(raw.get("status", "alive")), datacenter=str(raw.get("datacenter", "dc1")))
    if member.status not in ("alive", "failed", "left"):
        raise ConfigError(f"{where}: status must be alive, failed or left")
    if not re.fullmatch(r"[0-9.]+:\d+", member.address):
        raise ConfigError(f"{where}: address must be an IPv4 ip:port")
    return member


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse_winrm(raw: Any, where: str) -> WinrmConfig:
    if raw is False:
        return WinrmConfig(enabled=False)
    raw = raw or {}
    _keys(raw, {"enabled", "port", "https_port", "users", "auth", "allow_unencrypted", "procdump_path"}, where)
    winrm = WinrmConfig(enabled=bool(raw.get("enabled", True)), allow_unencrypted=bool(raw.get("allow_unencrypted", False)),
                        procdump_path=raw.get("procdump_path", WinrmConfig.procdump_path))
    for key in ("port", "https_port"):
        if raw.get(key) is not None:
            setattr(winrm, key, int(raw[key]))
    if "users" in raw:
        users = raw["users"] or {}
        if not isinstance(users, dict) or not users:
            raise ConfigError(f"{where}.users: expected a mapping of user names to passwords")
        winrm.users = {str(k): str(v) for k, v in users.items()}
    if "auth" in raw:
        winrm.auth = [str(a).lower() for a in _list(raw["auth"], f"{where}.auth")]
        unknown = set(winrm.auth) - set(WINRM_AUTH)
        if unknown or not winrm.auth:
            raise ConfigError(f"{where}.auth: choose among {', '.join(WINRM_AUTH)}")
    return winrm


def _parse_iis(raw: Any, where: str) -> IisConfig:
    raw = raw or {}
    _keys(raw, {"extra_pools", "extra_sites"}, where)
    iis = IisConfig()
    for i, p in enumerate(_list(raw.get("extra_pools"), f"{where}.extra_pools")):
        p = {"name": p} if isinstance(p, str) else p
        _keys(p, {"name", "state", "auto_start", "runtime", "pipeline"}, f"{where}.extra_pools[{i}]")
        pool = ExtraPool(name=str(p["name"]), state=str(p.get("state", "Started")), auto_start=bool(p.get("auto_start", True)),
                         runtime=str(p.get("runtime", "v4.0")), pipeline=str(p.get("pipeline", "Integrated")))
        if pool.state not in POOL_STATES:
            raise ConfigError(f"{where}.extra_pools[{i}]: state must be Started or Stopped")
        iis.extra_pools.append(pool)
    for i, s in enumerate(_list(raw.get("extra_sites"), f"{where}.extra_sites")):
        s = {"name": s} if isinstance(s, str) else s
        _keys(s, {"name", "pool", "state", "bindings"}, f"{where}.extra_sites[{i}]")
        site = ExtraSite(name=str(s["name"]), pool=str(s.get("pool", "DefaultAppPool")), state=str(s.get("state", "Started")),
                         bindings=[str(b) for b in _list(s.get("bindings"), f"{where}.extra_sites[{i}].bindings")])
        if site.state not in POOL_STATES:
            raise ConfigError(f"{where}.extra_sites[{i}]: state must be Started or Stopped")
        iis.extra_sites.append(site)
    return iis


def _parse_node(raw: dict, where: str) -> NodeConfig:
    _keys(raw, {"name", "datacenter", "node_class", "node_pool", "status", "eligible", "drain", "drivers", "meta",
                "management_api", "winrm", "iis", "data_dir", "driver_version"}, where)
    if not raw.get("name"):
        raise ConfigError(f"{where}: name is required")
    node = NodeConfig(name=str(raw["name"]), datacenter=str(raw.get("datacenter", "dc1")),
                      node_class=str(raw.get("node_class", "")), node_pool=str(raw.get("node_pool", "default")),
                      status=str(raw.get("status", "ready")), eligible=bool(raw.get("eligible", True)),
                      drain=bool(raw.get("drain", False)),
                      meta={str(k): str(v) for k, v in (raw.get("meta") or {}).items()},
                      data_dir=str(raw.get("data_dir", DEFAULT_DATA_DIR)).rstrip("\\"),
                      winrm=_parse_winrm(raw.get("winrm"), f"{where}.winrm"),
                      iis=_parse_iis(raw.get("iis"), f"{where}.iis"))
    if not re.match(r"^[A-Za-z]:\\", node.data_dir):
        raise ConfigError(f"{where}.data_dir: expected an absolute Windows path such as C:\\nomad\\data")
    if node.status not in NODE_STATUSES:
        raise ConfigError(f"{where}: status must be one of {', '.join(NODE_STATUSES)}")
    if "drivers" in raw:
        drivers = raw["drivers"] or {}
        _keys(drivers, set(drivers), f"{where}.drivers")
        node.drivers = {str(k): str(v) for k, v in drivers.items()}
        if any(v not in DRIVER_HEALTH for v in node.drivers.values()):
            raise ConfigError(f"{where}.drivers: each driver is {', '.join(DRIVER_HEALTH)}")
    if "driver_version" in raw:
        node.driver_version = None if raw["driver_version"] is None else str(raw["driver_version"])
        if node.driver_version is not None and not re.fullmatch(r"\d+\.\d+\.\d+", node.driver_version):
            raise ConfigError(f"{where}.driver_version: expected MAJOR.MINOR.PATCH or null")
    api = raw.get("management_api", {})
    if api is False:
        node.api_enabled = False
        return node
    api = api or {}
    _keys(api, {"enabled", "port", "api_key", "jwt_secret", "procdump"}, f"{where}.management_api")
    node.api_enabled = bool(api.get("enabled", True))
    if "port" in api:
        node.api_port = int(api["port"])
    if "api_key" in api:
        node.api_key = api["api_key"]
    if "jwt_secret" in api:
        node.jwt_secret = api["jwt_secret"]
    if api.get("procdump") is not None:
        pd = api["procdump"]
        _keys(pd, {"binary_path", "accept_eula"}, f"{where}.management_api.procdump")
        node.procdump = ProcdumpConfig(binary_path=str(pd.get("binary_path", "C:\\procdump.exe")),
                                       accept_eula=bool(pd.get("accept_eula", False)))
    return node


def _parse_job(raw: dict, where: str, node_names: set[str]) -> JobConfig:
    _keys(raw, {"id", "namespace", "type", "datacenters", "groups"}, where)
    if not raw.get("id"):
        raise ConfigError(f"{where}: id is required")
    job = JobConfig(id=str(raw["id"]), namespace=str(raw.get("namespace", "default")),
                    type=str(raw.get("type", "service")),
                    datacenters=list(raw.get("datacenters") or ["*"]))
    for gi, graw in enumerate(_list(raw.get("groups"), f"{where}.groups")):
        gwhere = f"{where}.groups[{gi}]"
        _keys(graw, {"name", "count", "nodes", "tasks"}, gwhere)
        group = GroupConfig(name=str(graw["name"]), count=int(graw.get("count", 1)),
                            nodes=list(graw.get("nodes") or []))
        for n in group.nodes:
            if n not in node_names:
                raise ConfigError(f"{gwhere}.nodes: unknown node {n!r}")
        for ti, traw in enumerate(_list(graw.get("tasks"), f"{gwhere}.tasks")):
            group.tasks.append(_parse_task(traw, f"{gwhere}.tasks[{ti}]"))
        if not group.tasks:
            raise ConfigError(f"{gwhere}: at least one task is required")
        job.groups.append(group)
    if not job.groups:
        raise ConfigError(f"{where}: at least one group is required")
    return job


def _parse_task(raw: dict, where: str) -> TaskConfig:
    _keys(raw, {"name", "driver", "config"}, where)
    task = TaskConfig(name=str(raw["name"]), driver=str(raw.get("driver", "iis")))
    conf = raw.get("config") or {}
    _keys(conf, {"application_pool", "application", "binding"}, f"{where}.config")
    if task.driver != "iis":
        return task
    for i, p in enumerate(_list(conf.get("application_pool"), f"{where}.config.application_pool")):
        _keys(p, {"name", "start_mode", "shutdown_delay", "ballast_mb"}, f"{where}.application_pool[{i}]")
        pool = PoolConfig(name=str(p.get("name", "default")), start_mode=str(p.get("start_mode", "OnDemand")),
                          shutdown_delay=float(p.get("shutdown_delay", 0.5)), ballast_mb=int(p.get("ballast_mb", 0)))
        if len(pool.name) > POOL_NAME_MAX:
            raise ConfigError(f"{where}: application_pool name {pool.name!r} is longer than {POOL_NAME_MAX} characters")
        if pool.start_mode not in ("OnDemand", "AlwaysRunning"):
            raise ConfigError(f"{where}: start_mode must be OnDemand or AlwaysRunning")
        task.pools.append(pool)
    for i, a in enumerate(_list(conf.get("application"), f"{where}.config.application") or [{}]):
        _keys(a, {"path", "alias", "application_pool"}, f"{where}.application[{i}]")
        path = str(a.get("path", "local"))
        if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or ".." in re.split(r"[\\/]", path):
            raise ConfigError(f"{where}: application path must be relative to the task directory")
        task.applications.append(ApplicationConfig(path=path, alias=str(a.get("alias", "")).strip("/"),
                                                   application_pool=str(a.get("application_pool", "default"))))
    # Upstream drops pools that no application references, and a referenced pool without a
    # block gets the defaults.
    referenced = {a.application_pool for a in task.applications}
    declared = {p.name for p in task.pools}
    task.pools = [p for p in task.pools if p.name in referenced]
    task.pools += [PoolConfig(name=n, declared=False) for n in sorted(referenced - declared)]
    bindings = conf.get("binding")
    for i, b in enumerate(_list(bindings, f"{where}.config.binding") if bindings is not None else [{}]):
        _keys(b, {"type", "port", "static", "hostname"}, f"{where}.binding[{i}]")
        binding = BindingConfig(type=str(b.get("type", "http")), port=str(b.get("port", "http")),
                                static=b.get("static"), hostname=str(b.get("hostname", "")))
        if binding.type not in ("http", "https"):
            raise ConfigError(f"{where}: binding type must be http or https")
        task.bindings.append(binding)
    return task


def resolve_credentials(cfg: ClusterConfig, api_key: str | None, jwt_secret: str | None,
                        api_port: int) -> None:
    """Fill in Management API ports and credentials that the config leaves to the command line."""
    for index, node in enumerate(cfg.nodes):
        if node.api_port is None:
            node.api_port = 0 if api_port == 0 else api_port + index
        if node.api_key is UNSET:
            node.api_key = api_key if api_key is not None else secrets.token_hex(16)
        if node.jwt_secret is UNSET:
            node.jwt_secret = jwt_secret


WINRM_USER = "sandbox-admin"


def resolve_winrm(cfg: ClusterConfig, winrm_port: int) -> None:
    """Fill in WinRM ports (node i: HTTP `winrm_port + 2i`, HTTPS the next one; 0: free ports) and,
    for nodes whose config names no user, one generated user shared by every node (as a domain
    account would be)."""
    shared = {WINRM_USER: secrets.token_urlsafe(18)}
    for index, node in enumerate(cfg.nodes):
        winrm = node.winrm
        if winrm.port is None:
            winrm.port = 0 if winrm_port == 0 else winrm_port + 2 * index
        if winrm.https_port is None:
            winrm.https_port = 0 if winrm_port == 0 else winrm_port + 2 * index + 1
        if winrm.users is UNSET:
            winrm.users = dict(shared)
