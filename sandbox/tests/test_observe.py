"""Fault injection and the request log of the inspection endpoint (observe.py), exercised on the
Management API's routes: injected statuses, skips, delays, connections cut mid-response and
mid-upload, and the byte counts and statuses the log records."""

from __future__ import annotations

import http.client
import io
import os
import time
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from sandbox_http import request


def fs(sandbox, method: str, path: str, **kwargs):
    return sandbox.api(method, f"fs/{path}", **kwargs)


def task_dir(sandbox) -> Path:
    return Path(sandbox.task_state()["dir"])


def log_entries(sandbox, method: str, path_end: str) -> list[dict]:
    return [e for e in sandbox.inspect("requests") if e["method"] == method and e["path"].endswith(path_end)]


def last_entry(sandbox, method: str, path_end: str, settled=lambda e: e["status"] is not None) -> dict:
    """The newest log entry of that request, once `settled` holds (the server may still be working)."""
    deadline = time.monotonic() + 15
    while True:
        entries = log_entries(sandbox, method, path_end)
        if entries and settled(entries[-1]):
            return entries[-1]
        assert time.monotonic() < deadline, f"no settled log entry for {method} …{path_end}: {entries[-1:]}"
        time.sleep(0.02)


def read_through(url: str, headers: dict) -> tuple[int, bytes, Exception | None]:
    """GET and read until the server ends or breaks the connection: (status, body received, error).
    A body shorter than its Content-Length is an error too (http.client's read(n) does not raise)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path, headers=headers)
        response = conn.getresponse()
        received = bytearray()
        try:
            while chunk := response.read(1 << 16):
                received += chunk
        except http.client.IncompleteRead as exc:
            return response.status, bytes(received + exc.partial), exc
        except OSError as exc:
            return response.status, bytes(received), exc
        promised = response.headers.get("Content-Length")
        if promised is not None and len(received) < int(promised):
            return response.status, bytes(received), http.client.IncompleteRead(bytes(received), int(promised))
        return response.status, bytes(received), None
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def no_faults(demo):
    demo.inspect("faults", "DELETE")
    yield
    demo.inspect("faults", "DELETE")


@pytest.fixture
def area(demo, request):
    path = task_dir(demo) / "local" / request.node.name[:60]
    path.mkdir(parents=True)
    return path, f"local%2F{request.node.name[:60]}"


def test_a_status_n_times_then_normal(demo):
    fault = demo.fault(path="/status$", status=503, times=2, body="busy")
    replies = [demo.api("GET", "status") for _attempt in range(3)]
    assert [(r.status, r.body) for r in replies[:2]] == [(503, b"busy")] * 2
    assert replies[2].status == 200 and replies[2].json()["taskName"] == "app"
    logged = log_entries(demo, "GET", "/app/status")[-3:]
    assert [e.get("fault") for e in logged] == [fault, fault, None]
    assert [e["status"] for e in logged] == [503, 503, 200]
    assert next(f for f in demo.inspect("faults") if f["id"] == fault)["hits"] == 2


def test_skip_lets_requests_through_first(demo):
    demo.fault(path="/status$", status=500, skip=2)
    assert [demo.api("GET", "status").status for _attempt in range(4)] == [200, 200, 500, 200]


def test_method_and_server_narrow_a_fault(demo, area):
    path, route = area
    (path / "keep.txt").write_bytes(b"k")
    demo.fault(path="/fs/", method="DELETE", status=503, times=None)
    demo.fault(path="/status$", server="nomad", status=500, times=None)  # another listener
    assert fs(demo, "GET", f"{route}%2Fkeep.txt").body == b"k"
    assert fs(demo, "DELETE", f"{route}%2Fkeep.txt").status == 503
    assert fs(demo, "DELETE", f"{route}%2Fkeep.txt").status == 503
    assert (path / "keep.txt").exists()  # the injected answer replaces the handler
    assert demo.api("GET", "status").status == 200
    demo.inspect("faults", "DELETE")
    assert demo.inspect("faults") == []
    assert fs(demo, "DELETE", f"{route}%2Fkeep.txt").status == 200


def test_a_delay_before_the_handler(demo):
    demo.fault(path="/status$", delay=0.6)
    started = time.monotonic()
    assert demo.api("GET", "status").status == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    assert demo.api("GET", "status").status == 200
    assert time.monotonic() - started < 0.6  # once only (times defaults to 1)


def test_a_malformed_fault_is_refused(demo):
    reply = request("POST", f"{demo.info['inspect_url']}/faults", body=b'{"status": 500}',
                    headers={"Content-Type": "application/json"})
    assert reply.status == 400
    reply = request("POST", f"{demo.info['inspect_url']}/faults", body=b'{"path": "x", "colour": 1}',
                    headers={"Content-Type": "application/json"})
    assert reply.status == 400 and "colour" in reply.text
    reply = request("POST", f"{demo.info['inspect_url']}/faults", body=b'{"path": "x", "skip": "one"}',
                    headers={"Content-Type": "application/json"})
    assert reply.status == 400 and "one" in reply.text


def test_numbers_may_come_as_strings(demo):
    """As ansible-core before 2.19 sends them from a task's templated arguments."""
    reply = request("POST", f"{demo.info['inspect_url']}/faults", headers={"Content-Type": "application/json"},
                    body=b'{"path": "/status$", "status": "503", "skip": "1", "times": "1", "delay": "0.1"}')
    assert reply.status == 200
    assert demo.api("GET", "status").status == 200
    assert demo.api("GET", "status").status == 503
    assert demo.api("GET", "status").status == 200


