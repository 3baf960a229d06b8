"""Screenshot and procdump routes (README, "Faithful quirks"): real Chromium screenshots
of the task's site, real core dumps of its worker (gcore standing in for procdump), every upstream
500 cause, flat memory while streaming big dumps, and the curl examples of upstream's Management
API page (website/docs/features/management-api.md)."""

from __future__ import annotations

import http.client
import os
import re
import struct
import subprocess
import time
import urllib.parse

import pytest

from conftest import SandboxProcess

STAMP = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BALLAST_MB = 300
MIB = 1 << 20


def procdump_node(name: str, procdump: dict | None) -> dict:
    api = {"procdump": procdump} if procdump is not None else {}
    return {"name": name, "management_api": api}


DIAG_CONFIG = {
    "nodes": [
        procdump_node("empty", {"binary_path": "", "accept_eula": True}),
        procdump_node("missing", {"binary_path": "/nonexistent/procdump.exe", "accept_eula": True}),
        procdump_node("default", None),  # upstream's defaults: C:\procdump.exe, EULA not accepted
        procdump_node("noeula", {"binary_path": "gcore", "accept_eula": False}),
        procdump_node("ok", {"binary_path": "gcore", "accept_eula": True}),
    ],
    "jobs": [
        {"id": "web", "groups": [{"name": n, "nodes": [n], "tasks": [{"name": "app"}]}
                                 for n in ("empty", "missing", "default", "noeula")] + [
            {"name": "ok", "nodes": ["ok"], "tasks": [{"name": "app", "config": {
                "application_pool": [{"name": "default", "ballast_mb": BALLAST_MB}, {"name": "idle"}],
                "application": [{"path": "local"}, {"path": "local/idle", "alias": "idle", "application_pool": "idle"}],
            }}]}]},
        {"id": "secure", "groups": [{"name": "secure", "nodes": ["ok"], "tasks": [{"name": "app", "config": {
            "binding": [{"type": "https", "port": "https"}]}}]}]},
    ],
}


@pytest.fixture(scope="module")
def diag(tmp_path_factory):
    """Nodes with every procdump set-up; its own TMPDIR (to watch temp dumps) and a Chromium that
    cannot be launched."""
    path = tmp_path_factory.mktemp("diag")
    tmpdir = path / "tmp"
    tmpdir.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(tmpdir))
        patch.setenv("NOMAD_IIS_SANDBOX_CHROMIUM", "/nonexistent/chromium")
        sandbox = SandboxProcess(path, ["--inspect", "--api-key", "k"], DIAG_CONFIG)
    sandbox.tmpdir = tmpdir
    yield sandbox
    assert not sandbox.stop()


def target(sandbox, node: str | None = None, job: str = "web") -> tuple[str, dict]:
    """(URL of the allocation's task `app` on the Management API, the ready file's alloc entry)."""
    node_info = next(n for n in sandbox.info["nodes"] if node is None or n["name"] == node)
    alloc = next(a for a in sandbox.info["allocs"] if a["node_id"] == node_info["id"] and a["job"] == job)
    return f"{node_info['management_api_url']}/api/v1/allocs/{alloc['id']}/app", alloc


