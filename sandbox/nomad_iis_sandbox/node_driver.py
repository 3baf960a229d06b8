"""The Nomad IIS driver a node has installed: which build of `nomad_iis.exe` (version, with or without
the Management API), the agent's `plugin "nomad_iis"` block (`args`, `config`), and what the driver
makes of them when the agent loads it.

Upstream facts reproduced here (sevensolutions/nomad-iis, `src/NomadIIS`):

- Options come from the plugin's `args`, read by ASP.NET Core's command-line configuration
  provider (`Program.cs`): `--key=value`, `--key value`, `/key=value`, `/key value` and
  `key=value`, keys case-insensitive, the last one winning. `management-api-port` (0: no API),
  `management-api-key` (from v0.11.0), `management-api-jwt-secret` (from v0.12.0); the build
  without the Management API (`nomad_iis.zip`) ignores all three.
- The `config {}` schema changes with the version (`Services/Configuration/DriverConfig.cs` at
  each tag): `udp_logger_port` until v0.15.0, `allowed_apppool_identities` and
  `allowed_apppool_users` from v0.18.0, `placeholder_app_path` and the `procdump` block from
  v0.11.0. A key the version does not know fails the agent's plugin loader, and the agent does not
  start (Nomad `helper/pluginutils/loader/init.go`); so does a `fingerprint_interval` under 10 s
  (`ManagementService.cs`).
- The fingerprint (`DriverService.cs`): `driver.iis.version` is `PluginInfo.Version`, which tag
  v0.11.0 left at "0.10.0"; the Management API build adds `driver.iis.management_api_enabled`
  and `driver.iis.management_api_port`, the other build leaves both out; `enabled = false` makes
  the driver undetected ("Driver disabled").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .go_compat import go_parse_duration

DEFAULT_VERSION = "0.20.1"
PLUGIN_NAME = "nomad_iis"
VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
MIN_FINGERPRINT_INTERVAL = 10.0  # seconds

# config {} keys and the versions that know them: (key, first version, last version); None: open.
CONFIG_KEYS = (
    ("enabled", None, None),
    ("fingerprint_interval", None, None),
    ("directory_security", None, None),
    ("allowed_target_websites", None, None),
    ("udp_logger_port", None, (0, 15, 0)),
    ("placeholder_app_path", (0, 11, 0), None),
    ("procdump", (0, 11, 0), None),
    ("allowed_apppool_identities", (0, 18, 0), None),
    ("allowed_apppool_users", (0, 18, 0), None),
)
PROCDUMP_KEYS = ("binary_path", "accept_eula")


def parse_version(version: str) -> tuple[int, int, int]:
    match = VERSION_RE.match(version or "")
    if not match:
        raise ValueError(f"not a driver version: {version!r} (expected MAJOR.MINOR.PATCH)")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def config_keys(version: str) -> list[str]:
    """The keys of the plugin's `config {}` block that this driver version accepts."""
    wanted = parse_version(version)
    return [key for key, first, last in CONFIG_KEYS
            if (first is None or wanted >= first) and (last is None or wanted <= last)]


def fingerprint_version(version: str) -> str:
    """`driver.iis.version` as the driver reports it: tag v0.11.0 still says 0.10.0."""
    return "0.10.0" if version == "0.11.0" else version


def command_line_options(args: list[str]) -> dict[str, str]:
    """ASP.NET Core's CommandLineConfigurationProvider over `args`: lower-cased keys, last wins."""
    options: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = str(args[index])
        index += 1
        if arg.startswith("--"):
            key = arg[2:]
        elif arg.startswith("/"):
            key = arg[1:]
        elif "=" in arg:
            key = arg
        else:
            continue  # a bare value without a key is skipped
        if "=" in key:
            key, value = key.split("=", 1)
        elif index < len(args):
            value = str(args[index])
            index += 1
        else:
            continue  # `--key` at the end: no value, ignored
        options[key.lower()] = value
    return options


