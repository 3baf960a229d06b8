# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The nomad inventory plugin, loaded as ansible loads it (a real config file, the inventory
manager and the `auto` plugin) against a fake Nomad: hosts, variables, groups, constructed options,
the cache, environment variables, errors, and Nomad strings that must never be rendered."""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest
import yaml

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

from ansible_collections.nomad_iis.management.plugins.inventory import nomad as plugin_module
from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import CONNECTION_OPTIONS, NOMAD_OPTIONS
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 renders every string
    def trust_as_template(value):
        return value

NODE_1 = '2d2b8b75-cf4b-418a-9757-5d911622abc0'
NODE_1_OLD = '0a0a0a0a-0000-4000-8000-000000000001'
NODE_2 = '5f5f5f5f-0000-4000-8000-000000000002'
NODE_3 = '7e7e7e7e-0000-4000-8000-000000000003'
ALLOC_1 = 'a1a1a1a1-0000-4000-8000-000000000001'
ALLOC_2 = 'a2a2a2a2-0000-4000-8000-000000000002'
ALLOC_3 = 'a3a3a3a3-0000-4000-8000-000000000003'
ALLOC_CANARY = 'a4a4a4a4-0000-4000-8000-000000000004'
ALLOC_DONE = 'a5a5a5a5-0000-4000-8000-000000000005'
TOKEN = 'f00dfeed-1234-4abc-8def-0123456789ab'


def iis_driver(healthy=True, detected=True, port='5004'):
    attributes = {'driver.iis.version': '0.20.1', 'driver.iis.management_api_enabled': 'true',
                  'driver.iis.management_api_port': port} if detected else {}
    return {'Attributes': attributes, 'Detected': detected, 'Healthy': healthy,
            'HealthDescription': 'Healthy' if healthy else 'Unhealthy', 'UpdateTime': '2026-01-01T00:00:00Z'}


def node_stub(node_id, name, address='10.0.0.1', status='ready', create_index=10, **fields):
    stub = {'ID': node_id, 'Name': name, 'Address': address, 'Datacenter': 'dc1', 'NodeClass': '',
            'NodePool': 'default', 'Version': '1.10.5', 'Drain': False, 'SchedulingEligibility': 'eligible',
            'Status': status, 'StatusDescription': '', 'Drivers': {'iis': iis_driver()}, 'HostVolumes': None,
            'LastDrain': None, 'CreateIndex': create_index, 'ModifyIndex': create_index}
    stub.update(fields)
    return stub


def alloc_stub(alloc_id, job, group, index, node_id, node_name, namespace='default', client='running',
               desired='run', tasks=('app',), create_index=100):
    return {'ID': alloc_id, 'Name': '%s.%s[%d]' % (job, group, index), 'Namespace': namespace, 'NodeID': node_id,
            'NodeName': node_name, 'JobID': job, 'JobType': 'service', 'JobVersion': 3, 'TaskGroup': group,
            'DesiredStatus': desired, 'ClientStatus': client, 'CreateIndex': create_index,
            'TaskStates': dict((task, {'State': 'running', 'Events': [{'Type': 'Started'}]}) for task in tasks)}


def job(job_id, groups):
    return {'ID': job_id, 'TaskGroups': [{'Name': name, 'Tasks': [{'Name': task, 'Driver': driver} for task, driver in tasks]}
                                         for name, tasks in groups.items()]}


class FakeNomad:
    """Answers /v1/nodes, /v1/node/:id, /v1/allocations and /v1/job/:id from its tables; `status`
    answers every request with that status and `body` instead."""

    def __init__(self, server):
        self.server = server
        self.nodes = []
        self.details = {}
        self.allocs = []
        self.jobs = {}
        self.failure = None
        server.route = self.route

    def route(self, request):
        if self.failure:
            return Reply(self.failure[0], self.failure[1].encode())
        path = urllib.parse.unquote(request.path_only)
        if path == '/v1/nodes':
            return Reply(200, self.nodes)
        if path.startswith('/v1/node/'):
            found = self.details.get(path[len('/v1/node/'):])
            return Reply(200, found) if found else Reply(404, b'node not found')
        if path == '/v1/allocations':
            namespace = self.query(request).get('namespace', 'default')
            return Reply(200, [a for a in self.allocs if namespace == '*' or a['Namespace'] == namespace])
        if path.startswith('/v1/job/'):
            found = self.jobs.get(path[len('/v1/job/'):])
            return Reply(200, found) if found else Reply(404, b'job not found')
        return Reply(404, b'')

    @staticmethod
    def query(request):
        return dict(urllib.parse.parse_qsl(request.query))

    def paths(self):
        return [urllib.parse.unquote(r.path_only) for r in self.server.requests]


@pytest.fixture
def nomad(server):
    fake = FakeNomad(server)
    fake.nodes = [
        node_stub(NODE_1_OLD, 'win-node-1', address='10.0.0.9', status='down', create_index=5),
        node_stub(NODE_1, 'win-node-1', address='10.0.0.1', create_index=20, NodePool='windows', NodeClass='web'),
        node_stub(NODE_2, 'win-node-2', address='10.0.0.2', Datacenter='dc2',
                  Drivers={'iis': iis_driver(healthy=False), 'raw_exec': {'Attributes': {}, 'Detected': True, 'Healthy': True}}),
        node_stub(NODE_3, 'linux-1', address='10.0.0.3', Drain=True, SchedulingEligibility='ineligible',
                  Drivers={'iis': iis_driver(detected=False, healthy=False), 'docker': {'Detected': True, 'Healthy': True}}),
    ]
    fake.details = dict((stub['ID'], dict(stub, HTTPAddr=stub['Address'] + ':4646', Meta={'rack': 'r%d' % i},
                                          Attributes={'kernel.name': 'windows'}))
                        for i, stub in enumerate(fake.nodes))
    fake.allocs = [
        alloc_stub(ALLOC_1, 'web', 'web', 0, NODE_1, 'win-node-1'),
        alloc_stub(ALLOC_2, 'web', 'web', 1, NODE_2, 'win-node-2'),
        alloc_stub(ALLOC_3, 'shop', 'frontend', 0, NODE_1, 'win-node-1', tasks=('site', 'logship')),
        # a canary of a deployment has the name of the allocation it replaces
        alloc_stub(ALLOC_CANARY, 'web', 'web', 1, NODE_1, 'win-node-1', create_index=200),
        alloc_stub(ALLOC_DONE, 'web', 'web', 2, NODE_1, 'win-node-1', client='complete', desired='stop'),
        alloc_stub('a6a6a6a6-0000-4000-8000-000000000006', 'reports', 'reports', 0, NODE_2, 'win-node-2', namespace='apps'),
    ]
    fake.jobs = {'web': job('web', {'web': [('app', 'iis')]}),
                 'shop': job('shop', {'frontend': [('site', 'iis'), ('logship', 'raw_exec')]}),
                 'reports': job('reports', {'reports': [('app', 'iis')]})}
    return fake


def write_config(tmp_path, server, name='test.nomad.yml', **options):
    config = dict(plugin='nomad_iis.management.nomad', nomad_addr=server.url() if server else None, retries=0, timeout=5)
    config.update(options)
    config = dict((key, value) for key, value in config.items() if value is not None)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config), encoding='utf-8')
    return str(path)


def load(path):
    """The inventory as ``ansible-inventory -i path`` builds it (through the auto plugin)."""
    loader = DataLoader()
    return InventoryManager(loader=loader, sources=[path]), loader


def parse(path, cache=False):
    """The plugin's parse() alone, so that its errors come out as exceptions."""
    plugin = inventory_loader.get('nomad_iis.management.nomad')
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), path, cache=cache)
    return inventory


