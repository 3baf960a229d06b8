"""The command line contract: ready file, demo cluster, signals and cleanup."""

import os
import signal
import time

from sandbox_http import request


def test_ready_file_describes_the_demo_cluster(start_sandbox):
    sandbox = start_sandbox(["--inspect"])
    info = sandbox.info
    assert info["pid"] == sandbox.process.pid
    assert info["nomad_addr"].startswith("http://127.0.0.1:")
    assert info["nomad_token"] is None
    assert info["inspect_url"] == info["nomad_addr"] + "/_sandbox"
    assert len(info["nodes"]) == 1 and info["nodes"][0]["api_key"]
    (alloc,) = info["allocs"]
    assert (alloc["job"], alloc["task_group"], alloc["namespace"]) == ("web", "web", "default")
    assert alloc["node_id"] == info["nodes"][0]["id"]
    page = request("GET", alloc["tasks"]["app"]["app_url"])
    assert page.status == 200 and b"Internet Information Services" in page.body
    state = sandbox.task_state()
    assert state["pools"]["default"]["state"] == "Started"
    assert {"local", "secrets", "tmp", "private", "local/iisstart.htm"} <= set(state["files"])


def test_without_inspect_there_is_no_inspection_endpoint(start_sandbox):
    sandbox = start_sandbox()
    assert sandbox.info["inspect_url"] is None
    assert sandbox.nomad("GET", "/_sandbox/state").status == 404


def test_sigterm_stops_every_worker_and_removes_the_temp_state(start_sandbox, tmp_path):
    sandbox = start_sandbox(["--inspect"])
    request("GET", sandbox.alloc["tasks"]["app"]["app_url"])
    pid = sandbox.task_state()["pools"]["default"]["worker_pid"]
    assert pid and os.path.exists(f"/proc/{pid}")
    assert sandbox.stop() == set()
    assert not os.path.exists(f"/proc/{pid}")


def test_sigint_stops_it_too(start_sandbox):
    sandbox = start_sandbox()
    sandbox.process.send_signal(signal.SIGINT)
    sandbox.process.wait(timeout=30)
    assert sandbox.process.returncode == 0


def test_temp_state_dir_is_removed_on_exit(tmp_path):
    import json
    import subprocess
    import sys
    ready = tmp_path / "ready.json"
    process = subprocess.Popen([sys.executable, "-m", "nomad_iis_sandbox", "serve", "--nomad-port", "0",
                                "--api-port", "0", "--ready-file", str(ready)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    state_dir = json.loads(ready.read_text())["state_dir"]
    assert os.path.isdir(state_dir)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not os.path.exists(state_dir)
    assert not ready.exists()


def test_bad_config_is_refused_with_a_clear_message(tmp_path):
    import subprocess
    import sys
    config = tmp_path / "bad.yml"
    config.write_text("nodes: [{name: a}]\njobs: [{id: web, groups: [{name: g, nodes: [nope], tasks: [{name: t}]}]}]\n")
    result = subprocess.run([sys.executable, "-m", "nomad_iis_sandbox", "serve", "--config", str(config),
                             "--nomad-port", "0", "--api-port", "0"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "unknown node 'nope'" in result.stderr