@dataclass
class DriverBuild:
    """What a node has installed: the exe's build and the agent's plugin block for it.

    `exe_sha256` and `config_sha256` are opaque to the sandbox: tests that model the files on
    the node store what they need there and read it back through the inspection endpoint.
    """
    version: str = DEFAULT_VERSION
    management_api: bool = True  # the build from nomad_iis_mgmt_api.zip
    args: list[str] = field(default_factory=list)
    config: dict = field(default_factory=lambda: {"enabled": True})
    exe_sha256: str | None = None
    config_sha256: str | None = None

    def _option(self, name: str, since: tuple[int, int, int]) -> str | None:
        if not self.management_api or parse_version(self.version) < since:
            return None
        return command_line_options(self.args).get(name) or None

    @property
    def api_port(self) -> int:
        """The Management API port the driver listens on (0: none)."""
        raw = self._option("management-api-port", (0, 11, 0))
        try:
            port = int(raw) if raw else 0
        except ValueError:
            port = 0
        return port if 0 < port < 65536 else 0

    @property
    def api_key(self) -> str | None:
        return self._option("management-api-key", (0, 11, 0))

    @property
    def jwt_secret(self) -> str | None:
        return self._option("management-api-jwt-secret", (0, 12, 0))

    @property
    def enabled(self) -> bool:
        return self.config.get("enabled", True) is not False

    def load_error(self) -> str | None:
        """Why the agent's plugin loader refuses this driver (and the agent does not start), or None."""
        try:
            known = config_keys(self.version)
        except ValueError as exc:
            return f"failed to load plugin {PLUGIN_NAME!r}: {exc}"
        prefix = f'failed to parse plugin "{PLUGIN_NAME}" (driver) config: '
        for key, value in self.config.items():
            if key not in known:
                return prefix + f'Unsupported argument: An argument named "{key}" is not expected here.'
            if key == "procdump":
                blocks = value if isinstance(value, list) else [value]
                for block in blocks:
                    for sub in (block or {}):
                        if sub not in PROCDUMP_KEYS:
                            return prefix + f'Unsupported argument: An argument named "{sub}" is not expected here.'
        interval = self.config.get("fingerprint_interval")
        if interval is not None:
            try:
                seconds = go_parse_duration(str(interval))
            except ValueError:
                return prefix + f'Invalid duration: {interval!r}'
            if seconds < MIN_FINGERPRINT_INTERVAL:
                return (f'failed to set config of plugin "{PLUGIN_NAME}": fingerprint_interval must be at least '
                        f'{int(MIN_FINGERPRINT_INTERVAL)}s')
        return None

    def attributes(self) -> dict[str, str]:
        """The driver's own fingerprint attributes, stringified as Nomad stores them."""
        directory_security = self.config.get("directory_security", True) is not False
        attrs = {
            "driver.iis.version": fingerprint_version(self.version),
            "driver.iis.iis_version": "10.0.20348.1",
            "driver.iis.iis_aspnet_core_available": "false",
            "driver.iis.iis_rewrite_module_available": "false",
            "driver.iis.directory_security_enabled": "true" if directory_security else "false",
            "driver.iis.target_websites_enabled": "true" if self.config.get("allowed_target_websites") else "false",
        }
        if self.management_api:
            port = self.api_port
            attrs["driver.iis.management_api_enabled"] = "true" if port > 0 else "false"
            attrs["driver.iis.management_api_port"] = str(port)
        return attrs

    def plugin_json(self) -> dict:
        """config.PluginConfig as /v1/agent/self shows it: the args verbatim, secrets included."""
        return {"Name": PLUGIN_NAME, "Args": list(self.args) or None, "Config": dict(self.config) or None}

    def describe(self) -> dict:
        """For the inspection endpoint."""
        return {"version": self.version, "management_api": self.management_api, "args": list(self.args),
                "config": dict(self.config), "exe_sha256": self.exe_sha256, "config_sha256": self.config_sha256,
                "api_port": self.api_port, "api_key": self.api_key, "jwt_secret": self.jwt_secret}


def build_from_config(version: str, api_enabled: bool, api_port: int, api_key: str | None,
                      jwt_secret: str | None, procdump: dict | None) -> DriverBuild:
    """The driver a node of the cluster YAML starts with: the Management API build, with the args
    and config block its `management_api` settings stand for."""
    args = []
    if api_enabled and api_port:
        args.append(f"--management-api-port={api_port}")
        if api_key:
            args.append(f"--management-api-key={api_key}")
        if jwt_secret:
            args.append(f"--management-api-jwt-secret={jwt_secret}")
    config: dict = {"enabled": True}
    if procdump is not None:
        config["procdump"] = [dict(procdump)]
    return DriverBuild(version=version, management_api=True, args=args, config=config)


def build_from_json(data: dict) -> DriverBuild:
    """A DriverBuild from the inspection endpoint's JSON; ValueError names what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    unknown = set(data) - {"version", "management_api", "args", "config", "exe_sha256", "config_sha256"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    version = str(data.get("version", DEFAULT_VERSION))
    parse_version(version)
    args = data.get("args") or []
    config = data.get("config") if data.get("config") is not None else {"enabled": True}
    if not isinstance(args, list) or not isinstance(config, dict):
        raise ValueError("args must be a list and config an object")
    return DriverBuild(version=version, management_api=bool(data.get("management_api", True)),
                       args=[str(a) for a in args], config=config,
                       exe_sha256=data.get("exe_sha256"), config_sha256=data.get("config_sha256"))