def hostvars(inventory, name):
    return inventory.get_host(name).get_vars()


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts()) if group in inventory.groups else []


def render(inventory, loader, host, template):
    variables = VariableManager(loader=loader, inventory=inventory).get_vars(host=inventory.get_host(host), include_hostvars=True)
    return Templar(loader=loader, variables=variables).template(trust_as_template(template))


# -- the file --------------------------------------------------------------------------------

@pytest.mark.parametrize('name, accepted', [
    ('prod.nomad.yml', True), ('nomad.yaml', True), ('cluster-nomad.yml', True),
    ('prod.yml', False), ('nomad.json', False), ('prod.nomad.yml.bak', False),
])
def test_verify_file(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text('plugin: nomad_iis.management.nomad\n')
    assert inventory_loader.get('nomad_iis.management.nomad').verify_file(str(path)) is accepted


def test_a_file_for_another_plugin_is_not_taken(tmp_path, server):
    path = tmp_path / 'other.nomad.yml'
    path.write_text('plugin: community.general.proxmox\n')
    with pytest.raises(AnsibleParserError, match='Incorrect plugin name'):
        parse(str(path))
    assert server.requests == []


# -- node hosts ------------------------------------------------------------------------------

def test_node_hosts_from_one_request(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server))
    assert sorted(inventory.hosts) == ['linux-1', 'win-node-1', 'win-node-2']
    assert nomad.paths() == ['/v1/nodes']
    one = hostvars(inventory, 'win-node-1')
    assert dict((k, one[k]) for k in one if k.startswith(('nomad_', 'ansible_'))) == {
        'ansible_host': '10.0.0.1',
        'nomad_node_id': NODE_1,
        'nomad_node_name': 'win-node-1',
        'nomad_address': '10.0.0.1',
        'nomad_datacenter': 'dc1',
        'nomad_node_class': 'web',
        'nomad_node_pool': 'windows',
        'nomad_status': 'ready',
        'nomad_status_description': '',
        'nomad_eligibility': 'eligible',
        'nomad_drain': False,
        'nomad_version': '1.10.5',
        'nomad_drivers': {'iis': {'detected': True, 'healthy': True, 'health_description': 'Healthy'}},
        'nomad_iis_driver_version': '0.20.1',
        'nomad_iis_api_url': 'http://10.0.0.1:5004',
    }
    assert 'nomad_meta' not in one
    three = hostvars(inventory, 'linux-1')
    assert (three['nomad_drain'], three['nomad_eligibility'], three['nomad_iis_api_url']) == (True, 'ineligible', None)


