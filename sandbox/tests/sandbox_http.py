"""A small HTTP client for the sandbox tests: exact paths (no normalisation, so `%2F` and `..`
reach the server as written), streaming bodies, and the inspection endpoint."""

from __future__ import annotations

import http.client
import json
import ssl
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
        conn.putrequest(method, path, skip_accept_encoding=True)
        headers = dict(headers or {})
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
