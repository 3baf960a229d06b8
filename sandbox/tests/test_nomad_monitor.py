"""The agent monitor (/v1/agent/monitor; nomad_monitor.py): parameter checks, the sandbox's real log in
hclog's format filtered by level, frames of at most 1 KiB with heartbeats, plain and JSON output,
and the agent:read ACL."""

from __future__ import annotations

import base64
import json
import re
import uuid

from sandbox_http import StreamReply, request

# hclog: the level in brackets padded to 7 characters, then a space, the module and the message.
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\[(TRACE|DEBUG|ERROR)\] |\[(INFO|WARN)\]  )\S+: \S.*$")


def monitor(sandbox, query: str = "", headers=None) -> StreamReply:
    return StreamReply(f"{sandbox.nomad_addr}/v1/agent/monitor?{query}", headers)


def lines(reply: StreamReply) -> list[str]:
    data = b"".join(base64.b64decode(f["Data"]) for f in reply.frames if "Data" in f)
    return data.decode().splitlines()


def has_line(pattern: str):
    return lambda reply: any(re.search(pattern, line) for line in lines(reply))


def assert_error(reply, status: int, text: str) -> None:
    assert (reply.status, reply.text) == (status, text)


def test_parameter_errors(demo):
    def get(query):
        return demo.nomad("GET", f"/v1/agent/monitor?{query}")

    assert_error(get("log_level=verbose&log_json=x"), 400, "Unknown log level: verbose")
    assert_error(get("log_json=maybe&plain=x"), 400,
                 'Unknown option for log json: strconv.ParseBool: parsing "maybe": invalid syntax')
    assert_error(get("plain=2"), 400, 'Unknown option for plain: strconv.ParseBool: parsing "2": invalid syntax')
    assert_error(get("log_include_location=x"), 400,
                 'Unknown option for log include location: strconv.ParseBool: parsing "x": invalid syntax')
    assert_error(get("node_id=a&server_id=b"), 400, "Cannot target node and server simultaneously")
    unknown = str(uuid.uuid4())
    assert_error(get(f"node_id={unknown}"), 500, f"Unknown node {unknown}")


def test_levels_filter_as_nomad_does(demo):
    debug, info, error = (monitor(demo, f"log_level={level}") for level in ("DEBUG", "info", "Error"))
    with debug, info, error:
        marker = uuid.uuid4().hex
        missing = demo.nomad("GET", f"/v1/client/fs/stat/{demo.alloc_id}?path=nope&marker={marker}")
        assert missing.status == 404
        assert demo.api("PUT", "recycle").status == 200  # a task event: INFO
        short = demo.nomad("GET", f"/v1/client/fs/ls/{demo.alloc_id[:8]}?marker={marker}")
        assert short.status == 500  # request failed: ERROR
        failed_500 = (rf"\[ERROR\] http: request failed: method=GET path=/v1/client/fs/ls/{demo.alloc_id[:8]}"
                      rf"\?marker={marker} error=\"alloc lookup failed: index error: UUID must be 36 characters\""
                      r" code=500$")
        for reply in (debug, info, error):  # the last line logged reached every monitor
            reply.wait(has_line(failed_500), what="the ERROR line")
        request_complete = (rf"^\S+ \[DEBUG\] http: request complete: method=GET path=/v1/client/fs/stat/"
                            rf"{demo.alloc_id}\?path=nope&marker={marker} duration=[0-9.]+(ns|µs|ms|s)$")
        failed_404 = rf"\[DEBUG\] http: request failed: .*marker={marker} error=\"stat .*: no such file or directory\" code=404$"
        task_event = (rf"\[INFO\]  client.alloc_runner.task_runner: Task event: alloc_id={demo.alloc_id} task=app"
                      r" type=Driver msg=\"ApplicationPool recycled\" failed=false$")
        assert has_line(request_complete)(debug) and has_line(failed_404)(debug) and has_line(task_event)(debug)
        assert has_line(task_event)(info) and not has_line(marker + ".* duration=")(info)
        assert not has_line(r"\[DEBUG\]")(info) and not has_line(r"\[INFO\]|\[DEBUG\]")(error)
        for line in lines(debug):
            assert LINE.match(line), line


