# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures every unit test can use: a clean environment, a scripted HTTP(S) server in a thread, a
throw-away PKI, and ``run_module``, which runs a module's ``main()`` in-process."""

from __future__ import annotations

import builtins
import contextlib
import errno
import http.server
import io
import json
import os
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import FakeServer
from ansible_collections.nomad_iis.management.tests.unit.utils.pki import Pki

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19 reads the arguments from basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args):
        with mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')):
            yield


@pytest.fixture(autouse=True)
def no_proxy_and_nomad_env(monkeypatch):
    """Tests talk to 127.0.0.1 directly and start from an environment without NOMAD_* variables."""
    for name in list(os.environ):
        if name.lower().endswith('_proxy') or name.startswith('NOMAD_'):
            monkeypatch.delenv(name)


@pytest.fixture
def run_module(capsys):
    """``run_module(module, args, check_mode=False, diff=False)`` runs ``module.main()`` with ``args``
    and returns its result (``failed`` set when it failed, warnings as plain text)."""
    def run(module, args, check_mode=False, diff=False):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        # Warnings are process-wide: one run's must not show up in the next.
        module_warnings._global_warnings.clear()  # pylint: disable=protected-access
        module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                module.main()
        result = json.loads(capsys.readouterr().out)
        assert bool(exc.value.code) == bool(result.get('failed'))
        if 'warnings' in result:
            # ansible-core 2.19 returns warnings as structured events; older versions as strings.
            result['warnings'] = [w['event']['msg'] if isinstance(w, dict) else w for w in result['warnings']]
        return result
    return run


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(directory)`` makes ``directory`` and those below it behave as directories without
    write permission: entries cannot be created, removed or renamed there (EACCES), while existing
    files stay readable and writable. Patched rather than chmod-ed, since tests may run as root."""
    protected = []

    def inside(path):
        if isinstance(path, int):
            return False
        path = os.path.abspath(os.fsdecode(path))
        return any(path.startswith(directory + os.sep) for directory in protected)

    def guard(original, denies, paths=1):
        def guarded(*args, **kwargs):
            for path in args[:paths]:
                if inside(path) and denies(path, *args[1:], **kwargs):
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            return original(*args, **kwargs)
        return guarded

    def creates(path, *args, **kwargs):
        return not os.path.lexists(path)

    def removes(path, *args, **kwargs):
        return os.path.lexists(path)

    def open_creates(path, flags, *args, **kwargs):
        return bool(flags & os.O_CREAT) and creates(path)

    def open_mode_creates(path, mode='r', *args, **kwargs):
        return any(char in mode for char in 'wax') and creates(path)

    monkeypatch.setattr(os, 'open', guard(os.open, open_creates))
    monkeypatch.setattr(builtins, 'open', guard(builtins.open, open_mode_creates))
    monkeypatch.setattr(io, 'open', builtins.open)
    for name in ('mkdir', 'mkfifo'):
        monkeypatch.setattr(os, name, guard(getattr(os, name), creates))
    for name in ('unlink', 'remove', 'rmdir'):
        monkeypatch.setattr(os, name, guard(getattr(os, name), removes))
    for name in ('rename', 'replace'):
        monkeypatch.setattr(os, name, guard(getattr(os, name), lambda *args, **kwargs: True, paths=2))

    def protect(directory):
        protected.append(os.path.abspath(str(directory)))
    return protect


@pytest.fixture
def make_server():
    servers = []

    def make(tls_context=None, keep_alive=False):
        server = FakeServer(tls_context, keep_alive)
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