def test_node_groups_and_driver_iis_only_where_detected_and_healthy(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server))
    assert members(inventory, 'driver_iis') == ['win-node-1']
    assert members(inventory, 'driver_raw_exec') == ['win-node-2']
    assert members(inventory, 'driver_docker') == ['linux-1']
    assert members(inventory, 'datacenter_dc1') == ['linux-1', 'win-node-1']
    assert members(inventory, 'datacenter_dc2') == ['win-node-2']
    assert members(inventory, 'node_pool_windows') == ['win-node-1']
    assert members(inventory, 'node_pool_default') == ['linux-1', 'win-node-2']
    assert members(inventory, 'node_class_web') == ['win-node-1']
    assert not [g for g in inventory.groups if g.startswith('node_class_') and g != 'node_class_web']


def test_down_nodes_are_left_out_and_duplicate_names_told_apart(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server))
    assert hostvars(inventory, 'win-node-1')['nomad_node_id'] == NODE_1
    inventory, loader = load(write_config(tmp_path, server, include_down=True))
    old = 'win-node-1-' + NODE_1_OLD[:8]
    assert sorted(inventory.hosts) == ['linux-1', 'win-node-1', old, 'win-node-2']
    assert hostvars(inventory, 'win-node-1')['nomad_node_id'] == NODE_1
    assert (hostvars(inventory, old)['nomad_node_id'], hostvars(inventory, old)['nomad_status']) == (NODE_1_OLD, 'down')
    # its drivers are as it last reported them: no driver group for a down node
    assert old not in members(inventory, 'driver_iis') and old in members(inventory, 'datacenter_dc1')


def test_of_two_live_nodes_with_one_name_the_newest_keeps_it(tmp_path, server, nomad):
    newer = node_stub('9f9f9f9f-0000-4000-8000-000000000009', 'win-node-2', create_index=99, Status='initializing')
    nomad.nodes.append(newer)
    nomad.nodes.append(node_stub('8e8e8e8e-0000-4000-8000-000000000008', 'win-node-2', create_index=98, Status='initializing'))
    inventory, loader = load(write_config(tmp_path, server))
    # the ready one first, then the newest
    assert hostvars(inventory, 'win-node-2')['nomad_node_id'] == NODE_2
    assert hostvars(inventory, 'win-node-2-9f9f9f9f')['nomad_status'] == 'initializing'
    assert 'win-node-2-8e8e8e8e' in inventory.hosts


def test_node_details_add_meta_attributes_and_http_addr(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server, node_details=True))
    one = hostvars(inventory, 'win-node-1')
    assert (one['nomad_meta'], one['nomad_attributes'], one['nomad_http_addr']) == (
        {'rack': 'r1'}, {'kernel.name': 'windows'}, '10.0.0.1:4646')
    assert sorted(nomad.paths()) == sorted(['/v1/nodes'] + ['/v1/node/' + n for n in (NODE_1, NODE_2, NODE_3)])


