# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_alloc_info against a scripted Nomad: which endpoint each way of asking uses, the filters,
one read per node, and a node that cannot be read."""

from __future__ import annotations

import json
import urllib.parse


from ansible_collections.nomad_iis.management.plugins.modules import nomad_alloc_info
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

N1 = '2d2b8b75-cf4b-418a-9757-5d911622abc0'
N2 = 'f716a23f-a785-4015-8288-a9164b3e7b74'
NODES = {
    N1: {'ID': N1, 'Name': 'win-node-1', 'HTTPAddr': '10.0.0.5:4646',
         'Attributes': {'driver.iis.management_api_enabled': 'true', 'driver.iis.management_api_port': '5004'}},
    N2: {'ID': N2, 'Name': 'win-node-2', 'HTTPAddr': '10.0.0.6:4646', 'Attributes': {}},
}
EVENTS = [{'Type': 'Received', 'Time': 1795596027387405118, 'Message': 'Task received by client',
           'DisplayMessage': 'Task received by client'},
          {'Type': 'Started', 'Time': 1795596027440336040, 'Message': '', 'DisplayMessage': 'Task started by client'}]


def stub(alloc_id, job, node_id, status='running', group=None, namespace='default', index=1):
    return {'ID': alloc_id, 'Name': '%s.%s[0]' % (job, group or job), 'Namespace': namespace, 'JobID': job,
            'JobType': 'service', 'JobVersion': 0, 'TaskGroup': group or job, 'NodeID': node_id,
            'NodeName': NODES[node_id]['Name'], 'ClientStatus': status, 'ClientDescription': '',
            'DesiredStatus': 'run', 'CreateIndex': index, 'CreateTime': index, 'ModifyTime': index,
            'TaskStates': {'app': {'State': 'running', 'Failed': False, 'Restarts': 1,
                                   'StartedAt': '2026-11-25T08:40:27Z', 'FinishedAt': '0001-01-01T00:00:00Z',
                                   'LastRestart': '0001-01-01T00:00:00Z', 'Events': EVENTS}}}


ALLOCS = [
    stub('aa000000-0000-4000-8000-000000000001', 'web', N1, index=2),
    stub('bb000000-0000-4000-8000-000000000002', 'web', N2, index=3),
    stub('cc000000-0000-4000-8000-000000000003', 'batch', N1, status='complete', group='run', index=4),
    stub('dd000000-0000-4000-8000-000000000004', 'reports', N2, namespace='apps', index=5),
]


def resources(alloc):
    port = 20000 + alloc['CreateIndex']
    return {'Shared': {'Ports': [{'Label': 'http', 'Value': port, 'HostIP': '127.0.0.1'}]}}


class FakeNomad:
    def __init__(self, forbidden_nodes=()):
        self.forbidden_nodes = set(forbidden_nodes)

    def route(self, request):
        query = {k: v[0] for k, v in urllib.parse.parse_qs(request.query).items()}
        namespace = query.get('namespace', 'default')
        path = request.path_only
        in_namespace = [a for a in ALLOCS if namespace in ('*', a['Namespace'])]
        if path == '/v1/allocations':
            found = [a for a in in_namespace if a['ID'].replace('-', '').startswith(query.get('prefix', '').replace('-', ''))]
            if query.get('resources') == 'true':
                found = [dict(a, AllocatedResources=resources(a)) for a in found]
            return Reply(200, found)
        if path.startswith('/v1/job/') and path.endswith('/allocations'):
            return Reply(200, [a for a in in_namespace if a['JobID'] == path.split('/')[3]])
        if path.startswith('/v1/allocation/'):
            alloc = [a for a in ALLOCS if a['ID'] == path.split('/')[3]][0]
            return Reply(200, dict(alloc, AllocatedResources=resources(alloc), Job={}))
        if path == '/v1/nodes':
            return Reply(200, [{'ID': n['ID'], 'Name': n['Name']} for n in NODES.values()])
        if path.startswith('/v1/node/'):
            node_id = path.split('/')[3]
            if node_id in self.forbidden_nodes:
                return Reply(403, b'Permission denied')
            return Reply(200, NODES[node_id])
        return Reply(404, b'')


def paths(server):
    return [r.path_only for r in server.requests]


def test_job_lists_the_job_and_reads_each_allocation_and_node_once(server, run_module):
    server.route = FakeNomad().route
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), job='web'))
    assert result['changed'] is False
    assert [a['id'] for a in result['allocations']] == [ALLOCS[0]['ID'], ALLOCS[1]['ID']]
    first = result['allocations'][0]
    assert first['node'] == {'id': N1, 'name': 'win-node-1'}
    assert first['ports'] == {'http': '127.0.0.1:20002'}
    assert first['management_api_url'] == 'http://10.0.0.5:5004'
    assert result['allocations'][1]['management_api_url'] is None
    assert first['tasks']['app'] == {
        'state': 'running', 'failed': False, 'restarts': 1, 'started_at': '2026-11-25T08:40:27Z',
        'finished_at': None, 'last_restart': None,
        'events': [{'time': '2026-11-25T08:40:27.387405Z', 'type': 'Received', 'message': 'Task received by client'},
                   {'time': '2026-11-25T08:40:27.440336Z', 'type': 'Started', 'message': 'Task started by client'}]}
    assert paths(server) == ['/v1/job/web/allocations', '/v1/allocation/' + ALLOCS[0]['ID'], '/v1/node/' + N1,
                             '/v1/allocation/' + ALLOCS[1]['ID'], '/v1/node/' + N2]


def test_filters_use_one_listing_with_resources(server, run_module):
    server.route = FakeNomad().route
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), node='win-node-1', status=['running', 'complete']))
    assert [a['id'] for a in result['allocations']] == [ALLOCS[2]['ID'], ALLOCS[0]['ID']]  # batch before web
    assert paths(server) == ['/v1/nodes', '/v1/allocations', '/v1/node/' + N1]
    assert 'resources=true' in server.requests[1].query


def test_every_namespace(server, run_module):
    server.route = FakeNomad().route
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), nomad_namespace='*', job='reports'))
    assert [(a['namespace'], a['job']) for a in result['allocations']] == [('apps', 'reports')]
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), job='reports'))
    assert result['allocations'] == []


def test_alloc_id_prefix(server, run_module):
    server.route = FakeNomad().route
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), alloc_id='bb0'))
    assert [a['id'] for a in result['allocations']] == [ALLOCS[1]['ID']]
    assert result['allocations'][0]['ports'] == {'http': '127.0.0.1:20003'}


def test_unknown_node_fails(server, run_module):
    server.route = FakeNomad().route
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), node='win-node-9'))
    assert result['failed'] is True
    assert result['msg'] == "no node is named 'win-node-9' or has an ID starting with it (nodes: win-node-1, win-node-2)"


def test_a_node_that_cannot_be_read_gives_a_warning_and_no_url(server, run_module):
    server.route = FakeNomad(forbidden_nodes=[N1]).route
    result = run_module(nomad_alloc_info, dict(nomad_addr=server.url(), job='web'))
    assert result['allocations'][0]['management_api_url'] is None
    assert len(result['warnings']) == 1
    # ansible-core 2.19 returns warnings as structured events, older versions as strings.
    warning = json.dumps(result['warnings'][0])
    assert 'reading node %s failed: 403 Permission denied' % N1 in warning
