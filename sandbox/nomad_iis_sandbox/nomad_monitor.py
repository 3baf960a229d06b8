"""The agent's log and `/v1/agent/monitor` (Nomad's `command/agent/agent_endpoint.go` AgentMonitor and
`command/agent/monitor/monitor.go`).

The monitor shows the sandbox's own log: a handler on the `nomad_iis_sandbox` logger formats records
as hclog does and fans them out to every open monitor, which streams them through nomad_frames in
frames of at most 1 KiB."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from .go_compat import GoDuration, go_duration, go_quote_surrogateescape
from .nomad_common import CLUSTER, NomadError, authorize, client_node, query_flag
from .nomad_frames import FrameSink, StreamFramer, run_stream

MONITOR_FRAME_SIZE = 1024  # the monitor's framer
TRACE = 5
logging.addLevelName(TRACE, "TRACE")
# hclog levels; a monitor at level L shows entries at L and above.
HCLOG_TRACE, HCLOG_DEBUG, HCLOG_INFO, HCLOG_WARN, HCLOG_ERROR, HCLOG_OFF = range(1, 7)
MONITOR_LEVELS = {"trace": HCLOG_TRACE, "debug": HCLOG_DEBUG, "info": HCLOG_INFO, "warn": HCLOG_WARN,
                  "error": HCLOG_ERROR, "off": HCLOG_OFF}
_BRACKETS = {HCLOG_TRACE: "[TRACE]", HCLOG_DEBUG: "[DEBUG]", HCLOG_INFO: "[INFO] ", HCLOG_WARN: "[WARN] ",
             HCLOG_ERROR: "[ERROR]"}
# hclog module names for the sandbox's loggers that do not name one (extra={"nomad_module": ...}).
# mgmt_captures.py keeps the name it logged under before it was renamed.
_MODULES = {"nomad_iis_sandbox.cluster": "client", "nomad_iis_sandbox.mgmt_api": "client.driver_mgr.nomad-driver-iis",
            "nomad_iis_sandbox.mgmt_captures": "diagnostics"}
MONITOR_BUFFER = 512
DROPPED_CHECK = 3.0


def _hclog_level(levelno: int) -> int:
    for limit, level in ((TRACE, HCLOG_TRACE), (logging.DEBUG, HCLOG_DEBUG), (logging.INFO, HCLOG_INFO),
                         (logging.WARNING, HCLOG_WARN)):
        if levelno <= limit:
            return level
    return HCLOG_ERROR


@dataclass
class LogEntry:
    created: float
    level: int
    module: str
    message: str
    kv: list[tuple[str, object]] = field(default_factory=list)
    location: str = ""

    @classmethod
    def from_record(cls, record: logging.LogRecord) -> "LogEntry":
        kv = list((getattr(record, "kv", None) or {}).items())
        if record.exc_info and record.exc_info[1] is not None:
            kv.append(("error", str(record.exc_info[1])))
        module = getattr(record, "nomad_module", None) or _MODULES.get(record.name, record.name.rsplit(".", 1)[-1])
        return cls(record.created, _hclog_level(record.levelno), module, record.getMessage(), kv,
                   f"{os.path.basename(record.pathname)}:{record.lineno}")


def _hclog_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoDuration):
        return go_duration(value)
    text = str(value)
    if text == "":
        return '""'
    if any(c.isspace() or c == '"' or not c.isprintable() for c in text):
        return go_quote_surrogateescape(text)
    return text


def format_plain(entry: LogEntry, include_location: bool) -> bytes:
    """hclog's text format: `2026-01-01T10:00:00.000Z [INFO]  http: message: k=v k="v w"`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.created)) + f".{int(entry.created * 1000) % 1000:03d}Z"
    parts = [stamp, " ", _BRACKETS[entry.level], " "]
    if include_location:
        parts.append(f"{entry.location}: ")
    if entry.module:
        parts.append(f"{entry.module}: ")
    parts.append(entry.message)
    if entry.kv:
        parts.append(":" + "".join(f" {key}={_hclog_value(value)}" for key, value in entry.kv))
    return ("".join(parts) + "\n").encode("utf-8", "replace")