def test_the_filter_is_sent_to_nomad(tmp_path, server, nomad):
    expression = 'Attributes["kernel.name"] == "windows" and "iis" in Drivers'
    load(write_config(tmp_path, server, filter=expression))
    (request,) = server.requests
    assert FakeNomad.query(request)['filter'] == expression


# -- allocation hosts ------------------------------------------------------------------------

def test_allocation_hosts(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server, host_type='allocation'))
    canary = 'web-web-1-' + ALLOC_CANARY[:8]
    assert sorted(inventory.hosts) == ['shop-frontend-0', 'web-web-0', 'web-web-1', canary]
    web = hostvars(inventory, 'web-web-0')
    assert dict((k, web[k]) for k in web if k.startswith(('nomad_', 'ansible_'))) == {
        'ansible_connection': 'local',
        'nomad_alloc_id': ALLOC_1,
        'nomad_alloc_name': 'web.web[0]',
        'nomad_namespace': 'default',
        'nomad_job': 'web',
        'nomad_job_type': 'service',
        'nomad_job_version': 3,
        'nomad_task_group': 'web',
        'nomad_tasks': ['app'],
        'nomad_iis_tasks': ['app'],
        'nomad_client_status': 'running',
        'nomad_node_id': NODE_1,
        'nomad_node_name': 'win-node-1',
        'nomad_node_address': '10.0.0.1',
        'nomad_iis_api_url': 'http://10.0.0.1:5004',
    }
    assert hostvars(inventory, 'web-web-1')['nomad_alloc_id'] == ALLOC_2
    assert hostvars(inventory, canary)['nomad_alloc_id'] == ALLOC_CANARY
    shop = hostvars(inventory, 'shop-frontend-0')
    assert (shop['nomad_tasks'], shop['nomad_iis_tasks']) == (['logship', 'site'], ['site'])
    assert members(inventory, 'job_web') == ['web-web-0', 'web-web-1', canary]
    assert members(inventory, 'task_group_shop_frontend') == ['shop-frontend-0']
    assert [g.name for g in inventory.groups['job_shop'].child_groups] == ['task_group_shop_frontend']
    # one listing of allocations and of nodes, one read per job
    assert sorted(nomad.paths()) == ['/v1/allocations', '/v1/job/shop', '/v1/job/web', '/v1/nodes']


def test_allocation_names_are_host_patterns(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server, host_type='allocation'))
    for name in inventory.hosts:
        assert [h.name for h in inventory.get_hosts(pattern=name)] == [name]


def test_jobs_namespace_and_a_job_gone_from_nomad(tmp_path, server, nomad):
    del nomad.jobs['reports']
    inventory, loader = load(write_config(tmp_path, server, host_type='allocation', jobs=['reports', 'shop'],
                                          nomad_namespace='*'))
    assert sorted(inventory.hosts) == ['reports-reports-0', 'shop-frontend-0']
    assert FakeNomad.query(server.requests[0])['namespace'] == '*'
    reports = hostvars(inventory, 'reports-reports-0')
    assert (reports['nomad_namespace'], reports['nomad_iis_tasks'], reports['nomad_tasks']) == ('apps', [], ['app'])


def test_allocation_filter_is_sent_to_nomad(tmp_path, server, nomad):
    load(write_config(tmp_path, server, host_type='allocation', filter='NodeName == "win-node-2"'))
    assert FakeNomad.query(server.requests[0])['filter'] == 'NodeName == "win-node-2"'


# -- constructed -----------------------------------------------------------------------------

def test_compose_groups_and_keyed_groups(tmp_path, server, nomad):
    path = write_config(
        tmp_path, server, node_details=True,
        compose={'rack': 'nomad_meta.rack', 'api_port': "nomad_iis_api_url | default('', true) | urlsplit('port')"},
        groups={'upgradable': "'driver_iis' in group_names and not nomad_drain", 'in_rack_1': "rack == 'r1'"},
        keyed_groups=[{'key': 'nomad_meta.rack', 'prefix': 'rack'},
                      {'key': 'nomad_status', 'separator': '', 'prefix': 'status_'},
                      {'key': 'nomad_meta.missing', 'default_value': 'none', 'prefix': 'm'}])
    inventory, loader = load(path)
    assert hostvars(inventory, 'win-node-1')['rack'] == 'r1'
    assert int(hostvars(inventory, 'win-node-1')['api_port']) == 5004  # a string before 2.19's native types
    assert members(inventory, 'in_rack_1') == ['win-node-1']
    assert members(inventory, 'rack_r2') == ['win-node-2']
    assert members(inventory, 'status_ready') == ['linux-1', 'win-node-1', 'win-node-2']
    assert members(inventory, 'upgradable') == ['win-node-1']
    assert members(inventory, 'm_none') == []  # an undefined key is skipped, not defaulted


