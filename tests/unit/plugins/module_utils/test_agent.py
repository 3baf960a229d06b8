# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_agent: host:port parsing and spelling, gossip members."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._agent import (
    RPC_PORT,
    SERF_PORT,
    HostPort,
    comparable_address,
    member_address,
    member_summary,
    parse_host_port,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError


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