def test_an_idle_monitor_sends_heartbeats(demo):
    with monitor(demo, "log_level=off") as reply:
        assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
        reply.wait(lambda r: r.frames.count({}) >= 2, timeout=5, what="two heartbeats")
        assert b"}{" in reply.raw and not lines(reply)


def test_frames_hold_at_most_1_kib(demo):
    with monitor(demo, "log_level=debug") as reply:
        markers = [f"{uuid.uuid4().hex}{'x' * 150}" for _index in range(30)]
        for marker in markers:
            assert demo.nomad("GET", f"/v1/client/fs/ls/{demo.alloc_id}?burst={marker}").status == 200
        reply.wait(lambda r: all(any(m in line for line in lines(r)) for m in markers), what="every request's line")
        frames = [f for f in reply.frames if f]
        assert all(f["FileEvent"] == "log" and "File" not in f for f in frames)
        sizes = [len(base64.b64decode(f["Data"])) for f in frames]
        assert max(sizes) == 1024  # a burst is cut at the frame size


def test_plain_monitor_sends_raw_lines(demo):
    with monitor(demo, "plain=true&log_level=debug") as reply:
        assert reply.headers["Content-Type"] == "text/plain"
        marker = uuid.uuid4().hex
        demo.nomad("GET", f"/v1/client/fs/ls/{demo.alloc_id}?marker={marker}")
        reply.wait(lambda r: marker.encode() in r.raw, what="the request's line")
        text = reply.raw.decode()
        assert "{}" not in text and text.endswith("\n")
        assert any(re.search(rf"\[DEBUG\] http: request complete: method=GET path=\S+marker={marker} ", line)
                   for line in text.splitlines())


def test_json_lines(demo):
    with monitor(demo, "log_json=true&log_level=debug") as reply:
        marker = uuid.uuid4().hex
        demo.nomad("GET", f"/v1/client/fs/ls/{demo.alloc_id}?marker={marker}")
        reply.wait(lambda r: any(marker in line for line in lines(r)), what="the request's line")
        entry = json.loads(next(line for line in lines(reply) if marker in line))
        assert list(entry) == sorted(entry)
        assert (entry["@level"], entry["@module"], entry["@message"], entry["method"]) == (
            "debug", "http", "request complete", "GET")
        assert entry["path"] == f"/v1/client/fs/ls/{demo.alloc_id}?marker={marker}"
        assert isinstance(entry["duration"], int) and entry["duration"] > 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["@timestamp"])


ACL_CONFIG = {
    "nodes": [{"name": "n1"}],
    "jobs": [{"id": "web", "groups": [{"name": "web", "tasks": [{"name": "app"}]}]}],
    "acl": {"policies": [{"name": "agent-read", "agent": "read"},
                         {"name": "files", "namespace": {"default": ["read-fs", "read-logs"]}, "node": "write"}],
            "tokens": [{"name": "agent", "secret_id": "cccccccc-0000-0000-0000-000000000001", "policies": ["agent-read"]},
                       {"name": "files", "secret_id": "cccccccc-0000-0000-0000-000000000002", "policies": ["files"]}]},
}


def test_monitor_needs_agent_read(start_sandbox):
    sandbox = start_sandbox(["--acl"], ACL_CONFIG)
    for token in (None, "cccccccc-0000-0000-0000-000000000002", str(uuid.uuid4())):
        headers = {"X-Nomad-Token": token} if token else {}
        assert_error(sandbox.nomad("GET", "/v1/agent/monitor", headers=headers), 403, "Permission denied")
    for token in (sandbox.info["nomad_token"], "cccccccc-0000-0000-0000-000000000001"):
        with monitor(sandbox, "log_level=debug", {"X-Nomad-Token": token}) as reply:
            assert reply.status == 200
            marker = uuid.uuid4().hex
            request("GET", f"{sandbox.nomad_addr}/v1/client/fs/ls/{sandbox.alloc_id}?marker={marker}")
            reply.wait(lambda r: any(marker in line for line in lines(r)), what="the request's line")
