# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_app_pools: the status answers of old and current drivers, with names or numbers for states."""

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._app_pools import (
    describe_pools,
    find_pool,
    pools_of,
    read_pools,
    state_name,
)


def test_current_shape():
    status = {'allocId': 'a', 'taskName': 'site',
              'defaultApplicationPool': {'name': 'default', 'status': 'Started', 'isWorkerProcessRunning': False},
              'applicationPools': [
                  {'name': 'default', 'status': 'Started', 'isWorkerProcessRunning': False},
                  {'name': 'api', 'status': 'Stopping', 'isWorkerProcessRunning': True}]}
    assert pools_of(status) == [dict(name='default', status='Started', worker_process_running=False),
                                dict(name='api', status='Stopping', worker_process_running=True)]


def test_task_without_default_pool():
    status = {'defaultApplicationPool': None,
              'applicationPools': [{'name': 'api', 'status': 'Stopped', 'isWorkerProcessRunning': False}]}
    assert [p['name'] for p in pools_of(status)] == ['api']


def test_shape_before_v0_15():
    status = {'allocId': 'a', 'taskName': 'app', 'applicationPool': {'status': 'Started', 'isWorkerProcessRunning': True}}
    assert pools_of(status) == [dict(name='default', status='Started', worker_process_running=True)]


def test_describe():
    assert describe_pools([dict(name='default', status='Stopping'), dict(name='api', status='Stopped')]) == \
        "'default' is Stopping, 'api' is Stopped"
    assert describe_pools([]) == 'the task has no application pool'


def test_numeric_states_of_a_driver_before_v0_15():
    status = {'allocId': 'a', 'taskName': 'app', 'applicationPool': {'status': 3, 'isWorkerProcessRunning': False}}
    assert pools_of(status) == [dict(name='default', status='Stopped', worker_process_running=False)]
    assert [state_name(n) for n in range(5)] == ['Starting', 'Started', 'Stopping', 'Stopped', 'Unknown']
    assert state_name('Started') == 'Started' and state_name(9) == '9'


class FakeClient:
    def __init__(self, answer):
        self.answer = answer
        self.actions = []

    def status(self, alloc_id, task, action):
        self.actions.append(action)
        return self.answer


class FakeTarget:
    alloc_id = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
    task = 'app'
    label = "allocation 8f3a21bc task 'app'"


def test_read_pools_and_find_one():
    client = FakeClient({'applicationPools': [{'name': 'default', 'status': 'Started', 'isWorkerProcessRunning': False},
                                              {'name': 'api', 'status': 'Started', 'isWorkerProcessRunning': True}]})
    pools = read_pools(client, FakeTarget())
    assert client.actions == ["reading the application pool status of allocation 8f3a21bc task 'app'"]
    assert find_pool(pools, 'api') == dict(name='api', status='Started', worker_process_running=True)
    assert find_pool(pools, 'nope') is None
    read_pools(client, FakeTarget(), 'reading the status of x')
    assert client.actions[-1] == 'reading the status of x'
