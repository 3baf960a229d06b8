"""An application pool's worker process, the sandbox's w3wp.exe.

It serves the pool's applications as static files over HTTP on 127.0.0.1 (the sandbox's binding
listener forwards requests to it, as http.sys does for IIS), and writes one access line per request
to the task's stdout log and errors to its stderr log, rotating them as Nomad's logmon does.
Standard library only: it must start fast and stay small.

    python -m nomad_iis_sandbox.worker --apps JSON --log-dir DIR --task NAME --pool NAME
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# IIS's default documents, in IIS's order.
DEFAULT_DOCUMENTS = ("Default.htm", "Default.asp", "index.htm", "index.html", "iisstart.htm", "default.aspx")
LOG_MAX_BYTES = 10 * 1024 * 1024  # Nomad's default logs.max_file_size (10 MB)
LOG_MAX_FILES = 10


class RotatingLog:
    """Appends lines to `<dir>/<task>.<kind>.<n>`, moving to n+1 when the file is full."""

    def __init__(self, log_dir: str, task: str, kind: str):
        self.prefix = os.path.join(log_dir, f"{task}.{kind}.")
        self.lock = threading.Lock()
        self.index = self._newest_index()

    def _newest_index(self) -> int:
        directory, base = os.path.split(self.prefix)
        found = [int(n[len(base):]) for n in os.listdir(directory)
                 if n.startswith(base) and n[len(base):].isdigit()]
        return max(found, default=0)

    def write(self, line: str) -> None:
        data = (line.rstrip("\n") + "\n").encode("utf-8", "replace")
        with self.lock:
            path = f"{self.prefix}{self.index}"
            try:
                size = os.path.getsize(path)
            except OSError:
                size = 0
            if size and size + len(data) > LOG_MAX_BYTES:
                self.index += 1
                old = f"{self.prefix}{self.index - LOG_MAX_FILES}"
                if os.path.exists(old):
                    os.remove(old)
                path = f"{self.prefix}{self.index}"
            with open(path, "ab") as handle:
                handle.write(data)


class Handler(BaseHTTPRequestHandler):
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-"):
        """Access lines are written by `_access`, with the pool and worker PID."""

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        self.server.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {format % args}")

    def _resolve(self) -> str | None:
        url_path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        parts = [p for p in url_path.split("/") if p]
        if any(p == ".." for p in parts):
            return None
        best = None
        for alias, root in self.server.apps.items():
            alias_parts = [p for p in alias.split("/") if p]
            if [p.lower() for p in parts[:len(alias_parts)]] == [p.lower() for p in alias_parts]:
                if best is None or len(alias_parts) > best[0]:
                    best = (len(alias_parts), root)
        if best is None:
            return None
        rel = parts[best[0]:]
        return os.path.join(best[1], *rel) if rel else best[1]

    def _send(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._access(status, len(body))

    def _access(self, status: int, size: int) -> None:
        self.server.stdout.write(
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} {self.server.pool} {self.command} {self.path} "
            f"{status} {size} pid={os.getpid()}")

    def do_GET(self):  # noqa: N802 - http.server naming
        path = self._resolve()
        if path and os.path.isdir(path):
            for name in DEFAULT_DOCUMENTS:
                candidate = os.path.join(path, name)
                if os.path.isfile(candidate):
                    path = candidate
                    break
        if not path or not os.path.isfile(path):
            self.server.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} 404 {self.path}")
            self._send(404, b"<html><body><h1>HTTP Error 404.0 - Not Found</h1></body></html>")
            return
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", mimetypes.guess_type(path)[0] or "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if self.command != "HEAD":
                    while chunk := handle.read(65536):
                        self.wfile.write(chunk)
            self._access(200, size)
        except OSError as exc:
            self.server.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} 500 {self.path}: {exc}")
            self._send(500, b"<html><body><h1>HTTP Error 500.0 - Internal Server Error</h1></body></html>")

    do_HEAD = do_GET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", required=True, help="JSON object: URL alias -> physical path")
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--shutdown-delay", type=float, default=0.5)
    parser.add_argument("--ballast-mb", type=int, default=0)
    args = parser.parse_args(argv)

    ballast = bytearray(args.ballast_mb * 1024 * 1024)
    for i in range(0, len(ballast), 4096):  # touch every page so that it is resident and dumped
        ballast[i] = 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.apps = json.loads(args.apps)
    server.pool = args.pool
    server.stdout = RotatingLog(args.log_dir, args.task, "stdout")
    server.stderr = RotatingLog(args.log_dir, args.task, "stderr")

    def shutdown(signum, frame):
        # IIS lets a worker finish its requests within shutdownTimeLimit; the delay makes the
        # pool's Stopping state observable.
        def stop():
            time.sleep(args.shutdown_delay)
            server.shutdown()
        threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server.stdout.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} worker {os.getpid()} of pool "
                        f"{args.pool} started")
    sys.stdout.write(f"READY {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.1)
    del ballast
    return 0


if __name__ == "__main__":
    sys.exit(main())
