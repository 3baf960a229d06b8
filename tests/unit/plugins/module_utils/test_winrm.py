# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The WinRM layer over a scripted pywinrm Protocol: one shell for many commands, Receive timeouts
under its own deadline, errors that name node, command and cause without the password, and
pywinrm missing."""

from __future__ import annotations

import sys

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError

from ansible_collections.nomad_iis.management.plugins.module_utils import _winrm
from ansible_collections.nomad_iis.management.plugins.module_utils._winrm import (
    MissingLibraryError,
    WinrmAuthError,
    WinrmError,
    WinrmOptions,
    WinrmShells,
    WinrmTimeout,
)

PASSWORD = 'S3cret-pass'


class FakeProtocol:
    instances = []

    def __init__(self, url, **kwargs):
        self.url = url
        self.kwargs = kwargs
        self.calls = []
        self.timeouts = 0
        FakeProtocol.instances.append(self)

    def open_shell(self, codepage=None):
        self.calls.append(('open', codepage))
        return 'SHELL'

    def run_command(self, shell_id, line):
        self.calls.append(('run', line))
        return 'CMD-%d' % len(self.calls)

    def get_command_output_raw(self, shell_id, command_id):
        if self.timeouts:
            self.timeouts -= 1
            raise WinRMOperationTimeoutError()
        return b'out\r\n', b'', 0, True

    def cleanup_command(self, shell_id, command_id):
        self.calls.append(('cleanup', command_id))

    def close_shell(self, shell_id):
        self.calls.append(('close', shell_id))


@pytest.fixture
def protocol(monkeypatch):
    FakeProtocol.instances = []
    module = type(sys)('fake_protocol')
    module.Protocol = FakeProtocol
    real = _winrm._pywinrm

    def fake():
        _protocol, exceptions, requests_exceptions = real()
        return module, exceptions, requests_exceptions

    monkeypatch.setattr(_winrm, '_pywinrm', fake)
    return FakeProtocol


def shell(timeout=60):
    return WinrmShells(WinrmOptions('admin', PASSWORD, operation_timeout=timeout)).get('http://n1:5985/wsman', 'win-node-1')


def test_one_shell_for_every_command(protocol):
    node = shell()
    assert node.run('echo 1', 'a') == (0, 'out\r\n', '')
    assert node.run('echo 2', 'b').stdout == 'out\r\n'
    assert len(protocol.instances) == 1
    calls = protocol.instances[0].calls
    assert [c[0] for c in calls].count('open') == 1 and ('open', 65001) in calls
    assert protocol.instances[0].kwargs['operation_timeout_sec'] == 20
    assert protocol.instances[0].kwargs['read_timeout_sec'] == 30
    node.close()
    assert calls[-1] == ('close', 'SHELL')


def test_receive_timeouts_are_polled_again_within_the_deadline(protocol, monkeypatch):
    node = shell()
    node.run('echo warm', 'warming up')
    protocol.instances[0].timeouts = 3
    assert node.run('appcmd stop', 'stopping').rc == 0
    clock = iter([0, 0, 100, 100, 100])
    monkeypatch.setattr(_winrm.time, 'monotonic', lambda: next(clock))
    protocol.instances[0].timeouts = 10
    with pytest.raises(WinrmTimeout) as caught:
        node.run('appcmd stop apppool "x"', 'stopping pool x', timeout=5)
    assert str(caught.value) == ("stopping pool x on node 'win-node-1' over WinRM (http://n1:5985/wsman) failed: "
                                 "`appcmd stop apppool \"x\"` did not finish within 5 seconds (it may still run on the "
                                 "node; raise winrm_operation_timeout if it needs longer)")


@pytest.mark.parametrize('error, cls, words', [
    (InvalidCredentialsError('the specified credentials were rejected by the server'), WinrmAuthError,
     ['401 Unauthorized', "credentials of 'admin'", 'winrm_user / winrm_password']),
    (requests.exceptions.SSLError('certificate verify failed'), WinrmError, ['TLS failed', 'winrm_ca_cert']),
    (requests.exceptions.ConnectionError('Connection refused'), WinrmError, ['cannot connect', 'Connection refused']),
    (requests.exceptions.ConnectTimeout('timed out'), WinrmError, ['timed out']),
])
def test_errors_name_node_command_and_cause(protocol, monkeypatch, error, cls, words):
    node = shell()

    def failing(self, codepage=None):
        raise error

    monkeypatch.setattr(protocol, 'open_shell', failing)
    with pytest.raises(cls) as caught:
        node.run('appcmd list apppool', 'listing pools')
    message = str(caught.value)
    assert message.startswith("opening a shell for listing pools on node 'win-node-1' over WinRM "
                              "(http://n1:5985/wsman) failed (`appcmd list apppool`): ")
    for word in words:
        assert word in message
    assert PASSWORD not in message


def test_the_password_is_redacted_from_any_cause(protocol, monkeypatch):
    node = shell()

    def failing(self, codepage=None):
        raise RuntimeError('server said %s' % PASSWORD)

    monkeypatch.setattr(protocol, 'open_shell', failing)
    with pytest.raises(WinrmError) as caught:
        node.run('echo', 'x')
    assert PASSWORD not in str(caught.value) and '********' in str(caught.value)


def test_missing_pywinrm(monkeypatch):
    monkeypatch.setitem(sys.modules, 'winrm', None)
    monkeypatch.setitem(sys.modules, 'winrm.protocol', None)
    with pytest.raises(MissingLibraryError) as caught:
        shell().run('echo', 'x')
    assert 'pywinrm' in str(caught.value) and 'Failed to import the required Python library' in str(caught.value)