def test_strict(tmp_path, server, nomad):
    compose = {'broken': 'nomad_meta.rack'}  # no node_details: nomad_meta is undefined
    inventory = parse(write_config(tmp_path, server, compose=compose))
    assert 'broken' not in inventory.get_host('win-node-1').get_vars()
    with pytest.raises(AnsibleError, match='broken'):
        parse(write_config(tmp_path, server, compose=compose, strict=True))
    with pytest.raises(AnsibleError, match='group'):
        parse(write_config(tmp_path, server, keyed_groups=[{'key': 'nomad_meta.rack'}], strict=True))


def test_compose_can_change_the_connection_of_allocation_hosts(tmp_path, server, nomad):
    inventory, loader = load(write_config(tmp_path, server, host_type='allocation',
                                          compose={'ansible_connection': "'ssh'", 'ansible_host': 'nomad_node_address'}))
    web = hostvars(inventory, 'web-web-0')
    assert (web['ansible_connection'], web['ansible_host']) == ('ssh', '10.0.0.1')


# -- cache -----------------------------------------------------------------------------------

def cache_options(tmp_path):
    return dict(cache=True, cache_plugin='ansible.builtin.jsonfile', cache_connection=str(tmp_path / 'cache'),
                cache_timeout=600)


def test_a_cache_hit_sends_no_request(tmp_path, server, nomad):
    path = write_config(tmp_path, server, nomad_token=TOKEN, node_details=True, **cache_options(tmp_path))
    first, loader = load(path)
    sent = len(server.requests)
    assert sent == 4
    nomad.nodes = []  # what Nomad says now does not matter until the cache times out
    second, loader = load(path)
    assert len(server.requests) == sent
    assert sorted(second.hosts) == sorted(first.hosts) == ['linux-1', 'win-node-1', 'win-node-2']
    assert hostvars(second, 'win-node-1')['nomad_meta'] == {'rack': 'r1'}
    cached = ''.join(open(os.path.join(tmp_path / 'cache', name)).read() for name in os.listdir(tmp_path / 'cache'))
    assert 'win-node-1' in cached and TOKEN not in cached


def test_the_cache_is_not_used_for_another_source_nor_when_refreshing(tmp_path, server, nomad):
    load(write_config(tmp_path, server, **cache_options(tmp_path)))
    assert len(server.requests) == 1
    load(write_config(tmp_path, server, filter='Status == "ready"', **cache_options(tmp_path)))
    assert len(server.requests) == 2
    load(write_config(tmp_path, server, filter='Status == "ready"', **cache_options(tmp_path)))
    assert len(server.requests) == 2
    # --flush-cache and meta: refresh_inventory parse with cache=False: read Nomad, write the cache
    parse(write_config(tmp_path, server, filter='Status == "ready"', **cache_options(tmp_path)), cache=False)
    assert len(server.requests) == 3


def test_without_the_cache_option_nothing_is_cached(tmp_path, server, nomad):
    path = write_config(tmp_path, server, cache_connection=str(tmp_path / 'cache'), cache_plugin='ansible.builtin.jsonfile')
    load(path)
    load(path)
    assert len(server.requests) == 2
    assert not os.path.exists(tmp_path / 'cache') or not os.listdir(tmp_path / 'cache')


# -- Nomad's strings are never templates -----------------------------------------------------

