# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_node_info against a scripted Nomad: every filter, the filter expression passed through to
Nomad (and its error), the shape of each node."""

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.modules import nomad_node_info
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_node_fakes import (
    NODE_1,
    NODE_2,
    NODE_3,
    FakeNomadNodes,
)


def names(result):
    return [node['name'] for node in result['nodes']]


def test_lists_every_node_sorted_with_details(server, run_module):
    FakeNomadNodes(server)
    result = run_module(nomad_node_info, dict(nomad_addr=server.url()))
    assert result['changed'] is False
    assert names(result) == ['linux-1', 'win-node-1', 'win-node-2']
    node = result['nodes'][1]
    assert node['id'] == NODE_1 and node['eligibility'] == 'eligible' and node['eligible'] is True
    assert node['drain'] is False and node['drain_strategy'] is None and node['last_drain'] is None
    assert node['drivers']['iis'] == {'detected': True, 'healthy': True, 'health_description': 'Healthy',
                                      'attributes': {'driver.iis.version': '0.20.1',
                                                     'driver.iis.management_api_enabled': 'true',
                                                     'driver.iis.management_api_port': '5004'},
                                      'update_time': '2026-05-01T10:00:00Z'}
    assert node['management_api_url'] == 'http://10.0.0.1:5004'
    assert node['meta'] == {'rack': 'r1'} and node['version'] == '1.10.5'
    assert result['nodes'][0]['management_api_url'] is None


def test_filters_combine(server, run_module):
    FakeNomadNodes(server)

    def run(**args):
        return names(run_module(nomad_node_info, dict(nomad_addr=server.url(), **args)))

    assert run(datacenter='dc2') == ['win-node-2']
    assert run(node_class='linux') == ['linux-1']
    assert run(driver='iis') == ['win-node-1', 'win-node-2']
    assert run(driver='iis', datacenter='dc1') == ['win-node-1']
    assert run(status=['down']) == []
    assert run(node_pool='default', status=['ready']) == ['linux-1', 'win-node-1', 'win-node-2']
    assert run(node='win-node-2') == ['win-node-2']
    assert run(node=NODE_3[:6]) == ['linux-1']


def test_an_ambiguous_prefix_or_unknown_name_fails(server, run_module):
    FakeNomadNodes(server)
    result = run_module(nomad_node_info, dict(nomad_addr=server.url(), node='7c'))
    assert result['failed'] and 'ambiguous' in result['msg']
    result = run_module(nomad_node_info, dict(nomad_addr=server.url(), node='win-node-9'))
    assert result['failed'] and "no node is named 'win-node-9'" in result['msg']


def test_the_filter_expression_goes_to_nomad(server, run_module):
    fake = FakeNomadNodes(server)
    fake.filter_result = {NODE_2}
    expression = 'Meta.rack == "r2"'
    result = run_module(nomad_node_info, dict(nomad_addr=server.url(), filter=expression, driver='iis'))
    assert names(result) == ['win-node-2']
    assert fake.list_queries[0]['filter'] == [expression]


def test_a_bad_filter_fails_with_nomads_message(server, run_module):
    fake = FakeNomadNodes(server)
    fake.filter_result = None
    result = run_module(nomad_node_info, dict(nomad_addr=server.url(), filter='Meta.rack ==='))
    assert result['failed'] and result['status'] == 400
    assert result['msg'].startswith("listing the nodes that match the filter 'Meta.rack ===' failed: 400 "
                                    "failed to read filter expression")
