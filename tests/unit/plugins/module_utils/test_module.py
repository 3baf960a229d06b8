# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_module: the error boundary (every failure one message, what was done kept) and the per-target
runner (entries in order, changed, diff, partial results, one client per Management API)."""

from __future__ import annotations

import threading
import time
import types
import zipfile

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils import _module
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import (
    NomadIisModule,
    NomadModule,
    TargetAction,
)


def module_running(action):
    """A module whose main() runs ``action(module)`` through NomadModule.run."""
    def main():
        module = NomadModule(argument_spec=dict(path=dict(type='str')), supports_check_mode=True)
        module.run(action, partial=lambda: dict(done=['first']))
    return types.SimpleNamespace(main=main)


def raising(exc):
    def action(module):
        raise exc
    return action


def test_a_local_os_error_is_one_message_with_the_path(run_module, tmp_path):
    def action(module):
        open(str(tmp_path / 'missing' / 'f'), 'rb')
    result = run_module(module_running(action), {})
    assert result['failed'] and result['done'] == ['first']
    assert result['msg'] == ("a local file operation on the controller failed %r: No such file or directory"
                             % str(tmp_path / 'missing' / 'f'))
    assert 'Traceback' not in result['msg']


def test_a_zip_error_is_one_message(run_module):
    result = run_module(module_running(raising(zipfile.BadZipFile('File is not a zip file'))), {})
    assert result['msg'] == 'a local zip file on the controller cannot be used: File is not a zip file'


def test_collection_errors_keep_their_message_and_status(run_module):
    result = run_module(module_running(raising(ApiError('reading x failed: 404 Not Found', status=404))), {})
    assert (result['msg'], result['status'], result['done']) == ('reading x failed: 404 Not Found', 404, ['first'])
    result = run_module(module_running(raising(OptionError('path must not be empty'))), {})
    assert result['msg'] == 'path must not be empty' and 'status' not in result


class FakeTarget:
    def __init__(self, alloc_id, api_url='http://n1:5004'):
        self.alloc_id = alloc_id
        self.api_url = api_url

    def result(self, **extra):
        return dict(alloc_id=self.alloc_id, api_url=self.api_url, **extra)


class Touch(TargetAction):
    """Marks each target changed; fails on the target ``fail_on`` after doing part of its work."""

    fail_on = None
    seen = []

    def check_options(self):
        if self.params['path'] == 'bad':
            raise OptionError('path bad is bad')

    def act(self, target, entry):
        Touch.seen.append((target.alloc_id, id(self.module.management_client(target.api_url))))
        entry['touched'] = True
        if target.alloc_id == self.fail_on:
            entry['changed'] = True  # part of the work was done
            raise ApiError('touching %s failed: 500' % target.alloc_id, status=500)
        entry['changed'] = target.alloc_id != 'a2'
        return {'before': '', 'after': target.alloc_id + '\n'}

    def finish(self, result, targets):
        result['count'] = len(targets)


@pytest.fixture
def targets(monkeypatch):
    found = [FakeTarget('a1'), FakeTarget('a2'), FakeTarget('a3', 'http://n2:5004')]
    asked = []

    def resolve(nomad, params, require_api):
        asked.append(params['job'])
        return found
    monkeypatch.setattr(_module, 'resolve_targets', resolve)
    monkeypatch.setattr(_module.ManagementClient, 'from_params', classmethod(lambda cls, params, url: object()))
    Touch.seen = []
    Touch.fail_on = None
    return asked


def touch_module():
    def main():
        module = NomadIisModule(argument_spec=dict(path=dict(type='str')), supports_check_mode=True)
        module.run_targets(Touch(module))
    return types.SimpleNamespace(main=main)


def test_the_runner_acts_on_every_target_in_order(run_module, targets):
    result = run_module(touch_module(), dict(job='web', path='x'), diff=True)
    assert [e['alloc_id'] for e in result['allocations']] == ['a1', 'a2', 'a3']
    assert [e['changed'] for e in result['allocations']] == [True, False, True] and result['changed'] is True
    assert [d['after'] for d in result['diff']] == ['a1\n', 'a2\n', 'a3\n']
    assert result['count'] == 3
    # One Management API client per URL for the whole run.
    clients = [client for dummy, client in Touch.seen]
    assert clients[0] == clients[1] != clients[2]


def test_without_diff_mode_there_is_no_diff(run_module, targets):
    assert 'diff' not in run_module(touch_module(), dict(job='web', path='x'))


def test_a_failure_keeps_what_was_done(run_module, targets):
    Touch.fail_on = 'a2'
    result = run_module(touch_module(), dict(job='web', path='x'))
    assert result['failed'] and result['msg'] == 'touching a2 failed: 500' and result['status'] == 500
    assert [(e['alloc_id'], e['changed'], e.get('failed', False)) for e in result['allocations']] == [
        ('a1', True, False), ('a2', True, True)]
    assert result['changed'] is True
    assert [alloc for alloc, dummy in Touch.seen] == ['a1', 'a2']  # nothing new starts after a failure


def test_options_are_checked_before_any_lookup(run_module, targets):
    result = run_module(touch_module(), dict(job='web', path='bad'))
    assert result['failed'] and result['msg'] == 'path bad is bad' and result['allocations'] == []
    assert targets == []


def test_the_targeting_options_come_with_the_base(run_module, targets):
    result = run_module(touch_module(), dict(path='x'))
    assert result['failed'] and 'one of the following is required: alloc_id, job' in result['msg']
    result = run_module(touch_module(), dict(path='x', job='web', alloc_id='8f'))
    assert result['failed'] and 'mutually exclusive: alloc_id|job' in result['msg']


# -- Several targets at a time -------------------------------------------------------------------

class Slow(TargetAction):
    """Takes longer for earlier targets, counts how many run at once, fails where told."""

    fail = ()
    lock = threading.Lock()
    running = 0
    most = 0
    started = []

    def act(self, target, entry):
        with Slow.lock:
            Slow.running += 1
            Slow.most = max(Slow.most, Slow.running)
            Slow.started.append(target.alloc_id)
        try:
            time.sleep(0.05 * (10 - int(target.alloc_id[1:])))
            if target.alloc_id in Slow.fail:
                raise ApiError('touching %s failed: 503' % target.alloc_id, status=503)
            entry['changed'] = True
            return {'after': target.alloc_id}
        finally:
            with Slow.lock:
                Slow.running -= 1


@pytest.fixture
def many(monkeypatch):
    found = [FakeTarget('a%d' % n) for n in range(1, 9)]
    monkeypatch.setattr(_module, 'resolve_targets', lambda nomad, params, require_api: found)
    monkeypatch.setattr(_module.ManagementClient, 'from_params', classmethod(lambda cls, params, url: object()))
    Slow.fail, Slow.running, Slow.most, Slow.started = (), 0, 0, []


def slow_module():
    def main():
        module = NomadIisModule(argument_spec=dict(), supports_check_mode=True)
        module.run_targets(Slow(module))
    return types.SimpleNamespace(main=main)


@pytest.mark.parametrize('max_parallel, most', [(1, 1), (3, 3), (0, 8), (20, 8)])
def test_max_parallel_bounds_the_targets_at_work_and_keeps_their_order(run_module, many, max_parallel, most):
    result = run_module(slow_module(), dict(job='web', max_parallel=max_parallel), diff=True)
    assert Slow.most == most
    assert [e['alloc_id'] for e in result['allocations']] == ['a%d' % n for n in range(1, 9)]
    assert [d['after'] for d in result['diff']] == ['a%d' % n for n in range(1, 9)]


def test_after_a_failure_nothing_new_starts_and_the_others_finish(run_module, many):
    Slow.fail = ('a2',)
    result = run_module(slow_module(), dict(job='web', max_parallel=3))
    assert result['failed'] and result['msg'] == 'touching a2 failed: 503' and result['status'] == 503
    # a1..a3 were under way when a2 failed (a3 finishes first, then a2 fails, then a1 finishes)
    # and a4 started when a3 was done; nothing started after the failure.
    started = set(Slow.started)
    assert [e['alloc_id'] for e in result['allocations']] == sorted(started)
    assert {'a1', 'a2', 'a3'} <= started and 'a8' not in started
    failed = [e for e in result['allocations'] if e.get('failed')]
    assert [(e['alloc_id'], e['msg']) for e in failed] == [('a2', 'touching a2 failed: 503')]
    assert all(e['changed'] for e in result['allocations'] if not e.get('failed'))


def test_several_failures_are_counted(run_module, many):
    Slow.fail = ('a1', 'a2', 'a3')
    result = run_module(slow_module(), dict(job='web', max_parallel=0))
    assert result['msg'] == ('touching a1 failed: 503 (and 2 more allocation(s) failed: see the entries of '
                             'allocations marked failed)')
    assert [e['alloc_id'] for e in result['allocations'] if e.get('failed')] == ['a1', 'a2', 'a3']
    assert len(result['allocations']) == 8


def test_max_parallel_must_not_be_negative(run_module, many):
    result = run_module(slow_module(), dict(job='web', max_parallel=-1))
    assert result['failed'] and result['msg'] == 'max_parallel must be 0 (all allocations at once) or more, not -1'
    assert Slow.started == []