def test_meta_holding_a_template_is_never_evaluated(tmp_path, server, nomad):
    marker = tmp_path / 'evaluated'
    probe = "{{ lookup('pipe', 'touch %s') }}" % marker
    nomad.details[NODE_1]['Meta'] = {'probe': probe, probe: 'as a key', 'nested': 'x{%s}' % probe}
    nomad.details[NODE_1]['Attributes'] = {'os.name': '{{ 7 * 7 }}'}
    nomad.nodes[1]['Datacenter'] = '{{ 6 * 7 }}'
    path = write_config(tmp_path, server, node_details=True, compose={'copied': 'nomad_meta.probe'},
                        keyed_groups=[{'key': 'nomad_meta.probe', 'prefix': 'p'}])
    inventory, loader = load(path)
    assert render(inventory, loader, 'win-node-1', '{{ nomad_meta.probe }}') == probe
    assert render(inventory, loader, 'win-node-1', '{{ copied }}') == probe
    assert render(inventory, loader, 'win-node-1', '{{ nomad_meta }}')[probe] == 'as a key'
    assert render(inventory, loader, 'win-node-1', '{{ nomad_meta["nested"] }}') == 'x{%s}' % probe
    assert render(inventory, loader, 'win-node-1', '{{ nomad_attributes["os.name"] }}') == '{{ 7 * 7 }}'
    assert render(inventory, loader, 'win-node-1', '{{ nomad_datacenter }}') == '{{ 6 * 7 }}'
    assert not marker.exists()


# -- connection options and the environment --------------------------------------------------

def test_nomad_environment_variables_as_the_modules_read_them(tmp_path, server, nomad, monkeypatch):
    monkeypatch.setenv('NOMAD_ADDR', server.url())
    monkeypatch.setenv('NOMAD_TOKEN', TOKEN)
    monkeypatch.setenv('NOMAD_REGION', 'eu')
    monkeypatch.setenv('NOMAD_NAMESPACE', '')  # empty: unset, so the default
    inventory, loader = load(write_config(tmp_path, server, nomad_addr=None, host_type='allocation'))
    assert 'web-web-0' in inventory.hosts
    request = server.requests[0]
    assert request.headers['X-Nomad-Token'] == TOKEN
    assert (FakeNomad.query(request)['region'], FakeNomad.query(request)['namespace']) == ('eu', 'default')


def test_the_file_wins_over_the_environment_and_an_empty_token_is_none(tmp_path, server, nomad, monkeypatch):
    monkeypatch.setenv('NOMAD_ADDR', 'http://127.0.0.1:1')
    monkeypatch.setenv('NOMAD_TOKEN', '')
    load(write_config(tmp_path, server))
    assert 'X-Nomad-Token' not in server.requests[0].headers
    monkeypatch.setenv('NOMAD_TOKEN', 'from-the-environment')
    load(write_config(tmp_path, server, nomad_token=TOKEN))
    assert server.requests[1].headers['X-Nomad-Token'] == TOKEN


def test_options_in_the_file_may_be_templates(tmp_path, server, nomad, monkeypatch):
    monkeypatch.setenv('MY_NOMAD', server.url())
    monkeypatch.setenv('MY_TOKEN', TOKEN)
    load(write_config(tmp_path, server, nomad_addr="{{ lookup('ansible.builtin.env', 'MY_NOMAD') }}",
                      nomad_token="{{ lookup('ansible.builtin.env', 'MY_TOKEN') }}"))
    assert server.requests[0].headers['X-Nomad-Token'] == TOKEN


def test_tls_from_the_environment(tmp_path, make_server, pki, monkeypatch):
    server = make_server(pki.server_context(require_client_cert=True))
    fake = FakeNomad(server)
    fake.nodes = [node_stub(NODE_1, 'win-node-1')]
    monkeypatch.setenv('NOMAD_CACERT', pki.ca_cert)
    monkeypatch.setenv('NOMAD_CLIENT_CERT', pki.client_cert)
    monkeypatch.setenv('NOMAD_CLIENT_KEY', pki.client_key)
    monkeypatch.setenv('NOMAD_TLS_SERVER_NAME', 'client.global.nomad')
    inventory, loader = load(write_config(tmp_path, server, nomad_addr=server.url()))
    assert list(inventory.hosts) == ['win-node-1']
    assert server.sni_names[-1] == 'client.global.nomad'
    assert server.peer_certs and server.peer_certs[-1]


