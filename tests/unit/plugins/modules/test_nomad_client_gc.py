# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_client_gc against a scripted Nomad: running allocations refused before any GC request,
already collected ones are no change, check mode sends nothing, a node is collected only when it
holds something to collect."""

from __future__ import annotations


import pytest


from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.modules import nomad_client_gc
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

NODE = {'ID': '4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d', 'Name': 'win-node-1', 'Status': 'ready'}
DONE = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
GONE = '8f3a21bd-0000-4000-8000-000000000001'
RUNNING = '11112222-3333-4444-5555-666677778888'


def alloc(alloc_id, status):
    return {'ID': alloc_id, 'JobID': 'batch', 'Namespace': 'default', 'TaskGroup': 'run', 'NodeID': NODE['ID'],
            'NodeName': NODE['Name'], 'ClientStatus': status}


class FakeNomad:
    """Allocations DONE (terminal, held by the client), GONE (terminal, collected) and RUNNING."""

    def __init__(self):
        self.allocs = {DONE: alloc(DONE, 'complete'), GONE: alloc(GONE, 'failed'), RUNNING: alloc(RUNNING, 'running')}
        self.collected = {GONE}

    def route(self, request):
        path = request.path_only
        if path == '/v1/allocations':
            prefix = dict(p.split('=', 1) for p in request.query.split('&'))['prefix'].replace('-', '')
            return Reply(200, [a for a in self.allocs.values() if a['ID'].replace('-', '').startswith(prefix)])
        if path.startswith('/v1/client/fs/cat/'):
            alloc_id = path.rsplit('/', 1)[1]
            if alloc_id in self.collected:
                return Reply(404, b'state for allocation %s not found on client' % alloc_id.encode())
            return Reply(400, b'file "/" is a directory')
        if path.startswith('/v1/client/allocation/') and path.endswith('/gc'):
            alloc_id = path.split('/')[4]
            if self.allocs[alloc_id]['ClientStatus'] == 'running' or alloc_id in self.collected:
                return Reply(500, b'No such allocation on client, or allocation not eligible for GC')
            self.collected.add(alloc_id)
            return Reply(200, b'')
        if path == '/v1/agent/self':
            return Reply(200, {'stats': {'client': {'node_id': NODE['ID']}}})
        if path == '/v1/nodes':
            return Reply(200, [NODE])
        if path == '/v1/node/%s/allocations' % NODE['ID']:
            return Reply(200, list(self.allocs.values()))
        if path == '/v1/client/gc':
            self.collected.update(a['ID'] for a in self.allocs.values() if a['ClientStatus'] != 'running')
            return Reply(200, b'')
        return Reply(404, b'')


@pytest.fixture
def nomad(server):
    fake = FakeNomad()
    server.route = fake.route
    return fake


def gc_requests(server):
    return [r.path_only for r in server.requests if r.path_only.endswith('/gc')]


def test_running_allocation_is_refused_before_any_gc_request(server, nomad, run_module):
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=RUNNING[:8]))
    assert result['failed'] is True
    assert result['msg'] == ("allocation %s of job 'batch' is running; only terminal allocations "
                             "(complete, failed, lost) can be garbage collected" % RUNNING)
    assert gc_requests(server) == []


def test_terminal_allocation_is_collected_once(server, nomad, run_module):
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=DONE[:10]))
    assert result['changed'] is True
    assert [a['alloc_id'] for a in result['collected']] == [DONE]
    assert (result['node_id'], result['node_name']) == (NODE['ID'], 'win-node-1')
    assert gc_requests(server) == ['/v1/client/allocation/%s/gc' % DONE]
    server.requests.clear()
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=DONE[:10]))
    assert result['changed'] is False and result['collected'] == []
    assert gc_requests(server) == []


def test_already_collected_allocation_is_no_change(server, nomad, run_module):
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=GONE), check_mode=True)
    assert result['changed'] is False and result['collected'] == []
    assert gc_requests(server) == []


def test_collected_in_the_meantime_is_no_change(server, nomad, run_module):
    # The probe says "held", but the client collects it before the GC request arrives.
    original = nomad.route

    def racing(request):
        reply = original(request)
        if request.path_only.startswith('/v1/client/fs/cat/'):
            nomad.collected.add(DONE)
        return reply
    server.route = racing
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=DONE))
    assert result['changed'] is False and result['collected'] == []
    assert gc_requests(server) == ['/v1/client/allocation/%s/gc' % DONE]


def test_check_mode_reports_without_collecting(server, nomad, run_module):
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=DONE), check_mode=True)
    assert result['changed'] is True and [a['alloc_id'] for a in result['collected']] == [DONE]
    assert gc_requests(server) == [] and DONE not in nomad.collected


def test_node_collects_only_when_something_is_held(server, nomad, run_module):
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url()), check_mode=True)
    assert result['changed'] is True and [a['alloc_id'] for a in result['collected']] == [DONE]
    assert gc_requests(server) == []
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), node_id='win-node-1'))
    assert result['changed'] is True and [a['alloc_id'] for a in result['collected']] == [DONE]
    assert gc_requests(server) == ['/v1/client/gc']
    gc_call = [r for r in server.requests if r.path_only == '/v1/client/gc'][0]
    assert 'node_id=' + NODE['ID'] in gc_call.query
    server.requests.clear()
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url()))
    assert result['changed'] is False and result['collected'] == []
    assert gc_requests(server) == []


def test_probe_classification(server):
    client = NomadClient(addr=server.url(), retries=0)
    for status, held in ((400, True), (403, True), (500, True), (200, True), (404, False)):
        server.reply(Reply(status, b'x'))
        assert nomad_client_gc.held_by_client(client, alloc(DONE, 'complete')) is held, status


def test_alloc_id_and_node_id_are_exclusive(server, run_module):
    result = run_module(nomad_client_gc, dict(nomad_addr=server.url(), alloc_id=DONE, node_id='win-node-1'))
    assert result['failed'] is True and 'mutually exclusive' in result['msg']
    assert server.requests == []
