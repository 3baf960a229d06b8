# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_nomad_nodes: the one node rule (name, ID or unique prefix), each node read once, the node a client
endpoint acts on, and the Management API URL a node advertises."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import fill_path
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import (
    NodeDirectory,
    NodeLookupError,
    list_nodes,
    local_node,
    management_api_url,
    node_target,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

NODE_1 = '2d2b8b75-cf4b-418a-9757-5d911622abc0'
NODE_2 = '2d2c0000-0000-4000-8000-000000000002'
NODE_3 = 'f716a23f-a785-4015-8288-a9164b3e7b74'


class FakeClient:
    namespace = 'default'

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get_json(self, path, *path_args, action, params=None):
        path = fill_path(path, path_args)
        self.calls.append((path, params))
        return self.answers[path]


def node(http_addr='10.0.0.5:4646', enabled='true', port='5004', **extra):
    attributes = {'driver.iis.management_api_enabled': enabled, 'driver.iis.management_api_port': port}
    return dict({'ID': NODE_1, 'Name': 'win-node-1', 'HTTPAddr': http_addr, 'Attributes': attributes}, **extra)


@pytest.mark.parametrize('found, url', [
    (node(), 'http://10.0.0.5:5004'),
    (node(http_addr='[fe80::1]:4646'), 'http://[fe80::1]:5004'),
    (node(http_addr='win-node-1.example.com:4646'), 'http://win-node-1.example.com:5004'),
    (node(enabled='false'), None),
    (node(enabled='True'), 'http://10.0.0.5:5004'),
    (node(port='0'), None),
    (node(port='not a port'), None),
    (node(http_addr='', Attributes={'driver.iis.management_api_enabled': 'true', 'driver.iis.management_api_port': '5004',
                                    'unique.network.ip-address': '10.0.0.9'}), 'http://10.0.0.9:5004'),
    ({'HTTPAddr': '10.0.0.5:4646', 'Attributes': {}}, None),
    # A list stub has no HTTPAddr but its host as Address, and the driver's attributes.
    ({'Address': '10.0.0.7', 'Drivers': {'iis': {'Attributes': {'driver.iis.management_api_enabled': 'true',
                                                                'driver.iis.management_api_port': '5004'}}}},
     'http://10.0.0.7:5004'),
    # Only the driver's own attributes (a node stub's Drivers block) are enough.
    ({'HTTPAddr': '10.0.0.5:4646',
      'Drivers': {'iis': {'Attributes': {'driver.iis.management_api_enabled': 'true', 'driver.iis.management_api_port': '5010'}}}},
     'http://10.0.0.5:5010'),
])
def test_management_api_url(found, url):
    assert management_api_url(found) == url


@pytest.fixture
def directory():
    stubs = [{'ID': NODE_1, 'Name': 'win-node-1'}, {'ID': NODE_2, 'Name': 'win-node-2'},
             {'ID': NODE_3, 'Name': NODE_1[:4]}]
    return NodeDirectory(FakeClient({'/v1/nodes': stubs, '/v1/node/' + NODE_1: node()}))


@pytest.mark.parametrize('wanted, ids', [
    ('win-node-1', [NODE_1]),
    (NODE_2, [NODE_2]),
    (NODE_2.upper(), [NODE_2]),
    ('2d2c', [NODE_2]),
    ('f', [NODE_3]),
    # A name wins over an ID prefix.
    ('2d2b', [NODE_3]),
])
def test_resolve_node(directory, wanted, ids):
    assert [stub['ID'] for stub in directory.resolve(wanted)] == ids


def test_list_nodes_with_a_filter(server):
    client = NomadClient(addr=server.url(), retries=0)
    server.reply(Reply(200, []), Reply(200, [{'ID': NODE_1}]))
    assert list_nodes(client) == []
    assert list_nodes(client, '"iis" in Drivers') == [{'ID': NODE_1}]
    assert [r.query for r in server.requests] == ['namespace=default', 'namespace=default&filter=%22iis%22+in+Drivers']


def test_list_nodes_names_the_filter_when_nomad_refuses_it(server):
    server.reply(Reply(400, b'failed to read result page: error finding value in datum: /Bogus at part 0'))
    with pytest.raises(ApiError) as caught:
        list_nodes(NomadClient(addr=server.url(), retries=0), 'Bogus == 1')
    assert str(caught.value).startswith("listing the nodes matching filter 'Bogus == 1' failed: 400 failed to read result page: ")
    assert 'check filter' in str(caught.value)


def test_resolve_lists_the_nodes_once(directory):
    directory.resolve('win-node-1')
    directory.resolve('win-node-2')
    assert [call[0] for call in directory.client.calls] == ['/v1/nodes']


def test_unknown_node(directory):
    with pytest.raises(NodeLookupError, match=r"no node is named 'win-node-9' .*\(nodes: 2d2b, win-node-1, win-node-2\)"):
        directory.resolve('win-node-9')


def test_ambiguous_node_prefix(directory):
    with pytest.raises(NodeLookupError, match=r"node '2d' is ambiguous: .* 2 nodes: %s \(win-node-1\); %s \(win-node-2\)"
                       % (NODE_1, NODE_2)):
        directory.resolve('2d')


def test_each_node_is_read_once(directory):
    assert directory.get(NODE_1)['Name'] == 'win-node-1'
    assert directory.get(NODE_1)['Name'] == 'win-node-1'
    assert directory.client.calls == [('/v1/node/' + NODE_1, None)]


# -- One node (resolve_one), the node of a client endpoint ----------------------------------------

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


def resolve_node(nomad, node_id):
    return NodeDirectory(nomad).resolve_one(node_id, 'node_id')


def choose_node(stubs, node_id):
    directory = NodeDirectory(None)
    directory._stubs = stubs  # pylint: disable=protected-access
    return directory.resolve_one(node_id, 'node_id')


def test_ambiguous_prefix_lists_candidates(server):
    with pytest.raises(NodeLookupError, match="node_id '4b3c' is ambiguous") as exc:
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
