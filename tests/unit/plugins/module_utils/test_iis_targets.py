# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_iis_targets: where a task's site answers according to the allocation and node the target keeps
(no second read), choosing the IIS task, resolve_targets with and without a Management API."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import AllocationLookupError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import fill_path
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import (
    Target,
    choose_task,
    resolve_targets,
)

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
NODE_ID = '36d23ca3-d71c-4126-8f16-b1dbda29b0c4'


# -- task_site ----------------------------------------------------------------------------------

class FakeNomad:
    """get_json over a dict of path -> answer; records the paths asked for."""

    namespace = 'default'

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def get_json(self, path, *path_args, action, params=None):
        path = fill_path(path, path_args)
        self.asked.append(path)
        return self.answers[path]


def alloc(bindings, shared_ports=None, networks=None, task_networks=None):
    return {
        'ID': ALLOC_ID, 'NodeID': NODE_ID, 'TaskGroup': 'web', 'JobID': 'web',
        'Job': {'TaskGroups': [{'Name': 'web', 'Tasks': [
            {'Name': 'app', 'Driver': 'iis', 'Config': {'application': [{'path': 'local'}], 'binding': bindings}}]}]},
        'AllocatedResources': {
            'Shared': {'Ports': shared_ports, 'Networks': networks},
            'Tasks': {'app': {'Networks': task_networks}},
        },
    }


def site_of(allocation, node=None):
    target = Target(allocation, 'app', dict(node or {}, ID=NODE_ID), 'http://10.0.0.5:5004')
    return target.site(), target


def test_the_site_is_the_shared_port_of_the_http_binding():
    site, dummy = site_of(alloc([{'type': 'https', 'port': 'tls'}, {'type': 'http', 'port': 'web'}],
                                shared_ports=[{'Label': 'tls', 'Value': 443, 'HostIP': '10.0.0.5'},
                                              {'Label': 'web', 'Value': 23456, 'HostIP': '10.0.0.5'}]))
    assert site.url('/health') == 'http://10.0.0.5:23456/health'
    assert site.named_url('/') is None and site.host_header is None


def test_a_port_bound_to_every_address_is_reached_at_the_node_address():
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}],
                                shared_ports=[{'Label': 'http', 'Value': 8080, 'HostIP': '0.0.0.0'}]),
                          node={'Name': 'win-node-1', 'HTTPAddr': '10.0.0.7:4646'})
    assert site.url() == 'http://10.0.0.7:8080/'


def test_older_allocations_name_the_port_in_their_networks():
    network = {'IP': '10.0.0.8', 'DynamicPorts': [{'Label': 'http', 'Value': 31000}], 'ReservedPorts': None}
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}], networks=[network]))
    assert site.url() == 'http://10.0.0.8:31000/'
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}], task_networks=[network]))
    assert site.url() == 'http://10.0.0.8:31000/'


def test_a_static_port_with_a_host_name():
    site, dummy = site_of(alloc([{'type': 'http', 'port': '8081', 'hostname': 'shop.example.com'}]),
                          node={'Name': 'win-node-1', 'HTTPAddr': '10.0.0.7:4646'})
    assert site.url('/') == 'http://10.0.0.7:8081/'
    assert site.named_url('/x') == 'http://shop.example.com:8081/x'
    assert site.host_header == 'shop.example.com:8081'


def test_a_wildcard_host_name_is_not_sent():
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http', 'hostname': '*.example.com'}],
                                shared_ports=[{'Label': 'http', 'Value': 80, 'HostIP': '10.0.0.5'}]))
    assert site.named_url('/') is None and site.host_header is None


def test_ipv6_host_addresses_are_bracketed():
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}],
                                shared_ports=[{'Label': 'http', 'Value': 80, 'HostIP': 'fd00::5'}]))
    assert site.url('/') == 'http://[fd00::5]:80/'


def test_a_site_without_an_http_binding():
    with pytest.raises(OptionError, match="has no http binding"):
        site_of(alloc([{'type': 'https', 'port': 'tls'}]))


def test_a_binding_without_an_allocated_port():
    with pytest.raises(OptionError, match="Nomad allocated no port for the label 'web'"):
        site_of(alloc([{'type': 'http', 'port': 'web'}], shared_ports=[]))


# -- resolve_targets(require_api=False) --------------------------------------------------------

