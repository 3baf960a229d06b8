# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_agent_force_leave: left (and with prune, absent) members need nothing; prune; refuted leaves."""

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.modules import nomad_agent_force_leave
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_agent_fakes import (
    FakeAgent,
    query,
)


def leaves(agent, server):
    return [query(r) for r in agent.requests_to(server, '/v1/agent/force-leave')]


def names(agent):
    return {m['Name']: m['Status'] for m in agent.members}


def test_an_alive_member_is_forced_out(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-2.global'), diff=True)
    assert result['changed'] is True
    assert leaves(agent, server) == [{'node': ['nomad-2.global'], 'namespace': ['default']}]
    assert agent.requests_to(server, '/v1/agent/force-leave')[0].method == 'PUT'
    assert result['member'] == {'name': 'nomad-2.global', 'address': '10.0.0.6:4648', 'status': 'left'}
    assert result['diff']['before']['member']['status'] == 'alive'
    assert result['diff']['after']['member']['status'] == 'left'
    assert 'warnings' not in result


def test_a_member_that_left_needs_nothing(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-old.global'))
    assert result['changed'] is False
    assert result['member']['status'] == 'left'
    assert leaves(agent, server) == []


def test_prune_removes_a_member_that_left_and_then_needs_nothing(server, run_module):
    agent = FakeAgent(server)
    args = dict(nomad_addr=server.url(), node='nomad-old.global', prune=True)
    result = run_module(nomad_agent_force_leave, args, diff=True)
    assert result['changed'] is True and result['member'] is None
    assert leaves(agent, server) == [{'node': ['nomad-old.global'], 'prune': ['true'], 'namespace': ['default']}]
    assert 'nomad-old.global' not in names(agent)
    assert result['diff'] == {'before': {'member': {'name': 'nomad-old.global', 'address': '10.0.0.7:4648', 'status': 'left'}},
                              'after': {'member': None}}
    result = run_module(nomad_agent_force_leave, args)
    assert result['changed'] is False and result['member'] is None
    assert 'warnings' not in result
    assert len(leaves(agent, server)) == 1


def test_check_mode_predicts_from_the_members(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-2.global'),
                        check_mode=True, diff=True)
    assert result['changed'] is True
    assert result['diff']['after']['member'] == {'name': 'nomad-2.global', 'address': '10.0.0.6:4648', 'status': 'left'}
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-old.global', prune=True),
                        check_mode=True, diff=True)
    assert result['changed'] is True and result['diff']['after'] == {'member': None}
    assert leaves(agent, server) == []
    assert names(agent) == {'nomad-1.global': 'alive', 'nomad-2.global': 'alive', 'nomad-old.global': 'left'}


def test_an_unknown_name_warns_without_prune(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-2'))
    assert result['changed'] is False and result['member'] is None
    assert result['warnings'] == ["no gossip member is named 'nomad-2'; nothing to do (the names are shown by "
                                  "'nomad server members')"]
    assert leaves(agent, server) == []


def test_a_refuted_force_leave_is_reported(server, run_module):
    agent = FakeAgent(server)
    agent.refuting = True
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-2.global'))
    assert result['changed'] is True
    assert result['member']['status'] == 'alive'
    assert result['warnings'] == ["gossip member 'nomad-2.global' is still alive after the force-leave: a running agent "
                                  "refutes it"]


def test_a_client_only_agent_is_explained(server, run_module):
    FakeAgent(server, server_role=False)
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node='nomad-2.global'))
    assert result['failed'] and result['status'] == 501
    assert result['msg'] == ("forcing gossip member 'nomad-2.global' to leave failed: 501 Invalid method from %s "
                             "(only a server agent can do this: point nomad_addr at a Nomad server)" % server.url())


def test_an_empty_name_fails_before_any_request(server, run_module):
    FakeAgent(server)
    result = run_module(nomad_agent_force_leave, dict(nomad_addr=server.url(), node=' '))
    assert result['failed'] and result['msg'] == 'node must name a gossip member, such as nomad-3.global'
    assert server.requests == []
