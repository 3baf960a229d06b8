# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How a target is reached: via=auto/api/winrm, the WinRM URL of a node, and the WinRM road's pools,
worker PIDs, lifecycle and task directory over a scripted appcmd."""

from __future__ import annotations

import types

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import APPCMD
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import choose_via
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import PoolNotStarted, WinrmRoad, winrm_url
from ansible_collections.nomad_iis.management.plugins.module_utils._winrm import CommandResult

ALLOC = '8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f'
NODE = {'ID': 'n1', 'Name': 'win-node-1', 'HTTPAddr': '10.0.0.5:4646', 'Attributes': {'driver.iis.version': '0.20.1'}}
CONFIG = {'application_pool': [{'name': 'default'}, {'name': 'api'}],
          'application': [{'path': 'local'}, {'path': 'local/api', 'alias': 'api', 'application_pool': 'api'}]}


def xml(kind, *rows):
    items = ''.join('<%s %s />' % (kind, ' '.join('%s="%s"' % kv for kv in row.items())) for row in rows)
    return '<?xml version="1.0" encoding="UTF-8"?>\r\n<appcmd>%s</appcmd>\r\n' % items


class FakeIis:
    """appcmd's answers over a small IIS: pools with states, workers, the task's site and vdirs."""

    def __init__(self):
        base = 'nomad-%s-site' % ALLOC
        self.pools = {'DefaultAppPool': 'Started', base: 'Started', base + '-api': 'Stopped'}
        self.pids = {base: [4100]}
        self.lines = []
        self.base = base

    def run(self, line, action, timeout=None):
        self.lines.append(line)
        args = line[len(APPCMD) + 1:]
        if args.startswith('list apppool'):
            return CommandResult(0, xml('APPPOOL', *({'APPPOOL.NAME': n, 'state': s} for n, s in self.pools.items())), '')
        if args.startswith('list site'):
            return CommandResult(0, xml('SITE', {'SITE.NAME': 'Default Web Site'}, {'SITE.NAME': self.base}), '')
        if args.startswith('list wp'):
            return CommandResult(0, xml('WP', *({'WP.NAME': p, 'APPPOOL.NAME': n} for n, ps in self.pids.items() for p in ps)), '')
        if args.startswith('list vdir'):
            return CommandResult(0, xml('VDIR', {'VDIR.NAME': self.base + '/', 'path': '/',
                                                 'physicalPath': 'C:\\nomad\\data\\alloc\\%s\\site\\local' % ALLOC}), '')
        verb, _kind, name = args.split(' ', 2)
        name = name.strip('"')
        if verb == 'start':
            self.pools[name] = 'Started'
        elif verb == 'stop':
            self.pools[name] = 'Stopped'
        elif verb == 'recycle' and self.pools[name] != 'Started':
            return CommandResult(1062, 'ERROR ( hresult:80070426, message:Command execution failed.\r\nThe service has '
                                       'not been started.\r\n )\r\n', '')
        return CommandResult(0, '"%s" successfully %sed.\r\n' % (name, verb), '')


@pytest.fixture
def road():
    iis = FakeIis()
    target = types.SimpleNamespace(alloc_id=ALLOC, task='site', config=CONFIG, node=NODE, node_id='n1',
                                   node_name='win-node-1', label="allocation 8f3a21bc task 'site'")
    shell = types.SimpleNamespace(run=iis.run, where=lambda: "node 'win-node-1' over WinRM")
    winrm_road = WinrmRoad(types.SimpleNamespace(), target, shell)
    winrm_road.iis = iis
    return winrm_road


def test_pools_as_the_management_api_reports_them(road):
    assert road.read_pools() == [{'name': 'default', 'status': 'Started', 'worker_process_running': True},
                                 {'name': 'api', 'status': 'Stopped', 'worker_process_running': False}]
    assert road.worker_pids() == {'default': [4100], 'api': []}


def test_lifecycle_acts_on_the_pools_in_the_state_the_api_acts_on(road):
    road.pool_action('start', 'starting')
    acted = [line for line in road.iis.lines if not line.startswith(APPCMD + ' list')]
    assert acted == ['%s start apppool "%s-api"' % (APPCMD, road.iis.base)]
    road.pool_action('stop', 'stopping')
    assert road.iis.pools[road.iis.base] == road.iis.pools[road.iis.base + '-api'] == 'Stopped'
    with pytest.raises(PoolNotStarted):
        road.pool_action('recycle', 'recycling')


def test_task_dir_from_the_physical_path(road):
    assert road.task_dir() == 'C:\\nomad\\data\\alloc\\%s\\site' % ALLOC
    assert '%s list vdir /xml /app.name:"%s/"' % (APPCMD, road.iis.base) in road.iis.lines


@pytest.mark.parametrize('params, url', [
    ({}, 'https://10.0.0.5:5986/wsman'),
    ({'winrm_scheme': 'http'}, 'http://10.0.0.5:5985/wsman'),
    ({'winrm_scheme': 'http', 'winrm_port': 8985}, 'http://10.0.0.5:8985/wsman'),
    ({'winrm_host': 'node1.corp'}, 'https://node1.corp:5986/wsman'),
    ({'winrm_host': {'win-node-1': 'node1.corp:443'}}, 'https://node1.corp:443/wsman'),
    ({'winrm_host': {'other': 'x'}}, 'https://10.0.0.5:5986/wsman'),
    ({'winrm_host': 'http://127.0.0.1:41000'}, 'http://127.0.0.1:41000/wsman'),
    ({'winrm_host': 'http://127.0.0.1:41000/wsman'}, 'http://127.0.0.1:41000/wsman'),
])
def test_winrm_url(params, url):
    assert winrm_url(params, NODE) == url


def test_choose_via():
    assert choose_via({'via': 'auto'}, NODE, 'http://10.0.0.5:5004') == 'api'
    assert choose_via({'via': 'auto', 'winrm_user': 'admin'}, NODE, 'http://10.0.0.5:5004') == 'api'
    assert choose_via({'via': 'auto', 'winrm_user': 'admin'}, NODE, None) == 'winrm'
    assert choose_via({'via': 'winrm'}, NODE, 'http://10.0.0.5:5004') == 'winrm'
    with pytest.raises(OptionError) as caught:
        choose_via({'via': 'auto'}, NODE, None)
    assert 'winrm_user' in str(caught.value) and 'api_url' in str(caught.value)
    with pytest.raises(OptionError):
        choose_via({'via': 'api', 'winrm_user': 'admin'}, NODE, None)
