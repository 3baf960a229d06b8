# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures: a scripted HTTP(S) server in a thread, and a throw-away PKI."""

from __future__ import annotations

import http.server

import pytest

from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import FakeServer
from ansible_collections.nomad_iis.management.tests.unit.utils.pki import Pki


@pytest.fixture
def make_server():
    servers = []

    def make(tls_context=None):
        server = FakeServer(tls_context)
        server.thread.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.fixture
def unused_port():
    server = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return port


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp('pki')))
