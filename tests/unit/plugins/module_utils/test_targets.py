# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Allocation filters, ports, node lookups (each node read once) and the Management API URL."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._targets import (
    NodeDirectory,
    NodeLookupError,
    allocation_ports,
    filter_allocations,
    job_allocations,
    management_api_url,
)

NODE_1 = '2d2b8b75-cf4b-418a-9757-5d911622abc0'
NODE_2 = '2d2c0000-0000-4000-8000-000000000002'
NODE_3 = 'f716a23f-a785-4015-8288-a9164b3e7b74'


class FakeClient:
    namespace = 'default'

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get_json(self, path, action, params=None):
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
    # Only the driver's own attributes (a node stub's Drivers block) are enough.
    ({'HTTPAddr': '10.0.0.5:4646',
      'Drivers': {'iis': {'Attributes': {'driver.iis.management_api_enabled': 'true', 'driver.iis.management_api_port': '5010'}}}},
     'http://10.0.0.5:5010'),
])
def test_management_api_url(found, url):
    assert management_api_url(found) == url


def test_allocation_ports_from_shared_ports():
    alloc = {'AllocatedResources': {'Shared': {
        'Ports': [{'Label': 'http', 'Value': 24780, 'HostIP': '10.0.0.5'},
                  {'Label': 'admin', 'Value': 24781, 'HostIP': 'fe80::1'}],
        'Networks': [{'IP': '10.0.0.5', 'DynamicPorts': [{'Label': 'http', 'Value': 1}]}]}}}
    assert allocation_ports(alloc) == {'http': '10.0.0.5:24780', 'admin': '[fe80::1]:24781'}


def test_allocation_ports_from_task_networks():
    alloc = {'AllocatedResources': {'Shared': {'Ports': None, 'Networks': None}, 'Tasks': {
        'app': {'Networks': [{'IP': '10.0.0.6', 'ReservedPorts': [{'Label': 'https', 'Value': 443}],
                              'DynamicPorts': [{'Label': 'http', 'Value': 25000}]}]},
        'sidecar': None}}}
    assert allocation_ports(alloc) == {'https': '10.0.0.6:443', 'http': '10.0.0.6:25000'}


def test_allocation_ports_without_resources():
    assert allocation_ports({'ID': 'x'}) == {}


def test_filter_allocations():
    stubs = [
        {'ID': 'a', 'JobID': 'web', 'TaskGroup': 'web', 'NodeID': NODE_1, 'ClientStatus': 'running'},
        {'ID': 'b', 'JobID': 'web', 'TaskGroup': 'web', 'NodeID': NODE_3, 'ClientStatus': 'complete'},
        {'ID': 'c', 'JobID': 'batch', 'TaskGroup': 'run', 'NodeID': NODE_1, 'ClientStatus': 'running'},
    ]

    def ids(found):
        return [s['ID'] for s in found]

    assert ids(filter_allocations(stubs)) == ['a', 'b', 'c']
    assert ids(filter_allocations(stubs, job='web')) == ['a', 'b']
    assert ids(filter_allocations(stubs, task_group='run')) == ['c']
    assert ids(filter_allocations(stubs, node_ids={NODE_1})) == ['a', 'c']
    assert ids(filter_allocations(stubs, statuses={'running'}, job='web')) == ['a']
    assert ids(filter_allocations(stubs, statuses=set())) == []


def test_job_allocations_quotes_the_job_and_sends_the_namespace():
    client = FakeClient({'/v1/job/a%2Fb/allocations': None})
    assert job_allocations(client, 'a/b', 'apps') == []
    assert client.calls == [('/v1/job/a%2Fb/allocations', {'namespace': 'apps'})]


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
