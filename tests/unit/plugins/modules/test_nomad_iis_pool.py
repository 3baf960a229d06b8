# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_iis_pool: what is sent for each state and pool status, in which order, what is waited for,
and what the module says when the pools do not get there; against a scripted Management API whose
pools move through Starting/Stopping like IIS's (start and stop only act on Stopped / Started pools,
recycle of a pool that is not started fails) and a fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import ApiRoad
from ansible_collections.nomad_iis.management.plugins.modules import nomad_iis_pool
from ansible_collections.nomad_iis.management.plugins.modules.nomad_iis_pool import (
    PoolNotStarted,
    PoolState,
    PoolWaitTimeout,
)

ALLOC = '3fb8b969-4cff-4d6b-a93e-ff03ac872182'


class FakeClock:
    def __init__(self, monkeypatch):
        self.now = 1000.0
        self.sleeps = []
        monkeypatch.setattr(nomad_iis_pool.time, 'monotonic', lambda: self.now)
        monkeypatch.setattr(nomad_iis_pool.time, 'sleep', self.sleep)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakePools:
    """A task's pools as the driver keeps them: start/stop/recycle act like upstream's, and a pool
    in transition gets there after ``reads_to_settle`` status reads (None: never)."""

    def __init__(self, states, reads_to_settle=1, forbid_lifecycle=False):
        self.pools = [dict(name=name, status=status, worker=status == 'Started') for name, status in states]
        self.reads_to_settle = reads_to_settle
        self.forbid_lifecycle = forbid_lifecycle
        self.calls = []
        self._countdown = {}

    def _transition(self, pool, status):
        pool['status'] = status
        self._countdown[pool['name']] = self.reads_to_settle

    def status(self, alloc_id, task, action):
        self.calls.append('status')
        for pool in self.pools:
            left = self._countdown.get(pool['name'])
            if pool['status'] in ('Starting', 'Stopping') and left is not None:
                if left <= 0:
                    pool['status'] = 'Started' if pool['status'] == 'Starting' else 'Stopped'
                    pool['worker'] = pool['status'] == 'Started'
                else:
                    self._countdown[pool['name']] = left - 1
        return {'allocId': alloc_id, 'taskName': task,
                'applicationPools': [{'name': p['name'], 'status': p['status'], 'isWorkerProcessRunning': p['worker']}
                                     for p in self.pools]}

    def pool_action(self, alloc_id, task, verb, action):
        self.calls.append(verb)
        if self.forbid_lifecycle:
            raise ApiError('%s failed: 403 Forbidden from http://node:5004 (check api_key / api_token)' % action,
                           status=403)
        for pool in self.pools:
            if verb == 'start' and pool['status'] == 'Stopped':
                self._transition(pool, 'Starting')
            elif verb == 'stop' and pool['status'] == 'Started':
                self._transition(pool, 'Stopping')
            elif verb == 'recycle' and pool['status'] != 'Started':
                raise ApiError('%s failed: 500 Internal Server Error' % action, status=500)

    def settle_after(self, name, reads):
        self._countdown[name] = reads

    def states(self):
        return [p['status'] for p in self.pools]


class Target:
    alloc_id = ALLOC
    task = 'site'
    label = "allocation 3fb8b969 task 'site'"
    api_url = 'http://node:5004'

    def result(self, **extra):
        return dict(alloc_id=self.alloc_id, task=self.task, **extra)


class Module:
    def __init__(self, state, check_mode=False, wait=True, wait_timeout=60):
        self.params = dict(state=state, wait=wait, wait_timeout=wait_timeout)
        self.check_mode = check_mode


def manage(module, target, api):
    """What the module does to one target: its entry of allocations and its diff."""
    module.management_client = lambda api_url: api
    module.road = lambda target: ApiRoad(module, target)
    entry = target.result(changed=False)
    diff = PoolState(module).act(target, entry)
    return entry, diff


@pytest.fixture
def clock(monkeypatch):
    return FakeClock(monkeypatch)


def lifecycle(api):
    return [c for c in api.calls if c != 'status']


# -- started / stopped ---------------------------------------------------------------------------

def test_started_pools_send_nothing(clock):
    api = FakePools([('default', 'Started'), ('api', 'Started')])
    entry, diff = manage(Module('started'), Target(), api)
    assert entry['changed'] is False and entry['actions'] == []
    assert lifecycle(api) == []
    assert diff['before'] == diff['after'] == 'default: Started\napi: Started\n'


