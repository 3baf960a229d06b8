"""Task logs (/v1/client/fs/logs; nomad_fs.py): parameter checks in Nomad's order, the task's real
access lines written by its worker, tails across rotated files, plain mode, follow and rotation.
Rotated files are created as setup, in tasks whose driver writes no logs of its own."""

from __future__ import annotations

import base64
import os
import time
import uuid

import pytest

from conftest import SandboxProcess
from sandbox_http import StreamReply, request

QUIET_TASKS = ["side", "tail", "plain", "rot", "roll", "quiet"]  # exec tasks: only the test writes their logs
CONFIG = {
    "nodes": [{"name": "n1"}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [
        {"name": "app"}, *({"name": name, "driver": "exec"} for name in QUIET_TASKS)]}]}],
}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("logs"), ["--inspect", "--api-key", "k"], CONFIG)
    yield sandbox
    assert not sandbox.stop()


def logs_dir(sandbox) -> str:
    alloc = sandbox.inspect(f"state?alloc={sandbox.alloc_id}&hash=false")["allocs"][sandbox.alloc_id]
    return os.path.join(alloc["dir"], "alloc", "logs")


def write_log(sandbox, name: str, data: bytes, mode: str = "wb") -> None:
    with open(os.path.join(logs_dir(sandbox), name), mode) as handle:
        handle.write(data)


def logs(sandbox, query: str, **kwargs):
    return sandbox.nomad("GET", f"/v1/client/fs/logs/{sandbox.alloc_id}?{query}", **kwargs)


def follow(sandbox, query: str) -> StreamReply:
    return StreamReply(f"{sandbox.nomad_addr}/v1/client/fs/logs/{sandbox.alloc_id}?{query}")


def frame_data(frames: list[dict]) -> bytes:
    return b"".join(base64.b64decode(f["Data"]) for f in frames if "Data" in f)


def assert_error(reply, status: int, text: str) -> None:
    assert (reply.status, reply.text) == (status, text)


def test_parameters_are_checked_in_nomads_order(box):
    assert_error(logs(box, "follow=x&type=bad"), 400, "must provide task name")
    assert_error(logs(box, "task=app&follow=maybe&plain=x&type=bad"), 400,
                 'failed to parse follow field to boolean: strconv.ParseBool: parsing "maybe": invalid syntax')
    assert_error(logs(box, "task=app&plain=yes&type=bad"), 400,
                 'failed to parse plain field to boolean: strconv.ParseBool: parsing "yes": invalid syntax')
    assert_error(logs(box, "task=app&offset=x"), 400, "must provide log type (stdout/stderr)")
    assert_error(logs(box, "task=app&type=both"), 400, "must provide log type (stdout/stderr)")
    assert_error(logs(box, "task=app&type=stdout&offset=1x&origin=middle"), 400,
                 'error parsing offset: strconv.ParseInt: parsing "1x": invalid syntax')
    assert_error(logs(box, "task=app&type=stdout&origin=middle"), 400, "origin must be start or end")


def test_unknown_task_and_missing_log(box):
    assert_error(logs(box, "task=nope&type=stdout"), 400, 'unknown task name "nope"')
    # logmon creates each stream's file when the task starts: an idle task has empty logs...
    idle = logs(box, "task=side&type=stderr&plain=true")
    assert (idle.status, idle.body) == (200, b"")
    assert os.path.getsize(os.path.join(logs_dir(box), "side.stderr.0")) == 0
    # ...and only a task whose log files are gone has none.
    os.remove(os.path.join(logs_dir(box), "side.stderr.0"))
    assert_error(logs(box, "task=side&type=stderr"), 404, 'log entry for task "side" and log type "stderr" not found')


def test_the_tasks_access_lines_appear_after_a_request(box):
    marker = f"marker-{uuid.uuid4().hex}"
    site = request("GET", box.alloc["tasks"]["app"]["app_url"] + marker)
    assert site.status == 404
    deadline = time.monotonic() + 10
    while marker.encode() not in (plain := logs(box, "task=app&type=stdout&plain=true")).body:
        assert time.monotonic() < deadline, plain.text  # the worker writes the line after answering
        time.sleep(0.05)
    assert plain.headers["Content-Type"] == "text/plain"
    with open(os.path.join(logs_dir(box), "app.stdout.0"), "rb") as handle:
        assert plain.body == handle.read()
    assert f"GET /{marker} 404".encode() in plain.body
    framed = logs(box, "task=app&type=stdout")
    assert framed.status == 200 and framed.headers["Content-Type"] == "application/json"
    with StreamReply(f"{box.nomad_addr}/v1/client/fs/logs/{box.alloc_id}?task=app&type=stdout") as reply:
        reply.read_to_end()
    assert frame_data(reply.frames) == plain.body
    assert {f["File"] for f in reply.frames if f} == {"alloc/logs/app.stdout.0"}
    deadline = time.monotonic() + 10
    while marker.encode() not in logs(box, "task=app&type=stderr&plain=true").body:
        assert time.monotonic() < deadline, "the 404 never reached the stderr log"
        time.sleep(0.05)


def test_follow_sees_new_access_lines_and_heartbeats(box):
    request("GET", box.alloc["tasks"]["app"]["app_url"])  # the log exists
    with follow(box, "task=app&type=stdout&follow=true&origin=end&offset=0") as reply:
        assert reply.headers["Content-Type"] == "application/json"
        reply.wait(lambda r: r.frames.count({}) >= 1, timeout=5, what="a heartbeat")
        marker = f"follow-{uuid.uuid4().hex}"
        request("GET", box.alloc["tasks"]["app"]["app_url"] + marker)
        reply.wait(lambda r: marker.encode() in frame_data(r.frames), what="the new access line")
        assert not reply.ended


