# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_agent_join: no join for alive members, only the others sent, failures with Nomad's text."""

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.modules import nomad_agent_join
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_agent_fakes import (
    FakeAgent,
    query,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply


def joins(agent, server):
    return [query(r)['address'] for r in agent.requests_to(server, '/v1/agent/join')]


def test_alive_members_need_no_join(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.5', '10.0.0.6:4648']),
                        diff=True)
    assert result['changed'] is False
    assert result['joined'] == [] and result['num_joined'] == 0
    assert result['members'][1] == {'address': '10.0.0.6:4648',
                                    'member': {'name': 'nomad-2.global', 'address': '10.0.0.6:4648', 'status': 'alive'}}
    assert result['diff'] == {'before': {'10.0.0.5:4648': 'alive', '10.0.0.6:4648': 'alive'},
                              'after': {'10.0.0.5:4648': 'alive', '10.0.0.6:4648': 'alive'}}
    assert joins(agent, server) == []


def test_only_addresses_that_are_not_alive_are_joined(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.5', '10.0.0.7']),
                        diff=True)
    assert result['changed'] is True
    assert joins(agent, server) == [['10.0.0.7:4648']]
    assert agent.requests_to(server, '/v1/agent/join')[0].method == 'PUT'
    assert result['joined'] == ['10.0.0.7:4648'] and result['num_joined'] == 1
    assert result['members'][1]['member']['status'] == 'alive'
    assert result['diff']['before']['10.0.0.7:4648'] == 'left'
    assert result['diff']['after']['10.0.0.7:4648'] == 'alive'


def test_check_mode_predicts_from_the_members(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.7', '10.0.0.9:4000']),
                        check_mode=True, diff=True)
    assert result['changed'] is True
    assert result['joined'] == ['10.0.0.7:4648', '10.0.0.9:4000']
    assert result['diff'] == {'before': {'10.0.0.7:4648': 'left', '10.0.0.9:4000': 'absent'},
                              'after': {'10.0.0.7:4648': 'alive', '10.0.0.9:4000': 'alive'}}
    assert joins(agent, server) == []
    assert agent.members[2]['Status'] == 'left'


def test_a_join_that_joins_nothing_fails_with_nomads_text(server, run_module):
    FakeAgent(server)
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.9']))
    assert result['failed']
    assert result['msg'] == ('joining 10.0.0.9:4648 failed: Nomad could join none of them: 1 error occurred: '
                             '* Failed to join 10.0.0.9:4648: dial tcp 10.0.0.9:4648: connect: connection refused '
                             '(answer from %s)' % server.url())


def test_a_partial_join_and_nomads_warning_are_passed_on(server, run_module):
    agent = FakeAgent(server)
    agent.join_answer = {'num_joined': 1, 'error': '',
                         'warning': 'anonymous join requests will be rejected in a later version'}
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.7', '10.0.0.9']))
    assert result['changed'] is True and result['num_joined'] == 1
    assert result['warnings'] == ['Nomad: anonymous join requests will be rejected in a later version',
                                  'Nomad joined 1 of 2 addresses; not an alive member afterwards: 10.0.0.9:4648']
    assert [m['member'] and m['member']['status'] for m in result['members']] == ['alive', None]


def test_nomads_error_text_is_quoted_for_addresses_that_did_not_join(server, run_module):
    agent = FakeAgent(server)
    agent.join_answer = {'num_joined': 1, 'error': '1 error occurred:\n\t* Failed to join 10.0.0.9:4648\n\n'}
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.7', '10.0.0.9']))
    assert result['warnings'] == ['Nomad joined 1 of 2 addresses; not an alive member afterwards: 10.0.0.9:4648 '
                                  '(1 error occurred: * Failed to join 10.0.0.9:4648)']


def test_a_join_is_sent_once(server, run_module):
    agent = FakeAgent(server)
    original = agent.route

    def unavailable(request):
        if request.path_only == '/v1/agent/join':
            return Reply(503, b'no leader')
        return original(request)
    server.route = unavailable
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.7']))
    assert result['failed'] and result['status'] == 503
    assert len(joins(agent, server)) == 1


def test_a_client_only_agent_is_explained(server, run_module):
    FakeAgent(server, server_role=False)
    result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=['10.0.0.7']))
    assert result['failed'] and result['status'] == 501
    assert result['msg'] == ('joining 10.0.0.7:4648 failed: 501 Invalid method from %s (only a server agent can do '
                             'this: point nomad_addr at a Nomad server)' % server.url())


def test_bad_input_fails_before_any_request(server, run_module):
    FakeAgent(server)
    for addresses, problem in ((['10.0.0.7', '10.0.0.8:x'], "addresses: '10.0.0.8:x' is not a valid host:port"),
                               ([], 'addresses must list at least one address to join')):
        result = run_module(nomad_agent_join, dict(nomad_addr=server.url(), addresses=addresses))
        assert result['failed'] and problem in result['msg']
    assert server.requests == []
