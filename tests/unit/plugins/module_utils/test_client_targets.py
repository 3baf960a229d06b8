# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The node a nomad_client_* module acts on: node_id by name, ID or prefix, one node only; the agent's own node."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._client_targets import (
    allocation_summary,
    choose_node,
    is_terminal,
    local_node,
    node_target,
    resolve_node,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.module_utils._targets import NodeLookupError
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

N1 = {'ID': '4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d', 'Name': 'win-node-1', 'Status': 'ready'}
N2 = {'ID': '4b3c9999-0000-4000-8000-000000000002', 'Name': 'win-node-2', 'Status': 'ready'}
OLD2 = {'ID': '77777777-0000-4000-8000-000000000003', 'Name': 'win-node-2', 'Status': 'down'}


def nomad_with(server, nodes, agent=None):
    def route(request):
        if request.path_only == '/v1/nodes':
            return Reply(200, nodes)
        if request.path_only == '/v1/agent/self':
            return Reply(200, agent or {})
        return Reply(404, b'')
    server.route = route
    return NomadClient(addr=server.url(), retries=0)


@pytest.mark.parametrize('node_id, expected', [
    ('win-node-1', N1), (N1['ID'], N1), (N1['ID'].upper(), N1), ('4b3c2', N1), ('4b3c9', N2), ('win-node-2', N2),
])
def test_resolve_by_name_id_or_prefix(server, node_id, expected):
    assert resolve_node(nomad_with(server, [N1, N2, OLD2]), node_id) == expected


def test_ambiguous_prefix_lists_candidates(server):
    with pytest.raises(NodeLookupError, match="node '4b3c' is ambiguous") as exc:
        resolve_node(nomad_with(server, [N1, N2]), '4b3c')
    assert N1['ID'] in str(exc.value) and N2['ID'] in str(exc.value)


def test_unknown_node_names_the_nodes(server):
    with pytest.raises(NodeLookupError, match="no node is named 'nope'") as exc:
        resolve_node(nomad_with(server, [N1, N2]), 'nope')
    assert 'win-node-1' in str(exc.value)


def test_same_name_prefers_the_one_node_that_is_not_down():
    assert choose_node([OLD2, N2], 'win-node-2') == N2


def test_same_name_on_two_live_nodes_is_ambiguous():
    twin = dict(N2, ID='88888888-0000-4000-8000-000000000004')
    with pytest.raises(NodeLookupError, match="node_id 'win-node-2' is ambiguous: 2 nodes have that name"):
        choose_node([N2, twin], 'win-node-2')


@pytest.mark.parametrize('node_id', ['', '  '])
def test_empty_node_id_is_refused_before_any_request(server, node_id):
    nomad = nomad_with(server, [N1])
    with pytest.raises(OptionError, match='node_id must not be empty'):
        resolve_node(nomad, node_id)
    assert server.requests == []


def test_no_node_id_means_the_agents_node(server):
    nomad = nomad_with(server, [N1])
    target = node_target(nomad, None)
    assert target.params == {} and target.result() == dict(node_id=None, node_name=None)
    assert str(target) == 'the node of the agent at %s' % server.url()
    assert server.requests == []


def test_node_target_sends_the_full_id(server):
    target = node_target(nomad_with(server, [N1, N2]), 'win-node-2')
    assert target.params == dict(node_id=N2['ID'])
    assert str(target) == "node 'win-node-2' (%s)" % N2['ID']


def test_local_node_from_agent_self(server):
    nomad = nomad_with(server, [N1, N2], agent={'stats': {'client': {'node_id': N2['ID']}}})
    assert local_node(nomad).result() == dict(node_id=N2['ID'], node_name='win-node-2')


def test_local_node_of_a_server_only_agent(server):
    nomad = nomad_with(server, [N1], agent={'stats': {'nomad': {'server': 'true'}}})
    with pytest.raises(NodeLookupError, match='runs no Nomad client'):
        local_node(nomad)


@pytest.mark.parametrize('status, terminal', [
    ('pending', False), ('running', False), ('unknown', False), ('complete', True), ('failed', True), ('lost', True),
])
def test_is_terminal(status, terminal):
    assert is_terminal({'ClientStatus': status}) is terminal


def test_allocation_summary():
    stub = {'ID': 'a', 'JobID': 'batch', 'Namespace': 'default', 'TaskGroup': 'run', 'NodeID': 'n',
            'NodeName': 'win-node-1', 'ClientStatus': 'complete', 'TaskStates': {}}
    assert allocation_summary(stub) == dict(alloc_id='a', job='batch', namespace='default', task_group='run',
                                            node_id='n', node_name='win-node-1', client_status='complete')