def test_a_file_download_cut_mid_body(demo, area):
    path, route = area
    data = os.urandom(300_000)
    (path / "f.bin").write_bytes(data)
    demo.fault(path="/fs/", cut_after=100_000)
    url = f"{demo.api_url}/api/v1/allocs/{demo.alloc_id}/app/fs/{route}%2Ff.bin"
    status, received, error = read_through(url, {"X-Api-Key": demo.api_key})
    assert status == 200 and error is not None  # the headers promised 300,000 bytes
    assert len(received) == 100_000 and data.startswith(received)  # sent before the reset
    entry = last_entry(demo, "GET", "%2Ff.bin")
    assert (entry["status"], entry["bytes_out"]) == ("cut", 100_000)
    assert fs(demo, "GET", f"{route}%2Ff.bin").body == data  # once only


def test_a_folder_download_cut_mid_body(demo, area):
    path, route = area
    (path / "tree").mkdir()
    (path / "tree" / "noise.bin").write_bytes(os.urandom(2_000_000))
    demo.fault(path="/fs/", cut_after=500_000)
    url = f"{demo.api_url}/api/v1/allocs/{demo.alloc_id}/app/fs/{route}%2Ftree"
    status, received, error = read_through(url, {"X-Api-Key": demo.api_key})
    assert status == 200 and error is not None  # the chunked body never ends properly
    assert len(received) <= 500_000
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(received))
    assert last_entry(demo, "GET", "%2Ftree")["status"] == "cut"


def test_an_upload_cut_mid_body_leaves_what_was_received(demo, area):
    """Upstream copies the body into the file as it arrives, so a client that vanishes leaves the bytes
    the server had received; nothing else changes (the request ends in an exception)."""
    path, route = area
    data = os.urandom(200_000)
    demo.fault(path="/fs/", cut_request_after=70_000)
    with pytest.raises((OSError, http.client.HTTPException)):
        fs(demo, "PATCH", f"{route}%2Fpart.bin", body=data)
    entry = last_entry(demo, "PATCH", "%2Fpart.bin")
    assert entry["status"] == "cut" and entry["bytes_in"] >= 70_000
    assert (path / "part.bin").read_bytes() == data[:70_000]


def test_a_zip_upload_cut_mid_body_extracts_nothing_and_put_restarts_the_pools(demo, area):
    """The zip is read whole before extraction, so a cut leaves no entry; PUT's finally still starts
    the pools; clean=true has already emptied the folder."""
    path, route = area
    (path / "old.txt").write_bytes(b"old")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.bin", os.urandom(100_000))
        archive.writestr("b.bin", os.urandom(100_000))
    before = len(demo.task_state()["events"])
    demo.fault(path="/fs/", cut_request_after=150_000)
    with pytest.raises((OSError, http.client.HTTPException)):
        fs(demo, "PUT", f"{route}?clean=true", body=buffer.getvalue(), headers={"Content-Type": "application/zip"})
    assert last_entry(demo, "PUT", route)["status"] == "cut"
    assert os.listdir(path) == []
    assert demo.task_state()["events"][before:] == ["Driver: ApplicationPool stopped", "Driver: ApplicationPool started"]


def test_the_log_counts_body_bytes_of_uploads_and_downloads(demo, area):
    path, route = area
    upload = os.urandom(12_345)
    assert fs(demo, "PATCH", f"{route}%2Fup.bin", body=upload, headers={"Content-Type": "application/octet-stream"}).status == 200
    entry = last_entry(demo, "PATCH", "%2Fup.bin")
    assert (entry["status"], entry["bytes_in"], entry["bytes_out"]) == (200, 12_345, 0)
    assert entry["headers"]["content-length"] == "12345"
    assert entry["headers"]["content-type"] == "application/octet-stream"

    def chunks():
        yield upload[:5000]
        yield upload[5000:]
    assert fs(demo, "PATCH", f"{route}%2Fchunked.bin", body=chunks()).status == 200
    assert last_entry(demo, "PATCH", "%2Fchunked.bin")["bytes_in"] == 12_345  # without the chunk framing

    reply = fs(demo, "GET", f"{route}%2Fup.bin")
    entry = last_entry(demo, "GET", "%2Fup.bin")
    assert (entry["status"], entry["bytes_in"], entry["bytes_out"]) == (200, 0, len(reply.body)) == (200, 0, 12_345)

    reply = fs(demo, "GET", route)  # a chunked zip: body bytes, not headers or chunk framing
    assert reply.status == 200
    entry = last_entry(demo, "GET", route)
    assert (entry["status"], entry["bytes_out"]) == (200, len(reply.body))

    assert fs(demo, "GET", f"{route}%2Fmissing").status == 404
    entry = last_entry(demo, "GET", "%2Fmissing")
    assert (entry["status"], entry["bytes_out"]) == (404, 0)
    status_reply = demo.api("GET", "status")
    assert last_entry(demo, "GET", "/app/status")["bytes_out"] == len(status_reply.body)