def test_stop_waits_until_stopped(clock):
    api = FakePools([('default', 'Started'), ('api', 'Started')], reads_to_settle=2)
    entry, diff = manage(Module('stopped'), Target(), api)
    assert entry['changed'] is True and entry['actions'] == ['stop']
    assert [p['status'] for p in entry['pools']] == ['Stopped', 'Stopped']
    assert [p['status'] for p in entry['pools_before']] == ['Started', 'Started']
    assert diff['after'] == 'default: Stopped\napi: Stopped\n'
    assert clock.sleeps[:2] == [0.25, 0.5]  # polls back off


def test_stop_without_wait_returns_the_pools_on_their_way(clock):
    api = FakePools([('default', 'Started')], reads_to_settle=None)
    entry, dummy = manage(Module('stopped', wait=False), Target(), api)
    assert entry['changed'] is True and entry['pools'][0]['status'] == 'Stopping'
    assert clock.sleeps == []


def test_starting_pools_are_waited_for_not_started_again(clock):
    api = FakePools([('default', 'Started'), ('api', 'Starting')])
    api.settle_after('api', 2)
    entry, dummy = manage(Module('started'), Target(), api)
    assert entry['changed'] is False and lifecycle(api) == []
    assert api.states() == ['Started', 'Started']


def test_stopping_pools_are_let_stop_before_the_start(clock):
    # upstream's start skips a Stopping pool: sending it at once would leave the pool stopped
    api = FakePools([('default', 'Stopped'), ('api', 'Stopping')])
    api.settle_after('api', 1)
    entry, dummy = manage(Module('started', wait=False), Target(), api)
    assert entry['actions'] == ['start']
    assert api.calls.index('start') > 1  # after the status read that saw 'api' Stopped
    assert api.states() == ['Starting', 'Starting']


def test_starting_pools_are_let_start_before_the_stop(clock):
    api = FakePools([('default', 'Starting'), ('api', 'Started')])
    api.settle_after('default', 1)
    entry, dummy = manage(Module('stopped'), Target(), api)
    assert entry['actions'] == ['stop'] and api.calls.index('stop') > 1
    assert api.states() == ['Stopped', 'Stopped']


def test_check_mode_reads_only(clock):
    api = FakePools([('default', 'Started'), ('api', 'Stopping')], reads_to_settle=None)
    entry, diff = manage(Module('started', check_mode=True), Target(), api)
    assert entry['changed'] is True and entry['actions'] == ['start']
    assert api.calls == ['status'] and clock.sleeps == []
    assert entry['pools'] == entry['pools_before']
    assert diff['after'] == 'default: Started\napi: Started\n'


# -- recycled ------------------------------------------------------------------------------------

def test_recycle_is_never_idempotent(clock):
    api = FakePools([('default', 'Started'), ('api', 'Started')])
    for dummy in range(2):
        entry, diff = manage(Module('recycled'), Target(), api)
        assert entry['changed'] is True and entry['actions'] == ['recycle']
    assert lifecycle(api) == ['recycle', 'recycle']
    assert diff['after'] == 'default: Started (recycled)\napi: Started (recycled)\n'


@pytest.mark.parametrize('check_mode', [False, True])
def test_recycle_of_a_stopped_pool_is_refused_before_sending(clock, check_mode):
    api = FakePools([('default', 'Started'), ('api', 'Stopped')])
    with pytest.raises(PoolNotStarted) as failure:
        manage(Module('recycled', check_mode=check_mode), Target(), api)
    assert lifecycle(api) == []
    assert str(failure.value) == (
        "cannot recycle the application pools of allocation 3fb8b969 task 'site': 'api' is Stopped; the driver "
        "fails a recycle of a pool that is not started (500). Use state=started first, or state=restarted")


def test_recycle_waits_for_a_starting_pool(clock):
    api = FakePools([('default', 'Starting')])
    api.settle_after('default', 1)
    entry, dummy = manage(Module('recycled'), Target(), api)
    assert entry['actions'] == ['recycle'] and api.calls.index('recycle') > 1


# -- restarted -----------------------------------------------------------------------------------

def test_restart_stops_waits_and_starts(clock):
    api = FakePools([('default', 'Started'), ('api', 'Started')], reads_to_settle=1)
    entry, dummy = manage(Module('restarted'), Target(), api)
    assert entry['actions'] == ['stop', 'start']
    calls = api.calls
    assert calls[0] == 'status' and calls[1] == 'stop' and calls[-1] == 'status'
    # between the stop and the start the pools were seen Stopped
    assert calls.index('start') > calls.index('stop') + 2
    assert [p['status'] for p in entry['pools']] == ['Started', 'Started']


