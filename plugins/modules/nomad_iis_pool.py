#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_iis_pool
short_description: Start, stop, recycle or restart the application pools of an IIS task
version_added: 0.1.0
description:
  - Starts, stops, recycles or restarts the IIS application pools of an IIS task (C(driver = "iis"))
    running under Nomad, through the Nomad IIS driver's Management API, or with C(appcmd) over WinRM on
    nodes without the API (O(via)).
  - The Management API acts on all application pools of the task at once; so does this module, on either road.
  - Over WinRM the pools are found by the names the driver gives them (C(nomad-<alloc ID>-<task>[-<pool>])),
    checked against what C(appcmd list apppool) shows. The results, the idempotence and check mode are the
    same on both roads.
  - O(state=started) and O(state=stopped) are idempotent. The module reads the pools' status first
    and sends nothing when every pool already is in the wanted state or on its way there
    (C(Starting) for V(started), C(Stopping) for V(stopped)).
  - O(state=recycled) and O(state=restarted) are never idempotent. They act, and report a change,
    on every run.
  - When O(job) matches several allocations, they are handled one after another, each one finished
    (and waited for, with O(wait=true)) before the next, which makes a recycle or restart a rolling one.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.management_api
  - nomad_iis.management.winrm
  - nomad_iis.management.winrm.via
  - nomad_iis.management.connection
  - nomad_iis.management.iis_target
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad_iis
attributes:
  check_mode:
    support: full
    details:
      - Reads the pools' status and reports what would be sent. Nothing is sent and nothing is waited for.
  diff_mode:
    support: full
    details:
      - Shows the state of each pool before and after (in check mode, the expected state).
  idempotent:
    support: partial
    details:
      - V(started) and V(stopped) are idempotent; V(recycled) and V(restarted) act on every run.
options:
  state:
    description:
      - V(started) starts the pools that are stopped.
      - V(stopped) stops the pools that are started. Their worker processes shut down, and IIS answers
        requests to the site with 503 until the pools are started again.
      - V(recycled) recycles every pool. IIS recycles with overlap, so a new worker process starts before
        the old one leaves; a pool without a running worker process has nothing to replace. Every pool
        must be started. A pool that is not fails the module before anything is sent, because the
        driver answers a recycle of a stopped pool with a bare 500. Use V(started) first, or
        V(restarted).
      - V(restarted) stops the pools, waits until all of them are C(Stopped), and starts them again
        (pools that are already stopped are only started). Unlike V(recycled) there is a moment without
        a worker process, in which the site answers 503.
    type: str
    choices: [started, stopped, recycled, restarted]
    default: started
  wait:
    description:
      - Wait until every pool has reached the state (C(Started), or C(Stopped) for O(state=stopped)),
        polling the status endpoint.
      - Without waiting, the module returns right after the request; the pools may still be
        C(Starting) or C(Stopping).
      - Whatever O(wait) says, the module waits for pools that are on their way to the opposite
        state before it sends a request, because the driver ignores them. A C(Stopping) pool is not
        started and a C(Starting) pool is not stopped or recycled. O(state=restarted) always waits
        for the stop to finish before it starts the pools.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait, in all, for the pools of one allocation. When they run out, the
        module fails with a message naming each pool and its last state.
      - V(0) checks once, right after the request, without waiting.
      - Stopping takes as long as the worker processes need to shut down, at most the pool's
        C(shutdown_time_limit) (90 seconds by default in IIS).
    type: int
    default: 60
notes:
  - Through the Management API, needs the capabilities C(Status) and C(AppPoolLifecycle); an O(api_key) has all
    of them. Over WinRM, O(winrm_user) must be an administrator of the node. A token with only C(Status)
    reads the pools, so a run that has nothing to change succeeds
    with it, and a run that must act fails with a 403 that names the missing capability.
  - The driver starts every stopped pool of a task after a file upload with C(PUT), also pools that
    were stopped on purpose. So a deployment with M(nomad_iis.management.nomad_iis_fs) (without
    C(hot=true)) undoes O(state=stopped); stop the pools after the upload if they must stay stopped.
  - "A pool's C(start_mode) decides whether it has a worker process after a start: C(AlwaysRunning)
    pools start one at once, C(OnDemand) pools (the IIS default) only with the first request to the site."
  - With O(job), O(state=restarted) or O(state=recycled) is a rolling restart, O(max_parallel)
    allocations at a time (one by default); each is waited for (with O(wait=true)) before another one
    takes its place, and none starts after an allocation failed.
