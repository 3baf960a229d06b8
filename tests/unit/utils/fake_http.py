# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A scripted HTTP(S) server in a thread, standing in for Nomad or the Management API in unit tests."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import time


class Reply:
    """One scripted answer. ``body`` is bytes, a JSON-able object, or a list of byte chunks sent
    one by one (with ``pause`` seconds between them, or waiting for ``gate`` before the second)."""

    def __init__(self, status=200, body=b'', headers=None, chunks=None, pause=0.0, gate=None, delay=0.0,
                 content_length=None, close=False):
        self.status = status
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self.body = bytes(body)
        self.headers = headers or {}
        self.chunks = chunks
        self.pause = pause
        self.gate = gate
        self.delay = delay
        self.content_length = content_length
        # Close the connection after this answer without saying so, as a server whose idle timeout ends.
        self.close = close


class RecordedRequest:
    def __init__(self, handler, body):
        self.method = handler.command
        self.path = handler.path
        self.headers = dict(handler.headers.items())
        self.body = body
        self.path_only, dummy, self.query = handler.path.partition('?')


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = 'FakeNomad/1.0'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _serve(self):
        server = self.server
        if 'chunked' in self.headers.get('Transfer-Encoding', ''):
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        request = RecordedRequest(self, body)
        with server.lock:
            server.requests.append(request)
            if getattr(self.connection, 'getpeercert', None):
                server.peer_certs.append(self.connection.getpeercert())
        reply = server.next_reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header('Content-Length', str(reply.content_length if reply.content_length is not None
                                                   else len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            self.close_connection = self.close_connection or reply.close
            return
        # HTTP/1.0 style: no length, the body ends when the connection closes.
        if self.protocol_version != 'HTTP/1.0':
            self.send_header('Connection', 'close')
        self.close_connection = True
        self.end_headers()
        for index, chunk in enumerate(reply.chunks):
            if index == 1 and reply.gate is not None:
                reply.gate.wait(10)
            self.wfile.write(chunk)
            self.wfile.flush()
            if reply.pause:
                time.sleep(reply.pause)

    def _read_chunked(self):
        data = b''
        while True:
            size = int(self.rfile.readline().strip(), 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class _KeepAliveHandler(_Handler):
    protocol_version = 'HTTP/1.1'


class FakeServer(http.server.ThreadingHTTPServer):
    """Answers with the scripted replies in order (``script``), or with ``route(request)``. With
    ``keep_alive`` it answers in HTTP/1.1 and keeps connections open between requests, as Nomad and
    the Management API do; ``connections`` counts the connections it accepted."""

    daemon_threads = True

    def __init__(self, tls_context=None, keep_alive=False):
        super().__init__(('127.0.0.1', 0), _KeepAliveHandler if keep_alive else _Handler)
        self.connections = 0
        self.tls_context = tls_context
        self.lock = threading.Lock()
        self.requests = []
        self.peer_certs = []
        self.sni_names = []
        self.handshake_errors = []
        self.script = []
        self.route = None
        if tls_context is not None:
            tls_context.sni_callback = self._record_sni
        self.thread = threading.Thread(target=self.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)

    @property
    def port(self):
        return self.server_address[1]

    def url(self, host='127.0.0.1'):
        scheme = 'https' if self.tls_context else 'http'
        return '%s://%s:%d' % (scheme, host, self.port)

    def reply(self, *replies):
        self.script.extend(replies)

    def next_reply(self, request):
        with self.lock:
            if self.script:
                return self.script.pop(0)
        if self.route is not None:
            return self.route(request)
        return Reply(200, {})

    def _record_sni(self, sslobj, name, context):
        self.sni_names.append(name)

    def get_request(self):
        sock, address = super().get_request()
        self.connections += 1
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def finish_request(self, request, client_address):
        if self.tls_context is not None:
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError) as exc:
                self.handshake_errors.append(exc)
                return
        try:
            super().finish_request(request, client_address)
        except (OSError, ssl.SSLError) as exc:
            # TLS 1.3 verifies the client certificate after the client's handshake is over.
            self.handshake_errors.append(exc)

    def handle_error(self, request, client_address):
        pass
