# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_app_pools: the status answers of old and current drivers, and the capability a 403 lacked."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._app_pools import (
    describe_pools,
    needs_capability,
    pools_of,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError


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


def test_a_403_names_the_capability():
    with pytest.raises(ApiError) as failure:
        with needs_capability('AppPoolLifecycle'):
            raise ApiError('stopping x failed: 403 Forbidden from http://n:5004 (check api_key / api_token)',
                           status=403, url='http://n:5004/api/v1/allocs/a/site/stop', method='PUT')
    assert str(failure.value).endswith('(check api_key / api_token) (this request needs the AppPoolLifecycle capability)')
    assert failure.value.status == 403 and failure.value.method == 'PUT'


def test_other_errors_pass_unchanged():
    original = ApiError('x failed: 401', status=401)
    with pytest.raises(ApiError) as failure:
        with needs_capability('Status'):
            raise original
    assert failure.value is original