def test_restart_of_stopped_pools_only_starts(clock):
    api = FakePools([('default', 'Stopped')])
    entry, dummy = manage(Module('restarted'), Target(), api)
    assert entry['changed'] is True and entry['actions'] == ['start']


def test_restart_in_check_mode(clock):
    api = FakePools([('default', 'Started'), ('api', 'Stopped')])
    entry, diff = manage(Module('restarted', check_mode=True), Target(), api)
    assert entry['actions'] == ['stop', 'start'] and api.calls == ['status']
    assert diff['after'] == 'default: Started (restarted)\napi: Started (restarted)\n'


# -- waiting runs out ----------------------------------------------------------------------------

def test_timeout_names_the_pools_and_their_last_states(clock):
    api = FakePools([('default', 'Started'), ('api', 'Started')], reads_to_settle=None)
    with pytest.raises(PoolWaitTimeout) as failure:
        manage(Module('stopped', wait_timeout=5), Target(), api)
    assert str(failure.value) == (
        "timed out after 5 seconds waiting for the application pools of allocation 3fb8b969 task 'site' to be "
        "Stopped: 'default' is Stopping, 'api' is Stopping (raise wait_timeout if they need longer)")
    assert sum(clock.sleeps) == pytest.approx(5)  # no sleep beyond the deadline


def test_wait_timeout_zero_checks_once(clock):
    api = FakePools([('default', 'Started')], reads_to_settle=None)
    with pytest.raises(PoolWaitTimeout, match='after 0 seconds'):
        manage(Module('stopped', wait_timeout=0), Target(), api)
    assert clock.sleeps == [] and api.calls == ['status', 'stop', 'status']


def test_restart_times_out_while_the_stop_lasts(clock):
    api = FakePools([('default', 'Started')], reads_to_settle=None)
    with pytest.raises(PoolWaitTimeout, match="to stop before they are started again: 'default' is Stopping"):
        manage(Module('restarted', wait_timeout=3), Target(), api)
    assert lifecycle(api) == ['stop']


# -- errors --------------------------------------------------------------------------------------

def test_forbidden_lifecycle_fails_with_the_clients_message(clock):
    # The capability the 403 names is the client's to say (test_management_client).
    api = FakePools([('default', 'Started')], forbid_lifecycle=True)
    with pytest.raises(ApiError) as failure:
        manage(Module('stopped'), Target(), api)
    assert failure.value.status == 403
    assert str(failure.value).startswith("stopping the application pools of allocation 3fb8b969 task 'site' failed: 403")


def test_forbidden_lifecycle_does_not_matter_when_nothing_is_sent(clock):
    api = FakePools([('default', 'Started')], forbid_lifecycle=True)
    entry, dummy = manage(Module('started'), Target(), api)
    assert entry['changed'] is False


# -- failures keep what was done -------------------------------------------------------------------

class Unanswered(FakePools):
    """The node acts on ``verb`` but its answer never comes (a read timeout after the request)."""

    def __init__(self, states, verb):
        super().__init__(states)
        self.unanswered = verb

    def pool_action(self, alloc_id, task, verb, action):
        super().pool_action(alloc_id, task, verb, action)
        if verb == self.unanswered:
            raise ApiError('%s failed: the request was sent, but no answer came from http://node:5004 within 30 seconds; '
                           'whether it took effect is unknown' % action, outcome_unknown=True)


@pytest.mark.parametrize('state, verb, actions', [('recycled', 'recycle', ['recycle']),
                                                  ('restarted', 'start', ['stop', 'start'])])
def test_a_request_without_an_answer_counts_as_a_change(clock, state, verb, actions):
    module = Module(state)
    api = Unanswered([('default', 'Started')], verb)
    module.management_client = lambda api_url: api
    module.road = lambda target: ApiRoad(module, target)
    entry = Target().result(changed=False)
    with pytest.raises(ApiError, match='whether it took effect is unknown'):
        PoolState(module).act(Target(), entry)
    assert entry['changed'] is True and entry['actions'] == actions


def test_a_failed_start_after_a_stop_still_reports_the_stop(clock):
    class StartRefused(FakePools):
        def pool_action(self, alloc_id, task, verb, action):
            if verb == 'start':
                raise ApiError('%s failed: 500 Internal Server Error' % action, status=500)
            super().pool_action(alloc_id, task, verb, action)
    module = Module('restarted')
    api = StartRefused([('default', 'Started')], reads_to_settle=0)
    module.management_client = lambda api_url: api
    module.road = lambda target: ApiRoad(module, target)
    entry = Target().result(changed=False)
    with pytest.raises(ApiError, match='500'):
        PoolState(module).act(Target(), entry)
    assert entry['changed'] is True and entry['actions'] == ['stop']
