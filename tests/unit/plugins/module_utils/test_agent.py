# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_agent: host:port parsing and spelling, hints on API errors, node IDs, captured files."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._agent import (
    RPC_PORT,
    SERF_PORT,
    HostPort,
    check_node_id,
    comparable_address,
    finish_dest,
    member_address,
    member_summary,
    open_dest,
    parse_host_port,
    with_hint,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    ApiError,
    OptionError,
)


@pytest.mark.parametrize('text, default, expected', [
    ('10.0.0.5', RPC_PORT, ('10.0.0.5', 4647)),
    ('10.0.0.5:4000', RPC_PORT, ('10.0.0.5', 4000)),
    (' nomad-1.example.com ', SERF_PORT, ('nomad-1.example.com', 4648)),
    ('nomad_1:1', SERF_PORT, ('nomad_1', 1)),
    ('[::1]', RPC_PORT, ('::1', 4647)),
    ('[fe80::1]:65535', RPC_PORT, ('fe80::1', 65535)),
])
def test_parse_host_port(text, default, expected):
    assert parse_host_port(text, default, 'servers') == expected


@pytest.mark.parametrize('text, problem', [
    ('', 'the host is missing'),
    (':4647', 'the host is missing'),
    ('10.0.0.5:', 'the port must be a number from 1 to 65535'),
    ('10.0.0.5:0', 'the port must be a number from 1 to 65535'),
    ('10.0.0.5:65536', 'the port must be a number from 1 to 65535'),
    ('10.0.0.5:rpc', 'the port must be a number from 1 to 65535'),
    ('::1', 'write IPv6 addresses in brackets, such as [::1]:4647'),
    ('[::1', "a ']' is missing"),
    ('[::1]4647', "only ':port' may follow ']'"),
    ('[10.0.0.5]:4647', "'10.0.0.5' is not an IPv6 address"),
    ('nomad server', "'nomad server' is not a host name or IP address"),
    ('http://nomad', 'is not a valid host:port address'),
    ('-nomad', "'-nomad' is not a host name"),
])
def test_parse_host_port_refuses(text, problem):
    with pytest.raises(OptionError) as exc:
        parse_host_port(text, RPC_PORT, 'servers')
    assert str(exc.value).startswith('servers: %r is not a valid host:port address' % text)
    assert problem in str(exc.value)


def test_host_port_spelling():
    assert str(HostPort('10.0.0.5', 4647)) == '10.0.0.5:4647'
    assert str(HostPort('::1', 4647)) == '[::1]:4647'


def test_comparable_address_spells_ips_as_nomad_does():
    assert comparable_address('10.0.0.5', 4647) == '10.0.0.5:4647'
    assert comparable_address('0:0:0:0:0:0:0:1', 4647) == '[::1]:4647'
    assert comparable_address('FE80::0001', 4648) == '[fe80::1]:4648'


def test_comparable_address_resolves_names_ipv4_first(monkeypatch):
    def getaddrinfo(host, port, type=0):  # pylint: disable=redefined-builtin
        assert host == 'nomad-1' and type == socket.SOCK_STREAM
        return [(socket.AF_INET6, type, 6, '', ('fe80::5%eth0', 0, 0, 2)), (socket.AF_INET, type, 6, '', ('10.0.0.5', 0))]
    monkeypatch.setattr(socket, 'getaddrinfo', getaddrinfo)
    assert comparable_address('nomad-1', 4647) == '10.0.0.5:4647'


def test_comparable_address_keeps_a_name_that_does_not_resolve(monkeypatch):
    def getaddrinfo(host, port, type=0):  # pylint: disable=redefined-builtin
        raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
    monkeypatch.setattr(socket, 'getaddrinfo', getaddrinfo)
    assert comparable_address('Nomad-9.Example', 4647) == 'nomad-9.example:4647'


def test_member_address_and_summary():
    member = {'Name': 'nomad-2.global', 'Addr': '10.0.0.6', 'Port': 4648, 'Status': 'left', 'Tags': {}}
    assert member_address(member) == '10.0.0.6:4648'
    assert member_summary(member) == {'name': 'nomad-2.global', 'address': '10.0.0.6:4648', 'status': 'left'}
    assert member_summary(None) is None


def test_with_hint_adds_to_the_matching_status_only():
    error = ApiError('joining x failed: 501 Invalid method from http://a', status=501, body='Invalid method',
                     url='http://a/v1/agent/join', method='PUT', attempts=2)
    hinted = with_hint(error, 501, 'only a server agent can do this')
    assert str(hinted) == 'joining x failed: 501 Invalid method from http://a (only a server agent can do this)'
    assert (hinted.status, hinted.body, hinted.url, hinted.method, hinted.attempts) == (
        501, 'Invalid method', 'http://a/v1/agent/join', 'PUT', 2)
    assert with_hint(error, 403, 'nope') is error
    unreachable = ApiConnectionError('x failed: connection refused')
    assert with_hint(unreachable, 501, 'nope') is unreachable


def test_check_node_id():
    check_node_id(None)
    check_node_id('9d5a3c4e-8f21-4b6a-9c0d-1e2f3a4b5c6d')
    for bad in ('9d5a3c4e', 'win-node-1', '9d5a3c4e-8f21-4b6a-9c0d-1e2f3a4b5c6', ''):
        with pytest.raises(OptionError, match='node_id must be a full node ID'):
            check_node_id(bad)


class FakeModule:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode

    @staticmethod
    def sha256(path):
        with open(path, 'rb') as handle:
            return hashlib.sha256(handle.read()).hexdigest()


def written(tmp_path, dest, data, check_mode=False):
    writer = open_dest(str(dest))
    writer.write(data)
    changed = finish_dest(FakeModule(check_mode), writer)
    return changed, sorted(os.listdir(str(tmp_path)))


def test_finish_dest_writes_new_and_different_files_only(tmp_path):
    dest = tmp_path / 'profile'
    assert written(tmp_path, dest, b'one') == (True, ['profile'])
    assert dest.read_bytes() == b'one'
    assert written(tmp_path, dest, b'one') == (False, ['profile'])
    assert written(tmp_path, dest, b'two') == (True, ['profile'])
    assert dest.read_bytes() == b'two'


def test_finish_dest_in_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / 'profile'
    assert written(tmp_path, dest, b'one', check_mode=True) == (True, [])
    dest.write_bytes(b'one')
    assert written(tmp_path, dest, b'one', check_mode=True) == (False, ['profile'])
    assert written(tmp_path, dest, b'two', check_mode=True) == (True, ['profile'])
    assert dest.read_bytes() == b'one'


def test_open_dest_refuses_directories_before_any_request(tmp_path):
    with pytest.raises(OptionError, match='is a directory'):
        open_dest(str(tmp_path))
    with pytest.raises(OptionError, match='is a directory'):
        open_dest(str(tmp_path / 'new') + os.sep)
    with pytest.raises(OptionError, match="the directory '.*missing' does not exist"):
        open_dest(str(tmp_path / 'missing' / 'profile'))
    assert os.listdir(str(tmp_path)) == []