def format_json(entry: LogEntry, include_location: bool) -> bytes:
    """hclog's JSON format: one object per line, keys sorted as Go's encoder sorts a map."""
    micros = int(entry.created * 1_000_000) % 1_000_000
    body = {"@level": _BRACKETS[entry.level].strip("[] ").lower(), "@message": entry.message,
            "@module": entry.module,
            "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.created)) + f".{micros:06d}Z"}
    if include_location:
        body["@caller"] = entry.location
    for key, value in entry.kv:
        body[key] = int(value) if isinstance(value, GoDuration) else value
    return (json.dumps(dict(sorted(body.items())), separators=(",", ":"), default=str) + "\n").encode("utf-8")


class Subscription:
    """One monitor's feed: formatted lines at its level, at most 512 waiting (later ones are
    dropped and counted, as Nomad's monitor does)."""

    def __init__(self, level: int, formatter, loop: asyncio.AbstractEventLoop):
        self.level = level
        self.formatter = formatter
        self.loop = loop
        self.thread = threading.get_ident()
        self.lines: collections.deque[bytes] = collections.deque()
        self.dropped = 0
        self.wakeup = asyncio.Event()

    def offer(self, entry: LogEntry) -> None:
        """Called from whatever thread logged; the queue is touched on the loop's thread only."""
        if entry.level < self.level:
            return
        line = self.formatter(entry)
        if threading.get_ident() == self.thread:
            self._push(line)
            return
        try:
            self.loop.call_soon_threadsafe(self._push, line)
        except RuntimeError:
            pass  # the loop is closed

    def _push(self, line: bytes) -> None:
        if len(self.lines) >= MONITOR_BUFFER:
            self.dropped += 1
        else:
            self.lines.append(line)
        self.wakeup.set()

    async def take(self) -> list[bytes]:
        try:
            await asyncio.wait_for(self.wakeup.wait(), DROPPED_CHECK)
        except asyncio.TimeoutError:
            pass
        self.wakeup.clear()
        lines = list(self.lines)
        self.lines.clear()
        if self.dropped:
            lines.append(f"[WARN] Monitor dropped {self.dropped} logs during monitor request\n".encode())
            self.dropped = 0
        return lines


class LogHub(logging.Handler):
    """The agent's log: keeps recent entries and fans new ones out to the open monitors."""

    def __init__(self, keep: int = 1000):
        super().__init__(level=TRACE)
        self.recent: collections.deque[LogEntry] = collections.deque(maxlen=keep)
        # Replaced, never mutated: emit() may run in any thread while the loop subscribes.
        self.subscriptions: tuple[Subscription, ...] = ()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = LogEntry.from_record(record)
            self.recent.append(entry)
            for subscription in self.subscriptions:
                subscription.offer(entry)
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.handleError(record)

    def subscribe(self, level: int, formatter) -> Subscription:
        subscription = Subscription(level, formatter, asyncio.get_running_loop())
        self.subscriptions = (*self.subscriptions, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions = tuple(s for s in self.subscriptions if s is not subscription)


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = format_plain(LogEntry.from_record(record), False).decode().rstrip("\n")
        return text + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


LOG_HUB = LogHub()


def install_log_hub() -> LogHub:
    """Route the sandbox's log through the hub (once per process). Warnings and errors also go to
    stderr, as the agent's own output, since a handler here silences Python's last-resort one."""
    root = logging.getLogger("nomad_iis_sandbox")
    if LOG_HUB not in root.handlers:
        root.setLevel(TRACE)
        root.addHandler(LOG_HUB)
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(_StderrFormatter())
        root.addHandler(stderr)
    return LOG_HUB


def _monitor_level(request: web.Request) -> int:
    text = request.query.get("log_level", "") or "INFO"
    level = MONITOR_LEVELS.get(text.strip().lower())
    if level is None:
        raise NomadError(400, f"Unknown log level: {text}")
    return level


async def agent_monitor(request: web.Request) -> web.StreamResponse:
    """AgentMonitor: parameter checks, then (in the RPC) the ACL check; then log lines framed in
    frames of at most 1 KiB with FileEvent "log", or raw with plain=true."""
    level = _monitor_level(request)
    log_json = query_flag(request, "log_json", False, 400, "Unknown option for log json")
    plain = query_flag(request, "plain", False, 400, "Unknown option for plain")
    include_location = query_flag(request, "log_include_location", False, 400, "Unknown option for log include location")
    if request.query.get("node_id") and request.query.get("server_id"):
        raise NomadError(400, "Cannot target node and server simultaneously")
    authorize(request, agent="read")
    if request.query.get("node_id"):
        client_node(request, request.app[CLUSTER])
    formatter = format_json if log_json else format_plain
    subscription = LOG_HUB.subscribe(level, lambda entry: formatter(entry, include_location))

    async def produce(framer: StreamFramer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for line in await subscription.take():
                await framer.send("", "log", line, 0)

    try:
        sink = FrameSink(request, plain, "text/plain" if plain else "application/json")
        return await run_stream(request, sink, MONITOR_FRAME_SIZE, produce)
    finally:
        LOG_HUB.unsubscribe(subscription)


def add_routes(app: web.Application) -> None:
    """Register this group's routes on the Nomad API app."""
    install_log_hub()
    app.router.add_route("*", "/v1/agent/monitor", agent_monitor)
