# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_iis_cleanup on one node over a scripted Nomad and appcmd: what is removed and what is kept,
check mode, and refusing to act when Nomad cannot say whether an allocation lives."""

from __future__ import annotations

import types

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import APPCMD
from ansible_collections.nomad_iis.management.plugins.module_utils._dangling import NomadUnsure
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NotFound
from ansible_collections.nomad_iis.management.plugins.module_utils._winrm import CommandResult
from ansible_collections.nomad_iis.management.plugins.modules import nomad_iis_cleanup
from ansible_collections.nomad_iis.management.plugins.modules.nomad_iis_cleanup import CleanupModule, clean_node
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

LIVE = '11111111-1111-4111-8111-111111111111'
STOPPED = '22222222-2222-4222-8222-222222222222'
UNKNOWN = '33333333-3333-4333-8333-333333333333'
HIDDEN = '44444444-4444-4444-8444-444444444444'
PASSWORD = 'S3cret-pass'
NODE = {'ID': 'n1', 'Name': 'win-node-4', 'HTTPAddr': '10.0.0.9:4646', 'Attributes': {}}


class FakeNomad:
    def __init__(self, hidden=False, broken=False):
        self.hidden = hidden
        self.broken = broken

    def get_json(self, path, *args, **kwargs):
        if self.broken:
            raise ApiError('listing the allocations of node \'win-node-4\' failed: 403 Forbidden', status=403)
        if path == '/v1/node/{}/allocations':
            return [{'ID': LIVE, 'ClientStatus': 'running'}, {'ID': STOPPED, 'ClientStatus': 'complete'}]
        alloc_id = args[0]
        if alloc_id == STOPPED:
            return {'ID': STOPPED, 'NodeID': 'n1', 'ClientStatus': 'complete'}
        if alloc_id == HIDDEN and self.hidden:
            raise ApiError('reading allocation failed: 403 Permission denied', status=403)
        raise NotFound('reading allocation %s failed: 404 alloc not found' % alloc_id, status=404)


class FakeIis:
    def __init__(self, pools, sites):
        self.pools, self.sites, self.lines = list(pools), list(sites), []

    def run(self, line, action, timeout=None):
        self.lines.append(line)
        args = line[len(APPCMD) + 1:]
        if args.startswith('list apppool'):
            rows = ''.join('<APPPOOL APPPOOL.NAME="%s" state="Started" />' % p for p in self.pools)
            return CommandResult(0, '<appcmd>%s</appcmd>' % rows, '')
        if args.startswith('list site'):
            rows = ''.join('<SITE SITE.NAME="%s" state="Started" />' % s for s in self.sites)
            return CommandResult(0, '<appcmd>%s</appcmd>' % rows, '')
        verb, kind, name = args.split(' ', 2)
        (self.pools if kind == 'apppool' else self.sites).remove(name.strip('"'))
        return CommandResult(0, '%s object %s deleted\r\n' % (kind.upper(), name), '')


def module(iis, check_mode=False, nomad=None, **params):
    base = dict(via='winrm', winrm_user='admin', pools=True, sites=True, api_url=None)
    base.update(params)
    return types.SimpleNamespace(params=base, check_mode=check_mode, nomad=nomad or FakeNomad(),
                                 shell_for=lambda node: types.SimpleNamespace(run=iis.run))


@pytest.fixture
def iis():
    return FakeIis(['DefaultAppPool', 'nomad-%s-app' % LIVE, 'nomad-%s-app' % STOPPED, 'nomad-%s-app-api' % UNKNOWN,
                    'nomad-abc', 'admin-pool'],
                   ['Default Web Site', 'nomad-%s-app' % LIVE, 'nomad-%s-app' % STOPPED])


def test_removes_the_dangling_and_keeps_the_rest(iis):
    removed, kept = [], []
    entry, diff = clean_node(module(iis), NODE, removed, kept)
    assert entry == dict(node_name='win-node-4', node_id='n1', via='winrm', api_url=None, changed=True)
    assert [(r['type'], r['name']) for r in removed] == [
        ('site', 'nomad-%s-app' % STOPPED), ('pool', 'nomad-%s-app' % STOPPED),
        ('pool', 'nomad-%s-app-api' % UNKNOWN), ('pool', 'nomad-abc')]
    assert iis.pools == ['DefaultAppPool', 'nomad-%s-app' % LIVE, 'admin-pool']
    assert iis.sites == ['Default Web Site', 'nomad-%s-app' % LIVE]
    reasons = dict(((k['type'], k['name']), k['reason']) for k in kept)
    assert reasons[('pool', 'nomad-%s-app' % LIVE)] == 'allocation %s is running' % LIVE
    assert reasons[('pool', 'admin-pool')] == "not named nomad-*: not the driver's"
    assert 'nomad-%s-app-api' % UNKNOWN not in diff['after'] and 'nomad-%s-app-api' % UNKNOWN in diff['before']


def test_check_mode_removes_nothing(iis):
    removed, kept = [], []
    entry, _diff = clean_node(module(iis, check_mode=True), NODE, removed, kept)
    assert entry['changed'] and len(removed) == 4
    assert not [line for line in iis.lines if ' delete ' in line]


def test_pools_false_keeps_pools(iis):
    removed, kept = [], []
    clean_node(module(iis, pools=False), NODE, removed, kept)
    assert [r['type'] for r in removed] == ['site']
    assert 'pools=false' in [k['reason'] for k in kept]


def test_refuses_when_nomad_cannot_be_asked(iis):
    with pytest.raises(NomadUnsure):
        clean_node(module(iis, nomad=FakeNomad(broken=True)), NODE, [], [])
    assert not [line for line in iis.lines if ' delete ' in line]


def test_refuses_when_an_allocation_is_hidden(iis):
    iis.pools.append('nomad-%s-app' % HIDDEN)
    with pytest.raises(NomadUnsure) as caught:
        clean_node(module(iis, nomad=FakeNomad(hidden=True)), NODE, [], [])
    assert 'nothing was removed' in str(caught.value)
    assert not [line for line in iis.lines if ' delete ' in line]


# -- the module end to end, against a scripted Nomad -------------------------------------------------

def nomad_route(request):
    if request.path_only == '/v1/nodes':
        return Reply(body=[dict(NODE, Status='ready', Drivers={'iis': {'Detected': True}}),
                           {'ID': 'n2', 'Name': 'linux-1', 'Status': 'ready', 'Drivers': {}}])
    if request.path_only == '/v1/node/n1':
        return Reply(body=NODE)
    if request.path_only == '/v1/node/n1/allocations':
        return Reply(body=[{'ID': LIVE, 'ClientStatus': 'running'}])
    if request.path_only.startswith('/v1/allocation/'):
        return Reply(404, b'alloc not found')
    return Reply(404, b'')


def test_main_cleans_every_node_with_the_iis_driver(server, run_module, monkeypatch, iis):
    server.route = nomad_route
    monkeypatch.setattr(CleanupModule, 'shell_for', lambda self, node: types.SimpleNamespace(run=iis.run))
    result = run_module(nomad_iis_cleanup, dict(nomad_addr=server.url(), winrm_user='admin', winrm_password=PASSWORD),
                        diff=True)
    assert result['changed'] is True
    assert [n['node_name'] for n in result['nodes']] == ['win-node-4']
    assert result['nodes'][0]['via'] == 'winrm'
    assert len(result['removed']) == 4  # the STOPPED allocation is unknown to this Nomad: its objects go too
    assert PASSWORD not in str(result)
    assert result['diff'][0]['before_header'] == 'win-node-4'


def test_main_without_winrm_names_both_roads(server, run_module):
    server.route = nomad_route
    result = run_module(nomad_iis_cleanup, dict(nomad_addr=server.url()))
    assert result['failed'] and "node 'win-node-4' does not advertise a Management API" in result['msg']
