"""The Nomad client file-system endpoints (ls, stat, cat, readat, stream; nomad_fs.py): shapes
checked against the allocation directory on disk, Nomad's error codes and texts, and the stream
framing read incrementally."""

from __future__ import annotations

import base64
import calendar
import os
import time
import uuid
import zipfile

import pytest

from sandbox_http import StreamReply, request

ALIEN = str(uuid.uuid4())
NOXSS = {"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
         "x-content-type-options": "nosniff", "x-xss-protection": "1; mode=block"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


# --- helpers ---------------------------------------------------------------------------------

def alloc_dir(sandbox) -> str:
    return sandbox.inspect(f"state?alloc={sandbox.alloc_id}&hash=false")["allocs"][sandbox.alloc_id]["dir"]


def put_file(sandbox, rel: str, data: bytes) -> str:
    """Test setup: a file written straight into the allocation directory."""
    path = os.path.join(alloc_dir(sandbox), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def fs(sandbox, endpoint: str, query: str = "", alloc_id: str | None = None, **kwargs):
    alloc_id = sandbox.alloc_id if alloc_id is None else alloc_id
    return sandbox.nomad("GET", f"/v1/client/fs/{endpoint}/{alloc_id}" + (f"?{query}" if query else ""), **kwargs)


def stream(sandbox, query: str, headers=None) -> StreamReply:
    return StreamReply(f"{sandbox.nomad_addr}/v1/client/fs/stream/{sandbox.alloc_id}?{query}", headers)


def frame_data(frames: list[dict]) -> bytes:
    return b"".join(base64.b64decode(f["Data"]) for f in frames if "Data" in f)


def mode_string(mode: int) -> str:
    kind = "d" if os.path.stat.S_ISDIR(mode) else "L" if os.path.stat.S_ISLNK(mode) else "-"
    return kind + "".join(c if mode & (0o400 >> i) else "-" for i, c in enumerate("rwxrwxrwx"))


def rfc3339_ns(text: str) -> int:
    assert text.endswith("Z"), text
    base, _sep, fraction = text[:-1].partition(".")
    assert not fraction.endswith("0"), "RFC3339Nano drops trailing zeros"
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(fraction.ljust(9, "0") or 0)


def assert_error(reply, status: int, text: str) -> None:
    assert (reply.status, reply.text) == (status, text)
    assert reply.headers["Content-Type"].startswith("text/plain")


# --- ls and stat -----------------------------------------------------------------------------

def test_ls_lists_the_alloc_dir_as_go_file_infos(demo):
    root = alloc_dir(demo)
    for query in ("", "path=/"):
        reply = fs(demo, "ls", query)
        assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
        entries = reply.json()
        assert [e["Name"] for e in entries] == sorted(os.listdir(root)) == ["alloc", "app"]
        for entry in entries:
            info = os.lstat(os.path.join(root, entry["Name"]))
            assert list(entry) == ["Name", "IsDir", "Size", "FileMode", "ModTime"]  # no ContentType
            assert entry["IsDir"] is True and entry["Size"] == info.st_size
            assert entry["FileMode"] == mode_string(info.st_mode)
            assert rfc3339_ns(entry["ModTime"]) == info.st_mtime_ns


def test_ls_of_task_and_shared_dirs(demo):
    def names(reply):
        return [e["Name"] for e in reply.json()]

    assert names(fs(demo, "ls", "path=app")) == ["local", "private", "secrets", "tmp"]
    assert names(fs(demo, "ls", "path=/alloc")) == ["data", "logs", "tmp"]
    put_file(demo, "app/local/sub/a.txt", b"12345")
    os.symlink("a.txt", os.path.join(alloc_dir(demo), "app/local/sub/link"))
    entries = {e["Name"]: e for e in fs(demo, "ls", "path=app/local/sub").json()}
    assert entries["a.txt"]["Size"] == 5 and entries["a.txt"]["IsDir"] is False
    assert entries["a.txt"]["FileMode"] == mode_string(os.stat(os.path.join(alloc_dir(demo), "app/local/sub/a.txt")).st_mode)
    assert entries["link"]["FileMode"] == "Lrwxrwxrwx" and entries["link"]["IsDir"] is False


def test_ls_errors(demo):
    root = alloc_dir(demo)
    put_file(demo, "app/local/plain.txt", b"x")
    assert_error(fs(demo, "ls", "path=../.."), 500, "Path escapes the alloc directory")
    assert_error(fs(demo, "ls", "path=app/../../x"), 500, "Path escapes the alloc directory")
    assert_error(fs(demo, "ls", "path=..hidden"), 500, "Path escapes the alloc directory")  # a prefix check
    # `/etc` is read inside the alloc dir, and the agent leaks the host path.
    assert_error(fs(demo, "ls", "path=/etc"), 404, f"open {root}/etc: no such file or directory")
    assert_error(fs(demo, "ls", "path=app/local/plain.txt"), 500,
                 f"readdirent {root}/app/local/plain.txt: not a directory")
    os.symlink("/etc", os.path.join(root, "app/local/outside"))
    assert_error(fs(demo, "ls", "path=app/local/outside"), 500, "Path escapes the alloc directory")


def test_stat_sniffs_the_content_type(demo):
    root = alloc_dir(demo)
    zipped = os.path.join(root, "app/local/site.zip")
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("web.config", "<configuration/>")
    files = {"app/local/iisstart.htm": None, "app/local/note.txt": b"hello\n",
             "app/local/image.png": PNG, "app/local/site.zip": None, "app/local/settings.json": b"not json at all",
             "app/local/empty.txt": b"", "app/local/blob.bin": b"\x00\x01\x02binary",
             "app/local/page.txt": b"  <html><body>hi</body></html>"}
    expected = {"app/local/iisstart.htm": "text/html; charset=utf-8", "app/local/note.txt": "text/plain; charset=utf-8",
                "app/local/image.png": "image/png", "app/local/site.zip": "application/zip",
                "app/local/settings.json": "application/json", "app/local/empty.txt": "application/octet-stream",
                "app/local/blob.bin": "application/octet-stream", "app/local/page.txt": "text/html; charset=utf-8"}
    for rel, data in files.items():
        if data is not None:
            put_file(demo, rel, data)
        reply = fs(demo, "stat", f"path={rel}")
        assert reply.status == 200, reply.text
        info = reply.json()
        disk = os.stat(os.path.join(root, rel))
        assert info == {"Name": os.path.basename(rel), "IsDir": False, "Size": disk.st_size,
                        "FileMode": mode_string(disk.st_mode), "ModTime": info["ModTime"],
                        "ContentType": expected[rel]}, rel
        assert rfc3339_ns(info["ModTime"]) == disk.st_mtime_ns


def test_stat_of_root_and_dirs(demo):
    info = fs(demo, "stat", "path=/").json()
    assert info["Name"] == demo.alloc_id and info["IsDir"] is True
    assert info["ContentType"] == "application/octet-stream"
    assert fs(demo, "stat", "path=app/local").json()["ContentType"] == "application/octet-stream"


def test_stat_errors(demo):
    root = alloc_dir(demo)
    assert_error(fs(demo, "stat"), 400, "must provide a file name")
    assert_error(fs(demo, "stat", "path="), 400, "must provide a file name")
    assert_error(fs(demo, "stat", "path=app/missing"), 404, f"stat {root}/app/missing: no such file or directory")
    assert_error(fs(demo, "stat", "path=../../etc/passwd"), 500, "Path escapes the alloc directory")


# --- cat and readat --------------------------------------------------------------------------

def test_cat_streams_binary_content_exactly(demo):
    data = os.urandom(200_000) + bytes(range(256))
    put_file(demo, "alloc/data/blob.bin", data)
    reply = fs(demo, "cat", "path=alloc/data/blob.bin")
    assert reply.status == 200 and reply.body == data
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert {k: reply.headers[k] for k in NOXSS} == NOXSS


def test_cat_serves_renderable_content_as_text_plain(demo):
    html = fs(demo, "cat", "path=app/local/iisstart.htm")
    with open(os.path.join(alloc_dir(demo), "app/local/iisstart.htm"), "rb") as handle:
        assert html.body == handle.read()
    assert html.headers["Content-Type"] == "text/plain"  # sniffed text/html, rewritten by noxssrw
    put_file(demo, "app/local/pic.png", PNG)
    assert fs(demo, "cat", "path=app/local/pic.png").headers["Content-Type"] == "image/png"
    put_file(demo, "app/local/empty", b"")
    empty = fs(demo, "cat", "path=app/local/empty")
    assert (empty.status, empty.body, empty.headers["Content-Type"]) == (200, b"", "text/plain; charset=utf-8")


def test_cat_errors(demo):
    root = alloc_dir(demo)
    put_file(demo, "app/secrets/token", b"s3cr3t")
    put_file(demo, "app/private/key", b"k")
    assert_error(fs(demo, "cat"), 400, "must provide a file name")
    # cat answers 400 where ls and stat answer 404
    assert_error(fs(demo, "cat", "path=app/nope"), 400, f"stat {root}/app/nope: no such file or directory")
    assert_error(fs(demo, "cat", "path=../x"), 400, "Path escapes the alloc directory")
    assert_error(fs(demo, "cat", "path=app/local"), 400, 'file "app/local" is a directory')
    assert_error(fs(demo, "cat", "path=app/secrets/token"), 500, "Reading secret file prohibited: app/secrets/token")
    assert_error(fs(demo, "cat", "path=/app/private/key"), 500, "Reading private file prohibited: /app/private/key")


def test_readat_reads_a_range_of_bytes(demo):
    data = os.urandom(150_000)
    put_file(demo, "alloc/data/range.bin", data)
    cases = {"offset=0": data, "offset=100&limit=50": data[100:150], "offset=70000&limit=0": data[70000:],
             "offset=5&limit=-3": data[5:], "offset=149990&limit=100": data[149990:], "offset=%2B7&limit=1": data[7:8],
             "offset=150000": b"", "offset=999999": b""}
    for query, expected in cases.items():
        reply = fs(demo, "readat", f"path=alloc/data/range.bin&{query}")
        assert reply.status == 200 and reply.body == expected, query
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_readat_errors(demo):
    root = alloc_dir(demo)
    put_file(demo, "alloc/data/r.txt", b"0123456789")
    path = "path=alloc/data/r.txt"
    assert_error(fs(demo, "readat", "offset=0"), 400, "must provide a file name")
    assert_error(fs(demo, "readat", path), 500, 'error parsing offset: strconv.ParseInt: parsing "": invalid syntax')
    assert_error(fs(demo, "readat", path + "&offset=abc"), 500,
                 'error parsing offset: strconv.ParseInt: parsing "abc": invalid syntax')
    assert_error(fs(demo, "readat", path + "&offset=99999999999999999999"), 500,
                 'error parsing offset: strconv.ParseInt: parsing "99999999999999999999": value out of range')
    assert_error(fs(demo, "readat", path + "&offset=0&limit=1.5"), 500,
                 'error parsing limit: strconv.ParseInt: parsing "1.5": invalid syntax')
    negative = fs(demo, "readat", path + "&offset=-5")
    assert negative.status == 500 and negative.text.startswith("can't seek to offset ")
    assert negative.text.endswith(f": seek {root}/alloc/data/r.txt: invalid argument")
    assert_error(fs(demo, "readat", "path=alloc/data/none&offset=0"), 400,
                 f"stat {root}/alloc/data/none: no such file or directory")
    assert_error(fs(demo, "readat", "path=alloc&offset=0"), 400, 'file "alloc" is a directory')


# --- alloc IDs and dispatch ------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["ls", "stat", "cat", "readat", "stream", "logs"])
def test_alloc_id_errors(demo, endpoint):
    query = {"ls": "", "stat": "path=a", "cat": "path=a", "readat": "path=a&offset=0",
             "stream": "path=a", "logs": "task=app&type=stdout"}[endpoint]
    assert_error(fs(demo, endpoint, query, alloc_id=""), 400, "must provide a valid alloc id")
    assert_error(fs(demo, endpoint, query, alloc_id=demo.alloc_id[:8]), 500,
                 "alloc lookup failed: index error: UUID must be 36 characters")
    assert_error(fs(demo, endpoint, query, alloc_id=ALIEN), 404, f'Unknown allocation "{ALIEN}"')


def test_unknown_sub_path(demo):
    assert_error(fs(demo, "list"), 404, "Invalid method")
    assert_error(demo.nomad("GET", f"/v1/client/fs/ls{demo.alloc_id}"), 404, "Invalid method")


# --- stream ----------------------------------------------------------------------------------

def test_stream_parameter_errors(demo):
    root = alloc_dir(demo)
    put_file(demo, "alloc/data/s.txt", b"abc")
    path = "path=alloc/data/s.txt"
    assert_error(fs(demo, "stream", "follow=false"), 400, "must provide a file name")
    assert_error(fs(demo, "stream", path + "&follow=maybe"), 500,
                 'failed to parse follow field to boolean: strconv.ParseBool: parsing "maybe": invalid syntax')
    assert_error(fs(demo, "stream", path + "&offset=x"), 500, 'error parsing offset: strconv.ParseInt: parsing "x": invalid syntax')
    assert_error(fs(demo, "stream", path + "&origin=middle"), 400, "origin must be start or end")
    assert_error(fs(demo, "stream", "path=alloc/data/gone"), 400, f"stat {root}/alloc/data/gone: no such file or directory")
    assert_error(fs(demo, "stream", "path=alloc/data"), 400, 'file "alloc/data" is a directory')
    assert_error(fs(demo, "stream", "path=app/secrets/../../../x"), 400, "Path escapes the alloc directory")


def test_stream_without_follow_sends_back_to_back_frames_and_ends(demo):
    data = os.urandom(150 * 1024)
    put_file(demo, "alloc/data/big.bin", data)
    with stream(demo, "path=alloc/data/big.bin&follow=false") as reply:
        reply.read_to_end()
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert frame_data(reply.frames) == data
    assert all(len(base64.b64decode(f.get("Data", ""))) <= 64 * 1024 for f in reply.frames)
    assert len([f for f in reply.frames if f.get("Data")]) >= 3
    assert all(f["File"] == "alloc/data/big.bin" for f in reply.frames if f)
    assert b"}{" in reply.raw and b"\n" not in reply.raw  # no separator between frames
    offsets = [f["Offset"] for f in reply.frames if "Offset" in f]
    assert offsets == sorted(offsets) and offsets[0] > 0


def test_stream_from_the_end(demo):
    put_file(demo, "alloc/data/tail.txt", b"0123456789")
    with stream(demo, "path=alloc/data/tail.txt&follow=false&origin=end&offset=4") as reply:
        assert frame_data(reply.read_to_end().frames) == b"6789"
    with stream(demo, "path=alloc/data/tail.txt&follow=false&origin=end&offset=50") as reply:
        assert frame_data(reply.read_to_end().frames) == b"0123456789"
    with stream(demo, "path=alloc/data/tail.txt&follow=false&offset=7") as reply:
        assert frame_data(reply.read_to_end().frames) == b"789"


def test_stream_follows_appended_data_and_heartbeats(demo):
    path = put_file(demo, "alloc/data/grow.log", b"first\n")
    with stream(demo, "path=alloc/data/grow.log") as reply:  # follow defaults to true
        reply.wait(lambda r: frame_data(r.frames) == b"first\n", what="the initial content")
        beats = len([f for f in reply.frames if f == {}])
        reply.wait(lambda r: len([f for f in r.frames if f == {}]) >= beats + 2, timeout=5, what="two heartbeats")
        with open(path, "ab") as handle:
            handle.write(b"second\n")
        reply.wait(lambda r: frame_data(r.frames) == b"first\nsecond\n", what="the appended line")
        assert not reply.ended


def test_stream_reports_truncation_and_restarts_from_zero(demo):
    path = put_file(demo, "alloc/data/trunc.log", b"x" * 100)
    with stream(demo, "path=alloc/data/trunc.log") as reply:
        reply.wait(lambda r: len(frame_data(r.frames)) == 100, what="the initial content")
        seen = len(reply.frames)
        with open(path, "wb") as handle:
            handle.write(b"new\n")
        reply.wait(lambda r: any(f.get("FileEvent") == "file truncated" for f in r.frames), what="the truncation")
        after = reply.frames[seen:]
        event = next(f for f in after if f.get("FileEvent") == "file truncated")
        assert event["File"] == "alloc/data/trunc.log"
        reply.wait(lambda r: frame_data(r.frames[seen:]) == b"new\n", what="the content after the truncation")


def test_stream_reports_deletion_and_ends(demo):
    path = put_file(demo, "alloc/data/doomed.log", b"bye\n")
    with stream(demo, "path=alloc/data/doomed.log") as reply:
        reply.wait(lambda r: frame_data(r.frames) == b"bye\n", what="the content")
        os.remove(path)
        reply.read_to_end(timeout=10)
    deleted = [f for f in reply.frames if f.get("FileEvent") == "file deleted"]
    assert len(deleted) == 1 and deleted[0]["File"] == "alloc/data/doomed.log" and deleted[0]["Offset"] == 4


def test_a_client_hanging_up_ends_the_stream_on_the_server(demo):
    put_file(demo, "alloc/data/hangup.log", b"data\n")
    marker = uuid.uuid4().hex
    reply = stream(demo, f"path=alloc/data/hangup.log&marker={marker}")
    reply.wait(lambda r: frame_data(r.frames) == b"data\n", what="the content")
    reply.close()
    deadline = time.monotonic() + 10
    while True:  # the request log records a status once the handler has returned
        entries = [e for e in demo.inspect("requests") if marker in e["query"]]
        if entries and entries[0]["status"] is not None:
            break
        assert time.monotonic() < deadline, f"the stream handler is still running: {entries}"
        time.sleep(0.1)


# --- ACLs ------------------------------------------------------------------------------------

ACL_CONFIG = {
    "nodes": [{"name": "n1"}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}],
    "acl": {"policies": [{"name": "jobs", "namespace": {"default": ["read-job"]}},
                         {"name": "files", "namespace": {"default": ["read-fs"]}},
                         {"name": "other-ns", "namespace": {"other": ["read-fs"]}}],
            "tokens": [{"name": "jobs", "secret_id": "aaaaaaaa-0000-0000-0000-000000000001", "policies": ["jobs"]},
                       {"name": "files", "secret_id": "aaaaaaaa-0000-0000-0000-000000000002", "policies": ["files"]},
                       {"name": "other", "secret_id": "aaaaaaaa-0000-0000-0000-000000000003",
                        "policies": ["other-ns"]}]},
}


def test_fs_endpoints_need_read_fs_in_the_allocs_namespace(start_sandbox):
    sandbox = start_sandbox(["--acl", "--inspect"], ACL_CONFIG)
    queries = {"ls": "", "stat": "path=app/local/iisstart.htm", "cat": "path=app/local/iisstart.htm",
               "readat": "path=app/local/iisstart.htm&offset=0", "stream": "path=app/local/iisstart.htm&follow=false"}
    for endpoint, query in queries.items():
        for token in (None, "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000003",
                      str(uuid.uuid4())):
            headers = {"X-Nomad-Token": token} if token else {}
            # ?namespace= does not matter: the alloc's namespace does
            assert_error(fs(sandbox, endpoint, query + "&namespace=other", headers=headers), 403, "Permission denied")
        for token in (sandbox.info["nomad_token"], "aaaaaaaa-0000-0000-0000-000000000002"):
            reply = fs(sandbox, endpoint, query, headers={"X-Nomad-Token": token})
            assert reply.status == 200, (endpoint, reply.text)
    # the alloc lookup comes before the ACL check
    assert_error(fs(sandbox, "ls", alloc_id=ALIEN), 404, f'Unknown allocation "{ALIEN}"')
    bearer = request("GET", f"{sandbox.nomad_addr}/v1/client/fs/ls/{sandbox.alloc_id}",
                     headers={"Authorization": f"Bearer {sandbox.info['nomad_token']}"})
    assert bearer.status == 200


def test_sigterm_ends_open_streams(start_sandbox):
    """Open streams must not hold up a shutdown (aiohttp would wait a minute for their handlers)."""
    sandbox = start_sandbox()
    follow = stream(sandbox, "path=app/local/iisstart.htm")
    monitor = StreamReply(f"{sandbox.nomad_addr}/v1/agent/monitor?log_level=debug")
    follow.wait(lambda r: frame_data(r.frames), what="the file's content")
    started = time.monotonic()
    assert sandbox.stop() == set()
    assert sandbox.process.returncode == 0 and time.monotonic() - started < 10
    for reply in (follow, monitor):
        reply.read_to_end(timeout=5)
        reply.close()