seealso:
  - module: nomad_iis.management.nomad_iis_info
  - module: nomad_iis.management.nomad_iis_fs
  - name: Nomad IIS Management API
    description: The driver's documentation of the API this module uses.
    link: https://nomad-iis.sevensolutions.cc/docs/features/management-api
"""

EXAMPLES = r"""
- name: Stop the application pools of every allocation of job shop
  nomad_iis.management.nomad_iis_pool:
    job: shop
    state: stopped

- name: Start them again, waiting at most two minutes per allocation
  nomad_iis.management.nomad_iis_pool:
    job: shop
    state: started
    wait_timeout: 120

- name: Recycle the pools of every allocation of job web, one allocation after another
  nomad_iis.management.nomad_iis_pool:
    job: web
    state: recycled

- name: Find the allocations of job web
  nomad_iis.management.nomad_iis_info:
    job: web
  register: web

- name: Restart the pools of the first one
  nomad_iis.management.nomad_iis_pool:
    alloc_id: "{{ web.allocations[0].alloc_id }}"
    task: app
    state: restarted
  register: restarted

- name: Show their states
  ansible.builtin.debug:
    msg: "{{ restarted.allocations[0].pools | map(attribute='status') }}"

- name: Recycle the pools of job web with appcmd over WinRM, also where nodes have no Management API
  nomad_iis.management.nomad_iis_pool:
    job: web
    state: recycled
    via: winrm
    winrm_user: "{{ windows_admin_user }}"
    winrm_password: "{{ windows_admin_password }}"
"""

RETURN = r"""
allocations:
  description: One entry per allocation acted on, in the order they were handled.
  returned: always
  type: list
  elements: dict
  contains:
    alloc_id:
      description: Allocation ID.
      type: str
      sample: 8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f
    node_id:
      description: ID of the node that runs the allocation.
      type: str
    node_name:
      description: Name of that node.
      type: str
    task:
      description: The IIS task.
      type: str
      sample: site
    api_url:
      description: The Management API the node advertises (V(null) when it has none).
      type: str
      sample: http://10.0.0.5:5004
    via:
      description: How the pools were reached, V(api) or V(winrm).
      type: str
      sample: api
    changed:
      description: Whether a request was sent to this allocation's pools (or would be, in check mode).
      type: bool
    actions:
      description:
        - The lifecycle requests sent, in order (in check mode, those that would be sent).
      type: list
      elements: str
      sample: [stop, start]
    pools_before:
      description: The task's application pools before the module acted.
      type: list
      elements: dict
      contains:
        name:
          description: The pool's name in the task's configuration (V(default) unless named).
          type: str
        status:
          description: V(Starting), V(Started), V(Stopping), V(Stopped) or V(Unknown).
          type: str
        worker_process_running:
          description: Whether a worker process of the pool is running.
          type: bool
    pools:
      description:
        - The task's application pools afterwards, read from the status endpoint.
        - In check mode, the pools as they are (nothing was changed).
      type: list
      elements: dict
      sample: [{name: default, status: Stopped, worker_process_running: false},
               {name: api, status: Stopped, worker_process_running: false}]
      contains:
        name:
          description: The pool's name in the task's configuration (V(default) unless named).
          type: str
        status:
          description: V(Starting), V(Started), V(Stopping), V(Stopped) or V(Unknown).
          type: str
        worker_process_running:
          description: Whether a worker process of the pool is running.
          type: bool
