"""Fixtures that run the sandbox as users do: `nomad-iis-sandbox serve` in a subprocess, waited for
through its ready file, stopped with SIGTERM, and checked to leave no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from sandbox_http import Sandbox

JWT_SECRET = "0123456789abcdef0123456789abcdef-sandbox"


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class SandboxProcess(Sandbox):
    def __init__(self, tmp_path, args=(), config=None):
        self.tmp_path = tmp_path
        ready = tmp_path / "ready.json"
        cmd = [sys.executable, "-m", "nomad_iis_sandbox", "serve", "--nomad-port", "0", "--api-port", "0",
               "--ready-file", str(ready), "--state-dir", str(tmp_path / "state"), *args]
        if config is not None:
            path = tmp_path / "cluster.yml"
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
            cmd += ["--config", str(path)]
        self.log = open(tmp_path / "sandbox.log", "wb")
        self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("sandbox did not start:\n" + (tmp_path / "sandbox.log").read_text())
            time.sleep(0.05)
        super().__init__(json.loads(ready.read_text()))

    def stop(self) -> set[int]:
        """SIGTERM, wait, and return the PIDs of descendants that are still alive (should be none)."""
        if self.process.poll() is not None:
            return set()
        before = _descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.log.close()
        return {pid for pid in before if _alive(pid)}


@pytest.fixture
def start_sandbox(tmp_path_factory):
    """Start a sandbox: start_sandbox(args=[...], config={...}); stopped after the test."""
    started = []

    def start(args=(), config=None):
        sandbox = SandboxProcess(tmp_path_factory.mktemp("sandbox"), args, config)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        leftovers = sandbox.stop()
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"sandbox left processes behind: {leftovers}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The built-in demo cluster with a fixed API key and JWT secret, shared by a module's tests."""
    sandbox = SandboxProcess(tmp_path_factory.mktemp("demo"),
                             ["--inspect", "--api-key", "12345", "--jwt-secret", JWT_SECRET])
    yield sandbox
    leftovers = sandbox.stop()
    assert not leftovers