@pytest.mark.parametrize('skip_verify, trusted', [('1', True), ('true', True), ('0', False), ('', False), ('maybe', False)])
def test_nomad_skip_verify(tmp_path, make_server, pki, monkeypatch, skip_verify, trusted):
    server = make_server(pki.server_context())
    FakeNomad(server).nodes = [node_stub(NODE_1, 'win-node-1')]
    monkeypatch.setenv('NOMAD_SKIP_VERIFY', skip_verify)
    path = write_config(tmp_path, server, nomad_addr=server.url('localhost'))
    if trusted:
        assert list(parse(path).hosts) == ['win-node-1']
    else:
        with pytest.raises(AnsibleParserError, match='certificate'):
            parse(path)
    # the file's nomad_validate_certs wins
    path = write_config(tmp_path, server, nomad_addr=server.url('localhost'), nomad_validate_certs=False)
    assert list(parse(path).hosts) == ['win-node-1']


# -- errors ----------------------------------------------------------------------------------

def test_nomad_unreachable(tmp_path, unused_port):
    path = write_config(tmp_path, None, nomad_addr='http://127.0.0.1:%d' % unused_port, nomad_token=TOKEN)
    with pytest.raises(AnsibleParserError) as caught:
        parse(path)
    message = str(caught.value)
    assert message.startswith('nomad_iis.management.nomad inventory %s: listing the nodes failed: cannot connect to ' % path)
    assert 'connection refused (check nomad_addr)' in message and TOKEN not in message


def test_permission_denied(tmp_path, server, nomad):
    nomad.failure = (403, 'Permission denied')
    path = write_config(tmp_path, server, nomad_token=TOKEN)
    with pytest.raises(AnsibleParserError) as caught:
        parse(path)
    assert str(caught.value) == ('nomad_iis.management.nomad inventory %s: listing the nodes failed: 403 Permission denied '
                                 'from %s (check nomad_token)' % (path, server.url()))


def test_permission_denied_without_a_token_says_so(tmp_path, server, nomad):
    nomad.failure = (403, 'Permission denied')
    with pytest.raises(AnsibleParserError, match='none is set, neither as an option nor as NOMAD_TOKEN'):
        parse(write_config(tmp_path, server, host_type='allocation'))


def test_a_bad_filter(tmp_path, server, nomad):
    nomad.failure = (400, 'failed to create result paginator: failed to read filter expression: 1:8 (7): no match found')
    path = write_config(tmp_path, server, filter='Status = ready')
    with pytest.raises(AnsibleParserError) as caught:
        parse(path)
    assert str(caught.value) == (
        "nomad_iis.management.nomad inventory %s: listing the nodes matching filter 'Status = ready' failed: 400 "
        "failed to create result paginator: failed to read filter expression: 1:8 (7): no match found from %s "
        "(check filter: a Nomad filter expression, see https://developer.hashicorp.com/nomad/api-docs#filtering)"
        % (path, server.url()))


def test_a_token_echoed_by_the_server_is_redacted(tmp_path, server, nomad):
    nomad.failure = (500, 'rpc error: token %s is odd' % TOKEN)
    with pytest.raises(AnsibleParserError) as caught:
        parse(write_config(tmp_path, server, nomad_token=TOKEN))
    assert TOKEN not in str(caught.value) and '********' in str(caught.value)


def test_a_bad_address_is_named(tmp_path):
    path = tmp_path / 'x.nomad.yml'
    path.write_text('plugin: nomad_iis.management.nomad\nnomad_addr: ftp://nomad\n')
    with pytest.raises(AnsibleParserError, match="x.nomad.yml: nomad_addr 'ftp://nomad' is not an http"):
        parse(str(path))


# -- the documentation -----------------------------------------------------------------------

def test_connection_options_are_the_modules_fragments():
    # The fragments match the modules' argument specs (tests/unit/plugins/doc_fragments); the plugin
    # documents none of those options again.
    doc = yaml.safe_load(plugin_module.DOCUMENTATION)
    assert {'nomad_iis.management.nomad', 'nomad_iis.management.connection'} <= set(doc['extends_documentation_fragment'])
    assert not set(doc['options']) & (set(NOMAD_OPTIONS) | set(CONNECTION_OPTIONS))


def test_the_options_as_ansible_reads_them_hold_the_connection_options():
    plugin = inventory_loader.get('nomad_iis.management.nomad')
    for name, spec in list(NOMAD_OPTIONS.items()) + list(CONNECTION_OPTIONS.items()):
        assert plugin.get_option(name) == spec.get('default'), name


def test_examples_are_yaml():
    documents = list(yaml.safe_load_all(plugin_module.EXAMPLES))
    assert [d['plugin'] for d in documents] == ['nomad_iis.management.nomad'] * 2
    assert json.dumps(documents)