"""

import time

from ansible_collections.nomad_iis.management.plugins.module_utils._app_pools import (
    STARTED,
    STARTING,
    STOPPED,
    STOPPING,
    describe_pools,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import TargetAction
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import WinrmCapableModule

# The state each module state ends in.
WANTED = dict(started=STARTED, stopped=STOPPED, recycled=STARTED, restarted=STARTED)
VERB_ACTIONS = dict(start='starting', stop='stopping', recycle='recycling')
FIRST_POLL = 0.25
MAX_POLL = 2.0


class PoolWaitTimeout(NomadIisError):
    """The pools did not reach a state within wait_timeout."""


class PoolNotStarted(NomadIisError):
    """A recycle was asked for while a pool is not started (upstream answers 500)."""


class TaskPools:
    """The application pools of one target: read, act on, wait for."""

    def __init__(self, target, road, wait_timeout, check_mode):
        self.target = target
        self.road = road
        self.wait_timeout = wait_timeout
        self.check_mode = check_mode
        self.deadline = time.monotonic() + wait_timeout
        self.actions = []

    def read(self):
        return self.road.read_pools()

    def request(self, verb):
        """Start, stop or recycle the pools (in check mode, only note that it would be done)."""
        if not self.check_mode:
            self.road.pool_action(verb, '%s the application pools of %s' % (VERB_ACTIONS[verb], self.target.label))
        self.actions.append(verb)

    def settle(self, pools, moving, what):
        """Wait for pools that are ``moving`` (Starting or Stopping) to get there; not in check mode."""
        if self.check_mode:
            return pools
        return self.wait_until(pools, not_in_state(moving), what)

    def wait_until(self, pools, done, what):
        """Poll the status until ``done(pool)`` holds for every pool; ``what`` completes
        'waiting for the application pools of ... to ...' in the timeout message."""
        interval = FIRST_POLL
        while not all(done(p) for p in pools):
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise PoolWaitTimeout('timed out after %d seconds waiting for the application pools of %s to %s: %s '
                                      '(raise wait_timeout if they need longer)'
                                      % (self.wait_timeout, self.target.label, what, describe_pools(pools)))
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, MAX_POLL)
            pools = self.read()
        return pools


def in_state(state):
    return lambda pool: pool['status'] == state


def not_in_state(state):
    return lambda pool: pool['status'] != state


def started(task_pools, pools):
    """Start the pools that are neither started nor starting (once the stopping ones have stopped)."""
    if any(p['status'] not in (STARTED, STARTING) for p in pools):
        pools = task_pools.settle(pools, STOPPING, 'finish stopping before they are started')
        task_pools.request('start')
    return pools


def stopped(task_pools, pools):
    """Stop the pools that are neither stopped nor stopping (once the starting ones have started)."""
    if any(p['status'] not in (STOPPED, STOPPING) for p in pools):
        pools = task_pools.settle(pools, STARTING, 'finish starting before they are stopped')
        task_pools.request('stop')
    return pools


def recycled(task_pools, pools):
    """Recycle every pool; each must be started (starting ones are waited for)."""
    def refuse_unless(*states):
        not_started = [p for p in pools if p['status'] not in states]
        if not_started:
            raise PoolNotStarted('cannot recycle the application pools of %s: %s; the driver fails a recycle of a '
                                 'pool that is not started (500). Use state=started first, or state=restarted'
                                 % (task_pools.target.label, describe_pools(not_started)))

    refuse_unless(STARTED, STARTING)
    if pools:
        pools = task_pools.settle(pools, STARTING, 'finish starting before they are recycled')
        if not task_pools.check_mode:
            refuse_unless(STARTED)
        task_pools.request('recycle')
    return pools


def restarted(task_pools, pools):
    """Stop, wait until every pool is Stopped (the driver starts only those), start."""
    if pools:
        pools = stopped(task_pools, pools)
        if not task_pools.check_mode:
            pools = task_pools.wait_until(task_pools.read() if task_pools.actions else pools, in_state(STOPPED),
                                          'stop before they are started again')
        task_pools.request('start')
    return pools


ACT = dict(started=started, stopped=stopped, recycled=recycled, restarted=restarted)


def expected(pools, state):
    """The pools as they will be after ``state`` (for check mode's diff)."""
    return [dict(p, status=WANTED[state]) for p in pools]


def pool_lines(pools, suffix=''):
    return ''.join('%s: %s%s\n' % (p['name'], p['status'], suffix) for p in pools)


class PoolState(TargetAction):
    """Brings the application pools of each target into ``state``."""

    def check_options(self):
        if self.params['wait_timeout'] < 0:
            raise OptionError('wait_timeout must be 0 or more seconds, not %d' % self.params['wait_timeout'])

    def act(self, target, entry):
        state = self.params['state']
        task_pools = TaskPools(target, self.module.road(target), self.params['wait_timeout'], self.check_mode)
        before = task_pools.read()
        entry.update(actions=task_pools.actions, pools_before=before, pools=before)
        pools = ACT[state](task_pools, before)
        entry['changed'] = bool(task_pools.actions)
        if self.check_mode:
            after = expected(before, state) if task_pools.actions else before
        else:
            if task_pools.actions:
                pools = task_pools.read()
            if self.params['wait']:
                pools = task_pools.wait_until(pools, in_state(WANTED[state]), 'be %s' % WANTED[state])
            after = entry['pools'] = pools
        suffix = ' (%s)' % state if state in ('recycled', 'restarted') and entry['changed'] else ''
        return dict(before_header=target.label, after_header=target.label,
                    before=pool_lines(before), after=pool_lines(after, suffix))


def main():
    module = WinrmCapableModule(
        argument_spec=dict(
            state=dict(type='str', default='started', choices=list(WANTED)),
            wait=dict(type='bool', default=True),
            wait_timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    module.run_targets(PoolState(module))


if __name__ == '__main__':
    main()