def test_tail_counts_back_across_rotated_files(box):
    write_log(box, "tail.stdout.0", b"0123456789")
    write_log(box, "tail.stdout.1", b"abcde")
    cases = {"origin=end&offset=3": b"cde", "origin=end&offset=8": b"789abcde",
             "origin=end&offset=100": b"0123456789abcde", "offset=12": b"cde", "offset=4": b"456789abcde",
             # findClosest stops at once when the offset is 0: the newest file from its start
             "origin=end": b"abcde"}
    for query, expected in cases.items():
        reply = logs(box, f"task=tail&type=stdout&plain=true&{query}")
        assert (reply.status, reply.body) == (200, expected), query
    with follow(box, "task=tail&type=stdout&origin=end&offset=8") as reply:
        reply.read_to_end()
    by_file = [(f["File"], base64.b64decode(f["Data"])) for f in reply.frames if f.get("Data")]
    assert by_file == [("alloc/logs/tail.stdout.0", b"789"), ("alloc/logs/tail.stdout.1", b"abcde")]


def test_plain_mode_is_raw_text(box):
    write_log(box, "plain.stderr.0", b"line one\nline two\n")
    reply = logs(box, "task=plain&type=stderr&plain=true")
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/plain"
    assert reply.body == b"line one\nline two\n"


def test_without_follow_every_rotated_file_is_read_in_order_and_the_stream_ends(box):
    contents = [b"zero\n" * 3, b"one\n", b"two two\n"]
    for index, data in enumerate(contents):
        write_log(box, f"rot.stdout.{index}", data)
    with follow(box, "task=rot&type=stdout") as reply:
        reply.read_to_end()
    assert frame_data(reply.frames) == b"".join(contents)
    files = [f["File"] for f in reply.frames if f.get("Data")]
    assert files == sorted(files) and set(files) == {f"alloc/logs/rot.stdout.{i}" for i in range(3)}


def test_follow_moves_on_to_the_next_index(box):
    write_log(box, "roll.stdout.0", b"zero\n")
    with follow(box, "task=roll&type=stdout&follow=true") as reply:
        reply.wait(lambda r: frame_data(r.frames) == b"zero\n", what="the first file")
        write_log(box, "roll.stdout.0", b"late zero\n", "ab")
        write_log(box, "roll.stdout.1", b"one\n")
        reply.wait(lambda r: any(f.get("File") == "alloc/logs/roll.stdout.1" for f in r.frames),
                   what="frames of the rotated file")
        write_log(box, "roll.stdout.1", b"more\n", "ab")
        reply.wait(lambda r: frame_data(r.frames) == b"zero\nlate zero\none\nmore\n", what="everything in order")
        assert not reply.ended


def test_plain_follow_is_silent_when_idle_and_a_hang_up_ends_it(box):
    write_log(box, "quiet.stdout.0", b"hello\n")
    marker = uuid.uuid4().hex
    reply = follow(box, f"task=quiet&type=stdout&follow=true&plain=true&marker={marker}")
    reply.wait(lambda r: r.raw == b"hello\n", what="the content")
    reply.collect(2.5)  # heartbeats write nothing in plain mode
    assert reply.raw == b"hello\n" and not reply.ended
    write_log(box, "quiet.stdout.0", b"again\n", "ab")
    reply.wait(lambda r: r.raw == b"hello\nagain\n", what="the appended line")
    reply.close()
    deadline = time.monotonic() + 10
    while True:  # the request log records a status once the handler has returned
        entries = [e for e in box.inspect("requests") if marker in e["query"]]
        if entries and entries[0]["status"] is not None:
            break
        assert time.monotonic() < deadline, f"the logs handler is still running: {entries}"
        time.sleep(0.1)


ACL_CONFIG = {
    "nodes": [{"name": "n1"}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}],
    "acl": {"policies": [{"name": "logs", "namespace": {"default": ["read-logs"]}},
                         {"name": "files", "namespace": {"default": ["read-fs"]}},
                         {"name": "jobs", "namespace": {"default": ["read-job"]}}],
            "tokens": [{"name": "logs", "secret_id": "bbbbbbbb-0000-0000-0000-000000000001", "policies": ["logs"]},
                       {"name": "files", "secret_id": "bbbbbbbb-0000-0000-0000-000000000002", "policies": ["files"]},
                       {"name": "jobs", "secret_id": "bbbbbbbb-0000-0000-0000-000000000003", "policies": ["jobs"]}]},
}


def test_logs_need_read_logs_or_read_fs(start_sandbox):
    sandbox = start_sandbox(["--acl"], ACL_CONFIG)
    request("GET", sandbox.alloc["tasks"]["app"]["app_url"])
    deadline = time.monotonic() + 10
    allowed = (sandbox.info["nomad_token"], "bbbbbbbb-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002")
    for token in allowed:
        while b"started" not in (reply := logs(sandbox, "task=app&type=stdout&plain=true",
                                               headers={"X-Nomad-Token": token})).body:
            assert reply.status == 200, (token, reply.text)  # logmon created the file at task start
            assert time.monotonic() < deadline, reply.text  # until the worker's first line is written
            time.sleep(0.05)
    # The logs RPC sends its denial without a code, which the HTTP layer answers with a 500.
    for token in ("bbbbbbbb-0000-0000-0000-000000000003", str(uuid.uuid4()), None):
        headers = {"X-Nomad-Token": token} if token else {}
        assert_error(logs(sandbox, "task=app&type=stdout", headers=headers), 500, "Permission denied")
