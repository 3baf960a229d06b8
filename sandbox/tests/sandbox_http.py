"""A small HTTP client for the sandbox tests: exact paths (no normalisation, so `%2F` and `..`
reach the server as written), streaming bodies, and the inspection endpoint."""

from __future__ import annotations

import codecs
import http.client
import json
import queue
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(method: str, url: str, body=None, headers=None, timeout: float = 60,
            context: ssl.SSLContext | None = None, stream_to=None) -> Reply:
    """One request; `url` is used as written. `body` may be bytes or an iterable of bytes.
    With `stream_to` (a writable file) the body is copied there in chunks and not kept."""
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": context} if parts.scheme == "https" else {}
    conn = cls(parts.hostname, parts.port, timeout=timeout, **kwargs)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        headers = dict(headers or {})
        # A Host given in `headers` replaces the one http.client would add (not a second one).
        conn.putrequest(method, path, skip_accept_encoding=True,
                        skip_host=any(k.lower() == "host" for k in headers))
        if isinstance(body, (bytes, bytearray)):
            headers.setdefault("Content-Length", str(len(body)))
        elif body is not None:
            headers.setdefault("Transfer-Encoding", "chunked")
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        if isinstance(body, (bytes, bytearray)):
            conn.send(body)
        elif body is not None:
            for chunk in body:
                if chunk:
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        if stream_to is not None:
            while chunk := response.read(1 << 16):
                stream_to.write(chunk)
            data = b""
        else:
            data = response.read()
        return Reply(response.status, response.headers, data)
    finally:
        conn.close()


class Sandbox:
    """The ready file's facts plus helpers; subclasses own the process."""

    def __init__(self, info: dict):
        self.info = info
        self.nomad_addr = info["nomad_addr"]
        self.node = info["nodes"][0]
        self.api_url = self.node["management_api_url"]
        self.api_key = self.node["api_key"]
        self.alloc = info["allocs"][0]
        self.alloc_id = self.alloc["id"]

    def api(self, method: str, route: str, key: str | None = "default", **kwargs) -> Reply:
        """A Management API request; `route` follows /api/v1/allocs/{alloc}/{task}/ or is absolute."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if key == "default":
            key = self.api_key
        if key is not None:
            headers["X-Api-Key"] = key
        url = route if route.startswith("http") else (
            f"{self.api_url}{route}" if route.startswith("/") else
            f"{self.api_url}/api/v1/allocs/{self.alloc_id}/app/{route}")
        return request(method, url, headers=headers, **kwargs)

    def nomad(self, method: str, path: str, **kwargs) -> Reply:
        return request(method, f"{self.nomad_addr}{path}", **kwargs)

    def inspect(self, what: str = "state", method: str = "GET", body=None) -> dict | list:
        data = json.dumps(body).encode() if body is not None else None
        reply = request(method, f"{self.info['inspect_url']}/{what}", body=data,
                        headers={"Content-Type": "application/json"} if data else None)
        assert reply.status == 200, reply.text
        return reply.json()

    def task_state(self, alloc_id: str | None = None, task: str = "app") -> dict:
        alloc_id = alloc_id or self.alloc_id
        return self.inspect(f"state?alloc={alloc_id}")["allocs"][alloc_id]["tasks"][task]

    def fault(self, **spec) -> int:
        return self.inspect("faults", "POST", spec)["id"]


class FrameDecoder:
    """Nomad's stream frames: JSON objects back to back, no separator. Decoded as they arrive with
    json.JSONDecoder.raw_decode over a growing buffer (an incomplete object waits for more bytes)."""

    def __init__(self):
        self.text = ""
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()

    def feed(self, data: bytes) -> list[dict]:
        self.text += self._utf8.decode(data)
        frames = []
        while self.text.strip():
            start = len(self.text) - len(self.text.lstrip())
            try:
                frame, end = self._json.raw_decode(self.text, start)
            except json.JSONDecodeError:
                break
            frames.append(frame)
            self.text = self.text[end:]
        return frames


class StreamReply:
    """A streaming GET read while it arrives (follow streams, logs, monitors). A thread copies the
    body into a queue, so a test waits with a deadline and may hang up at any time."""

    def __init__(self, url: str, headers: dict | None = None, timeout: float = 60):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.conn.putrequest("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                             skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            self.conn.putheader(key, value)
        self.conn.endheaders()
        self.response = self.conn.getresponse()
        self.status, self.headers = self.response.status, self.response.headers
        self.raw = b""
        self.frames: list[dict] = []
        self.ended = False
        self._decoder = FrameDecoder()
        self._chunks: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            while chunk := self.response.read1(1 << 16):
                self._chunks.put(chunk)
        except Exception:  # noqa: BLE001 - a hang-up (close()) may break http.client anywhere
            pass
        finally:
            self._chunks.put(None)

    def _take(self, timeout: float) -> bool:
        """Take what arrived within `timeout`; False when nothing did."""
        try:
            chunk = self._chunks.get(timeout=max(timeout, 0))
        except queue.Empty:
            return False
        if chunk is None:
            self.ended = True
        else:
            self.raw += chunk
            self.frames += self._decoder.feed(chunk)
        return True

    def wait(self, condition, timeout: float = 10, what: str = "condition") -> "StreamReply":
        """Read until `condition(self)` holds; fail with what arrived if it does not in time."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if self.ended or not self._take(deadline - time.monotonic()) and time.monotonic() >= deadline:
                raise AssertionError(f"{what} not met; ended={self.ended}, received {self.raw[-2000:]!r}")
        return self

    def collect(self, seconds: float) -> "StreamReply":
        """Read whatever arrives during `seconds`."""
        deadline = time.monotonic() + seconds
        while not self.ended and time.monotonic() < deadline:
            self._take(deadline - time.monotonic())
        return self

    def read_to_end(self, timeout: float = 10) -> "StreamReply":
        return self.wait(lambda s: s.ended, timeout, "end of the stream")

    def close(self) -> None:
        if self.conn.sock is not None:
            try:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conn.close()

    def __enter__(self) -> "StreamReply":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
