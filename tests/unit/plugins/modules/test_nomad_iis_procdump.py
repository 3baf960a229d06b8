# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_iis_procdump: reading the pools, saying why there is nothing to dump, diagnosing
upstream's empty 500, and streaming a Content-Length delimited dump after which the server
closes the connection."""

from __future__ import annotations

import hashlib
import os
import types

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiConnectionError, ApiError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalDest
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import ManagementClient
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import ApiRoad
from ansible_collections.nomad_iis.management.plugins.modules.nomad_iis_procdump import (
    DUMP_TIMEOUT,
    argument_spec,
    diagnose_500,
    pool_problem,
    pool_status,
    pool_url_path,
    take_dump,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
DUMP = b'\x7fELF' + bytes(range(256)) * 8192  # a bit over 2 MB


class FakeTarget:
    alloc_id = ALLOC_ID
    task = 'app'
    label = "allocation 8f3a21bc task 'app'"
    api_url = 'http://10.0.0.5:5004'


def road(api):
    """The Management API road over ``api`` (what module.road gives a target with via=api)."""
    return ApiRoad(types.SimpleNamespace(management_client=lambda url: api), FakeTarget())


class FakeApi:
    """ManagementClient.status over scripted answers."""

    base_url = 'http://10.0.0.5:5004'

    def __init__(self, *answers):
        self.answers = list(answers)

    def status(self, alloc_id, task, action):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def pools(*entries):
    return {'allocId': ALLOC_ID, 'taskName': 'app', 'defaultApplicationPool': None,
            'applicationPools': [{'name': n, 'status': s, 'isWorkerProcessRunning': r} for n, s, r in entries]}


# -- pool_status --------------------------------------------------------------------------------

def test_pool_status():
    api = FakeApi(*[pools(('default', 'Started', False), ('api', 'Started', True))] * 3)
    assert pool_status(road(api), FakeTarget(), 'default') == ('Started', False)
    assert pool_status(road(api), FakeTarget(), 'api') == ('Started', True)
    assert pool_status(road(api), FakeTarget(), 'gone') == ('gone', False)


def test_pool_status_of_a_driver_before_v0_15_and_numeric_states():
    api = FakeApi({'allocId': ALLOC_ID, 'taskName': 'app',
                   'applicationPool': {'status': 3, 'isWorkerProcessRunning': False}})
    assert pool_status(road(api), FakeTarget(), 'default') == ('Stopped', False)


# -- pool_problem -------------------------------------------------------------------------------

def test_a_started_pool_without_a_worker():
    message = pool_problem(FakeTarget(), 'default', 'Started', warm_up=False)
    assert message.startswith("taking a process dump of application pool 'default' in allocation 8f3a21bc task "
                              "'app' failed: no worker process is running for pool 'default'; request the site "
                              "once to start it (IIS starts workers on demand)")
    assert pool_problem(FakeTarget(), 'default', 'Started', warm_up=True) is None


@pytest.mark.parametrize('warm_up', [False, True])
def test_a_stopped_pool_cannot_be_warmed_up(warm_up):
    message = pool_problem(FakeTarget(), 'api', 'Stopped', warm_up=warm_up)
    assert "failed: the pool is Stopped, so no worker process runs to dump; start it" in message


# -- pool_url_path ------------------------------------------------------------------------------

@pytest.mark.parametrize('pool, path', [('default', '/'), ('api', '/api/'), ('deep', '/a/b/'), ('other', '/')])
def test_pool_url_path_is_an_application_of_the_pool(pool, path):
    config = {'application': [{'path': 'local'}, {'path': 'local/api', 'alias': 'api', 'application_pool': 'api'},
                              {'path': 'local/ab', 'alias': '/a/b/', 'application_pool': 'deep'}]}
    assert pool_url_path(config, pool) == path


# -- diagnose_500 -------------------------------------------------------------------------------

def error():
    return ApiError('x', status=500, url='http://10.0.0.5:5004/api/v1/allocs/x/app/procdump', method='GET')


def test_a_500_with_the_worker_running_lists_the_remaining_causes():
    api = FakeApi(pools(('default', 'Started', True)))
    exc = diagnose_500(road(api), FakeTarget(), 'default', 'taking a dump', error())
    assert exc.status == 500
    assert str(exc).startswith("taking a dump failed: 500 from http://10.0.0.5:5004 without a reason: a worker "
                               "process of application pool 'default' is running, so the remaining causes are: "
                               "procdump is not installed")
    assert 'procdump { accept_eula = true }' in str(exc)


def test_a_500_after_the_worker_went_away():
    api = FakeApi(pools(('default', 'Stopped', False)))
    exc = diagnose_500(road(api), FakeTarget(), 'default', 'taking a dump', error())
    assert "the worker process of application pool 'default' went away before it was dumped (the pool is Stopped" \
        in str(exc)


def test_a_500_when_the_status_cannot_be_read_either():
    api = FakeApi(ApiConnectionError('reading the status failed: connection refused'))
    exc = diagnose_500(road(api), FakeTarget(), 'default', 'taking a dump', error())
    assert 'the remaining causes are' in str(exc)


# -- the timeout --------------------------------------------------------------------------------

def test_timeout_has_no_default_so_that_the_dump_gets_its_own():
    spec = argument_spec(app_pool=dict(type='str', default='default'))
    assert spec['timeout']['default'] is None
    assert spec['retries']['default'] == 3
    assert DUMP_TIMEOUT == 600


# -- take_dump against a server -----------------------------------------------------------------

def dump_reply(body=DUMP, content_length=None):
    name = 'procdump_%s_app_2026-11-25-08-59-48.dmp' % ALLOC_ID
    return Reply(200, body, content_length=content_length, headers={
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': "attachment; filename=%s; filename*=UTF-8''%s" % (name, name),
        # Upstream's Ok() after the body throws, and Kestrel closes the connection.
        'Connection': 'close'})


def test_take_dump_streams_the_whole_body_under_the_servers_name(server, tmp_path):
    server.reply(dump_reply())
    api = ManagementClient(server.url(), api_key='key', timeout=5)
    entry = take_dump(road(api), FakeTarget(), 'default', LocalDest(str(tmp_path) + '/'), 60)
    name = 'procdump_%s_app_2026-11-25-08-59-48.dmp' % ALLOC_ID
    assert entry == dict(dest=os.path.join(str(tmp_path) + '/', name), file_name=name, size=len(DUMP),
                         sha256=hashlib.sha256(DUMP).hexdigest())
    with open(entry['dest'], 'rb') as handle:
        assert handle.read() == DUMP
    request = server.requests[0]
    assert request.path == '/api/v1/allocs/%s/app/procdump?appPoolName=default' % ALLOC_ID
    assert request.headers['X-Api-Key'] == 'key'


def test_a_dump_cut_short_leaves_no_file(server, tmp_path):
    server.reply(dump_reply(body=DUMP[:100000], content_length=len(DUMP)))
    api = ManagementClient(server.url(), api_key='key', timeout=5)
    with pytest.raises(ApiConnectionError, match='received 100000 bytes, %d more were announced' % (len(DUMP) - 100000)):
        take_dump(road(api), FakeTarget(), 'default', LocalDest(str(tmp_path / 'core.dmp')), 60)
    assert os.listdir(str(tmp_path)) == []


def dumps_asked(server):
    return [r for r in server.requests if r.path_only.endswith('/procdump')]


def test_a_500_is_diagnosed_and_sent_once(server, tmp_path):
    server.reply(Reply(500, b''), Reply(200, pools(('default', 'Started', True))), Reply(500, b''))
    api = ManagementClient(server.url(), api_key='key', timeout=5, retries=3)
    with pytest.raises(ApiError, match='a worker process of application pool .default. is running'):
        take_dump(road(api), FakeTarget(), 'default', LocalDest(str(tmp_path) + '/'), 60)
    assert len(dumps_asked(server)) == 1


def test_a_busy_answer_is_not_retried_since_each_request_runs_procdump(server, tmp_path):
    server.reply(Reply(503, b''), dump_reply())
    api = ManagementClient(server.url(), api_key='key', timeout=5, retries=3)
    with pytest.raises(ApiError, match='503'):
        take_dump(road(api), FakeTarget(), 'default', LocalDest(str(tmp_path) + '/'), 60)
    assert len(dumps_asked(server)) == 1