def wait_for(predicate, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def sandbox_log(sandbox) -> str:
    return (sandbox.tmp_path / "sandbox.log").read_text(errors="replace")


def log_mark(sandbox) -> int:
    return len(sandbox_log(sandbox))


def logged(sandbox, text: str, since: int = 0) -> bool:
    """The sandbox logs why a request failed (the HTTP answer is an empty 500, as upstream)."""
    return bool(wait_for(lambda: text in sandbox_log(sandbox)[since:], f"log line {text!r}", timeout=5))


def access_log(sandbox, alloc_id: str) -> str:
    alloc_dir = sandbox.inspect(f"state?alloc={alloc_id}&hash=false")["allocs"][alloc_id]["dir"]
    logs = os.path.join(alloc_dir, "alloc", "logs")
    return "".join(open(os.path.join(logs, n), encoding="utf-8").read()
                   for n in sorted(os.listdir(logs)) if n.startswith("app.stdout."))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def proc_status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        for line in handle:
            key, _sep, value = line.partition(":")
            if value.strip().endswith("kB"):
                fields[key] = int(value.split()[0])
    return fields


def assert_empty_500(reply) -> None:
    assert (reply.status, reply.body) == (500, b"")


# --- screenshot -----------------------------------------------------------------------------------

def test_screenshot_of_the_demo_page(demo):
    reply = demo.api("GET", "screenshot")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/png"
    assert re.fullmatch(rf"attachment; filename=screenshot_{demo.alloc_id}_app_{STAMP}\.png; "
                        rf"filename\*=UTF-8''screenshot_{demo.alloc_id}_app_{STAMP}\.png",
                        reply.headers["Content-Disposition"])
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    width, height = png_size(reply.body)
    assert width == 1920 and height >= 1080
    assert re.search(r" GET / 200 ", access_log(demo, demo.alloc_id))


def test_screenshot_is_full_page(demo):
    alloc_dir = demo.inspect(f"state?alloc={demo.alloc_id}&hash=false")["allocs"][demo.alloc_id]["dir"]
    # Arranged on disk: the upload route is not under test here.
    with open(os.path.join(alloc_dir, "app", "local", "tall.html"), "w", encoding="utf-8") as page:
        page.write('<html><body style="margin:0"><div style="height:3000px;background:#39c"></div></body></html>')
    reply = demo.api("GET", "screenshot?path=/tall.html")
    assert reply.status == 200
    assert png_size(reply.body) == (1920, 3000)


def test_screenshot_path_without_leading_slash(demo):
    reply = demo.api("GET", "screenshot?path=nope")
    assert reply.status == 200 and reply.body.startswith(PNG_SIGNATURE)
    # The browser asked the site for /nope (an IIS 404 page is still a screenshot).
    assert re.search(r" GET /nope 404 ", access_log(demo, demo.alloc_id))


def test_screenshot_query_key_is_case_insensitive(demo):
    reply = demo.api("GET", "screenshot?PATH=casecheck")
    assert reply.status == 200
    assert re.search(r" GET /casecheck 404 ", access_log(demo, demo.alloc_id))


def test_screenshot_with_an_empty_path_is_500(demo):
    # MVC binds `?path=` as null (not the default "/"), and upstream calls StartsWith on it.
    assert_empty_500(demo.api("GET", "screenshot?path="))


def test_screenshot_of_an_https_only_site_is_404(diag):
    url, _alloc = target(diag, "ok", job="secure")
    reply = diag.api("GET", f"{url}/screenshot")
    assert (reply.status, reply.body) == (404, b"")


def test_screenshot_when_the_browser_cannot_start_is_500(diag):
    url, _alloc = target(diag, "ok")
    mark = log_mark(diag)
    assert_empty_500(diag.api("GET", f"{url}/screenshot"))
    assert logged(diag, "/nonexistent/chromium", since=mark)


# --- procdump: every 500 cause --------------------------------------------------------------------

@pytest.mark.parametrize("node, query, cause", [
    ("empty", "", "the procdump binary path is empty"),
    ("missing", "", "/nonexistent/procdump.exe is not available."),
    ("default", "", "C:\\procdump.exe is not available."),
    ("noeula", "?appPoolName=nope", "the procdump EULA has not been accepted"),
    ("ok", "?appPoolName=nope", "The given key 'nope' was not present in the dictionary."),
    ("ok", "?appPoolName=", "Value cannot be null. (Parameter 'key')"),
    ("ok", "?appPoolName=idle", "No w3wp process running."),
])
def test_procdump_preconditions_are_500_in_upstream_order(diag, node, query, cause):
    url, _alloc = target(diag, node)
    if node != "ok":
        # A worker exists, so only the configuration can be the cause.
        assert diag.api("GET", target(diag, node)[1]["tasks"]["app"]["app_url"]).status == 200
    mark = log_mark(diag)
    assert_empty_500(diag.api("GET", f"{url}/procdump{query}"))
    assert logged(diag, cause, since=mark)


def test_procdump_of_a_stopped_pool_is_500(demo):
    assert demo.api("PUT", "stop").status == 200
    wait_for(lambda: demo.api("GET", "status").json()["defaultApplicationPool"]["status"] == "Stopped", "Stopped")
    try:
        mark = log_mark(demo)
        assert_empty_500(demo.api("GET", "procdump"))
        assert logged(demo, "No w3wp process running.", since=mark)
    finally:
        assert demo.api("PUT", "start").status == 200
        wait_for(lambda: demo.api("GET", "status").json()["defaultApplicationPool"]["status"] == "Started",
                 "Started")


# --- procdump: a real dump ------------------------------------------------------------------------

def open_download(url: str, headers: dict) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
    return conn, conn.getresponse()


def test_procdump_streams_a_core_dump_with_flat_memory(diag):
    url, alloc = target(diag, "ok")
    assert diag.api("GET", alloc["tasks"]["app"]["app_url"]).status == 200  # OnDemand: start the worker
    worker = diag.task_state(alloc["id"])["pools"]["default"]["worker_pid"]
    worker_mem = proc_status(worker)
    assert worker_mem["VmRSS"] >= BALLAST_MB * 1024
    before = set(os.listdir(diag.tmpdir))
    hwm_before = proc_status(diag.process.pid)["VmHWM"]
    mark = log_mark(diag)

    conn, response = open_download(f"{url}/procdump", {"X-Api-Key": "k"})
    try:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        name = re.fullmatch(rf"attachment; filename=(procdump_{alloc['id']}_app_{STAMP}\.dmp); "
                            rf"filename\*=UTF-8''(procdump_{alloc['id']}_app_{STAMP}\.dmp)",
                            response.headers["Content-Disposition"])
        assert name and name.group(1) == name.group(2)
        length = int(response.headers["Content-Length"])
        head = response.read(MIB)
        # While the body streams, the temp dump exists in the sandbox's TMPDIR.
        temp = [os.path.getsize(diag.tmpdir / n) for n in set(os.listdir(diag.tmpdir)) - before]
        assert temp == [length]
        received = len(head)
        while chunk := response.read(MIB):
            received += len(chunk)
        assert received == length
        # Upstream's Ok() after the streamed file throws: the connection is closed after the body.
        conn.sock.settimeout(10)
        assert conn.sock.recv(1) == b""
    finally:
        conn.close()

    assert head[:4] == b"\x7fELF" and struct.unpack("<H", head[16:18])[0] == 4  # ET_CORE
    assert worker_mem["VmRSS"] * 1024 * 0.9 <= length <= (worker_mem["VmSize"] + 64 * 1024) * 1024
    # The dump was streamed, never held in memory by the sandbox.
    assert proc_status(diag.process.pid)["VmHWM"] - hwm_before < 64 * 1024
    wait_for(lambda: set(os.listdir(diag.tmpdir)) == before, "the temp dump to be removed")
    assert logged(diag, "the response had already started; closing the connection", since=mark)


def test_procdump_query_key_is_case_insensitive(demo):
    assert demo.api("GET", demo.alloc["tasks"]["app"]["app_url"]).status == 200
    mark = log_mark(demo)
    assert_empty_500(demo.api("GET", "procdump?APPPOOLNAME=nope"))
    assert logged(demo, "The given key 'nope' was not present in the dictionary.", since=mark)


# --- the curl examples of upstream's Management API page ----------------------------------------

def doc_curl(demo, route: str, cwd, *extra: str) -> list[str]:
    """The doc's `curl -X GET -O -H "X-Api-Key: 12345" http://localhost:5004/...`, with the sandbox's
    port and allocation; returns the files it wrote."""
    port = urllib.parse.urlsplit(demo.api_url).port
    url = f"http://localhost:{port}/api/v1/allocs/{demo.alloc_id}/app/{route}"
    result = subprocess.run(["curl", "-sS", "-X", "GET", "-O", *extra, "-H", "X-Api-Key: 12345", url],
                            cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return sorted(os.listdir(cwd))


def test_doc_example_screenshot(demo, tmp_path):
    # `-O` names the file after the URL; `-J` would use the attachment name.
    plain, named = tmp_path / "plain", tmp_path / "named"
    plain.mkdir()
    named.mkdir()
    assert doc_curl(demo, "screenshot", plain) == ["screenshot"]
    assert (plain / "screenshot").read_bytes().startswith(PNG_SIGNATURE)
    (name,) = doc_curl(demo, "screenshot", named, "-J")
    assert re.fullmatch(rf"screenshot_{demo.alloc_id}_app_{STAMP}\.png", name)
    assert png_size((named / name).read_bytes())[0] == 1920


def test_doc_example_procdump(demo, tmp_path):
    assert demo.api("GET", demo.alloc["tasks"]["app"]["app_url"]).status == 200
    plain, named = tmp_path / "plain", tmp_path / "named"
    plain.mkdir()
    named.mkdir()
    assert doc_curl(demo, "procdump", plain) == ["procdump"]
    assert (plain / "procdump").read_bytes()[:4] == b"\x7fELF"
    (name,) = doc_curl(demo, "procdump", named, "-J")
    assert re.fullmatch(rf"procdump_{demo.alloc_id}_app_{STAMP}\.dmp", name)
    with open(named / name, "rb") as dump:
        assert dump.read(4) == b"\x7fELF"