def test_local_captures_do_without_a_management_api():
    allocation = alloc([{'type': 'http', 'port': 'http'}])
    allocation['JobID'] = 'web'
    node = {'ID': NODE_ID, 'Name': 'win-node-9', 'HTTPAddr': '10.0.0.9:4646', 'Attributes': {}}
    nomad = FakeNomad({
        '/v1/job/web/allocations': [{'ID': ALLOC_ID, 'ClientStatus': 'running', 'DesiredStatus': 'run',
                                     'TaskGroup': 'web', 'NodeName': 'win-node-9', 'NodeID': NODE_ID}],
        '/v1/allocation/%s' % ALLOC_ID: allocation,
        '/v1/node/%s' % NODE_ID: node,
    })
    params = dict(job='web', alloc_id=None, task=None, task_group=None, node=None, api_url=None)
    with pytest.raises(OptionError, match='does not advertise a Management API'):
        resolve_targets(nomad, params)
    targets = resolve_targets(nomad, params, require_api=False)
    assert [(t.alloc_id, t.task, t.api_url, t.node_name) for t in targets] == [(ALLOC_ID, 'app', None, 'win-node-9')]
    assert nomad.asked == ['/v1/job/web/allocations', '/v1/allocation/%s' % ALLOC_ID, '/v1/node/%s' % NODE_ID] * 2
    assert targets[0].alloc is allocation and targets[0].node is node


def test_the_node_filter_follows_the_one_node_rule():
    allocation = alloc([{'type': 'http', 'port': 'http'}])
    node = {'ID': NODE_ID, 'Name': 'win-node-9', 'HTTPAddr': '10.0.0.9:4646', 'Attributes': {}}
    nomad = FakeNomad({
        '/v1/job/web/allocations': [{'ID': ALLOC_ID, 'ClientStatus': 'running', 'DesiredStatus': 'run',
                                     'TaskGroup': 'web', 'NodeName': 'win-node-9', 'NodeID': NODE_ID}],
        '/v1/nodes': [{'ID': NODE_ID, 'Name': 'win-node-9'}, {'ID': '11112222-0000-4000-8000-000000000001',
                                                              'Name': 'win-node-1'}],
        '/v1/allocation/%s' % ALLOC_ID: allocation,
        '/v1/node/%s' % NODE_ID: node,
    })
    params = dict(job='web', alloc_id=None, task=None, task_group=None, api_url='http://x:5004')
    for value in ('win-node-9', NODE_ID, NODE_ID[:6]):
        assert [t.alloc_id for t in resolve_targets(nomad, dict(params, node=value))] == [ALLOC_ID]
    with pytest.raises(AllocationLookupError, match="job 'web' has no running allocation and node 'win-node-1'"):
        resolve_targets(nomad, dict(params, node='win-node-1'))
    with pytest.raises(AllocationLookupError, match="and node 'win-node-7' .*: no node is named 'win-node-7'"):
        resolve_targets(nomad, dict(params, node='win-node-7'))


def test_several_allocation_ids_in_their_order_each_once():
    other_id = '11112222-0000-4000-8000-0000000000ab'
    first, second = alloc([]), dict(alloc([]), ID=other_id)
    node = {'ID': NODE_ID, 'Name': 'win-node-9', 'HTTPAddr': '10.0.0.9:4646', 'Attributes': {}}
    nomad = FakeNomad({
        '/v1/allocations': [{'ID': ALLOC_ID, 'NodeID': NODE_ID}, {'ID': other_id, 'NodeID': NODE_ID}],
        '/v1/allocation/%s' % ALLOC_ID: first,
        '/v1/allocation/%s' % other_id: second,
        '/v1/node/%s' % NODE_ID: node,
    })
    params = dict(job=None, task=None, task_group=None, node=None, api_url='http://x:5004')
    targets = resolve_targets(nomad, dict(params, alloc_id=[other_id[:6], ALLOC_ID[:4], other_id]))
    assert [t.alloc_id for t in targets] == [other_id, ALLOC_ID]
    assert nomad.asked.count('/v1/node/%s' % NODE_ID) == 1
    with pytest.raises(AllocationLookupError, match="no allocation ID starts with 'ffff'"):
        resolve_targets(nomad, dict(params, alloc_id=[ALLOC_ID, 'ffff']))
    with pytest.raises(OptionError, match="alloc_id is an empty list: name at least one allocation"):
        resolve_targets(nomad, dict(params, alloc_id=[]))


def test_choose_task():
    allocation = alloc([])
    allocation['Job']['TaskGroups'][0]['Tasks'].append({'Name': 'logs', 'Driver': 'docker'})
    assert choose_task(allocation, None) == 'app'
    assert choose_task(allocation, 'app') == 'app'
    with pytest.raises(AllocationLookupError, match='has no task .logs. with driver "iis" \\(its IIS tasks: app\\)'):
        choose_task(allocation, 'logs')
    allocation['Job']['TaskGroups'][0]['Tasks'].append({'Name': 'api', 'Driver': 'iis'})
    with pytest.raises(OptionError, match='has several IIS tasks \\(app, api\\): set task'):
        choose_task(allocation, None)
