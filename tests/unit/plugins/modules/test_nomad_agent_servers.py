# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_agent_servers: set comparison, what is sent, check mode, diff, and what Nomad drops."""

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.modules import nomad_agent_servers
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_agent_fakes import (
    FakeAgent,
    query,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply


def puts(agent, server):
    return [query(r)['address'] for r in agent.requests_to(server, '/v1/agent/servers', 'PUT')]


def test_the_same_set_written_differently_sends_nothing(server, run_module):
    agent = FakeAgent(server)
    agent.servers = ['10.0.0.6:4647', '10.0.0.5:4647']
    result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=['10.0.0.5', '10.0.0.6:4647', '10.0.0.5:4647']),
                        diff=True)
    assert result['changed'] is False
    assert result['servers'] == ['10.0.0.5:4647', '10.0.0.6:4647']
    assert result['diff']['before'] == result['diff']['after']
    assert puts(agent, server) == []


def test_a_different_set_is_sent_once_with_default_ports(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=['10.0.0.7', '[fe80::1]', '10.0.0.7']),
                        diff=True)
    assert result['changed'] is True
    assert puts(agent, server) == [['10.0.0.7:4647', '[fe80::1]:4647']]
    assert result['servers'] == ['10.0.0.7:4647', '[fe80::1]:4647']
    assert result['diff'] == {'before': {'servers': ['10.0.0.5:4647']},
                              'after': {'servers': ['10.0.0.7:4647', '[fe80::1]:4647']}}
    assert 'warnings' not in result


def test_check_mode_predicts_without_sending(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=['10.0.0.7:4000']),
                        check_mode=True, diff=True)
    assert result['changed'] is True
    assert result['servers'] == ['10.0.0.7:4000']
    assert result['diff']['after'] == {'servers': ['10.0.0.7:4000']}
    assert puts(agent, server) == []
    assert agent.servers == ['10.0.0.5:4647']


def test_addresses_nomad_did_not_keep_are_named_in_a_warning(server, run_module):
    agent = FakeAgent(server)
    original = agent._servers  # pylint: disable=protected-access

    def keeps_only_the_first(method, request):
        reply = original(method, request)
        agent.servers = agent.servers[:1]
        return reply
    agent._servers = keeps_only_the_first  # pylint: disable=protected-access
    result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=['10.0.0.7', '10.0.0.8']))
    assert result['changed'] is True
    assert result['servers'] == ['10.0.0.7:4647']
    assert result['warnings'] == ['the agent did not keep 10.0.0.8:4647: Nomad drops addresses that it cannot resolve']


def test_bad_input_fails_before_any_request(server, run_module):
    FakeAgent(server)
    for servers, problem in ((['10.0.0.5', '::1'], 'write IPv6 addresses in brackets'),
                             ([], 'servers must list at least one address')):
        result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=servers))
        assert result['failed'] and problem in result['msg']
    assert server.requests == []


def test_a_server_only_agent_is_explained(server, run_module):
    FakeAgent(server, client=False)
    result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=['10.0.0.5']))
    assert result['failed'] and result['status'] == 501
    assert result['msg'].endswith('(only a client agent has a server list: point nomad_addr at a Nomad client)')


def test_a_refused_write_names_the_list(server, run_module):
    agent = FakeAgent(server)
    original = agent.route

    def refuse_writes(request):
        if request.method == 'PUT':
            return Reply(403, b'Permission denied')
        return original(request)
    server.route = refuse_writes
    result = run_module(nomad_agent_servers, dict(nomad_addr=server.url(), servers=['10.0.0.7', '10.0.0.8:4000']))
    assert result['failed'] and result['status'] == 403
    assert result['msg'] == ("setting the agent's server list to 10.0.0.7:4647, 10.0.0.8:4000 failed: 403 Permission "
                             "denied from %s (check nomad_token: none is set, neither as an option nor as NOMAD_TOKEN)"
                             % server.url())
