# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_iis_info: the pools of each allocation, and the debug view read once per Management API
and returned under each node's name, in snake case."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils import _module
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError
from ansible_collections.nomad_iis.management.plugins.modules import nomad_iis_info
from ansible_collections.nomad_iis.management.plugins.modules.nomad_iis_info import snake_case

DEBUG_VIEW = {
    'iisHandleCount': 1,
    'iisHandles': [{'taskId': 'a1/app/0f0f0f0f', 'appPoolNames': ['nomad-a1-app'], 'allocId': 'a1',
                    'namespace': 'default', 'jobId': 'web', 'jobName': 'web', 'taskName': 'app',
                    'taskGroupName': 'web', 'isRecovered': False}],
    'danglingIisAppPools': 1, 'danglingIisWebsites': 0,
    'iisAppPools': [{'name': 'nomad-a1-app', 'isDangling': False}, {'name': 'nomad-gone', 'isDangling': True}],
    'iisWebsites': [{'name': 'nomad-a1-app', 'isDangling': False}],
}


def test_snake_case_at_every_level():
    view = snake_case(DEBUG_VIEW)
    assert sorted(view) == ['dangling_iis_app_pools', 'dangling_iis_websites', 'iis_app_pools', 'iis_handle_count',
                            'iis_handles', 'iis_websites']
    assert sorted(view['iis_handles'][0]) == ['alloc_id', 'app_pool_names', 'is_recovered', 'job_id', 'job_name',
                                              'namespace', 'task_group_name', 'task_id', 'task_name']
    assert view['iis_app_pools'][1] == {'name': 'nomad-gone', 'is_dangling': True}
    # values are left alone
    assert view['iis_handles'][0]['app_pool_names'] == ['nomad-a1-app']


class Target:
    def __init__(self, alloc_id, node_name, api_url):
        self.alloc_id, self.node_name, self.node_id, self.api_url, self.task = alloc_id, node_name, 'id-' + node_name, api_url, 'app'
        self.via = 'api'
        self.label = "allocation %s task 'app'" % alloc_id

    def result(self, **extra):
        return dict(alloc_id=self.alloc_id, node_name=self.node_name, api_url=self.api_url, **extra)


class Client:
    calls = []

    def __init__(self, api_url, forbid_debug=False):
        self.api_url = api_url
        self.forbid_debug = forbid_debug

    def status(self, alloc_id, task, action):
        Client.calls.append(('status', self.api_url, alloc_id))
        return {'defaultApplicationPool': None,
                'applicationPools': [{'name': 'default', 'status': 'Started', 'isWorkerProcessRunning': True}]}

    def debug(self, action):
        Client.calls.append(('debug', self.api_url))
        if self.forbid_debug:
            raise ApiError('%s failed: 403 Forbidden' % action, status=403)
        return DEBUG_VIEW


@pytest.fixture
def two_nodes(monkeypatch):
    Client.calls = []
    targets = [Target('a1', 'win-node-1', 'http://n1:5004'), Target('a2', 'win-node-1', 'http://n1:5004'),
               Target('b1', 'win-node-2', 'http://n2:5004')]
    monkeypatch.setattr(_module, 'resolve_targets', lambda nomad, params, require_api: targets)
    return monkeypatch


def run_info(run_module, monkeypatch, debug, forbid_debug=False):
    clients = {}
    monkeypatch.setattr(_module.NomadIisModule, 'management_client',
                        lambda self, url: clients.setdefault(url, Client(url, forbid_debug)))
    return run_module(nomad_iis_info, dict(job='web', debug=debug))


def test_pools_per_allocation_without_debug(two_nodes, run_module):
    result = run_info(run_module, two_nodes, debug=False)
    assert result['changed'] is False and 'debug' not in result
    assert [a['alloc_id'] for a in result['allocations']] == ['a1', 'a2', 'b1']
    assert result['allocations'][0]['pools'] == [{'name': 'default', 'status': 'Started', 'worker_process_running': True,
                                                  'worker_pids': None}]
    assert all(call[0] == 'status' for call in Client.calls)


def test_debug_once_per_management_api_keyed_by_node(two_nodes, run_module):
    result = run_info(run_module, two_nodes, debug=True)
    assert sorted(result['debug']) == ['win-node-1', 'win-node-2']
    assert [c for c in Client.calls if c[0] == 'debug'] == [('debug', 'http://n1:5004'), ('debug', 'http://n2:5004')]
    assert result['debug']['win-node-2']['api_url'] == 'http://n2:5004'
    assert result['debug']['win-node-2']['via'] == 'api'
    assert result['debug']['win-node-1']['dangling_iis_app_pools'] == 1


def test_a_forbidden_debug_view_fails_and_keeps_the_pools_read(two_nodes, run_module):
    # The capability the 403 names is the client's to say (test_management_client).
    result = run_info(run_module, two_nodes, debug=True, forbid_debug=True)
    assert result['failed'] and result['status'] == 403 and result['msg'].endswith('403 Forbidden')
    assert [a['alloc_id'] for a in result['allocations']] == ['a1', 'a2', 'b1']
