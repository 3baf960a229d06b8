# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_node: what it plans to send for each starting state, and runs against a scripted Nomad
(drain and wait, idempotence, check mode, diff, cancel, eligibility, refusals)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.modules import nomad_node
from ansible_collections.nomad_iis.management.plugins.modules.nomad_node import plan
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_node_fakes import (
    NODE_1,
    FakeNomadNodes,
    make_node,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

HOUR = 3600 * 10 ** 9
RUNNING = [{'ID': 'a1', 'ClientStatus': 'running', 'JobType': 'service'}]
SYSTEM = [{'ID': 's1', 'ClientStatus': 'running', 'JobType': 'system'}]


def params(**overrides):
    base = dict(drain=None, eligible=None, drain_deadline='1h', ignore_system_jobs=False, drain_meta=None)
    base.update(overrides)
    return base


def node_with(eligibility='eligible', strategy=None):
    node = make_node(NODE_1, 'win-node-1')
    node['SchedulingEligibility'] = eligibility
    node['DrainStrategy'] = strategy
    return node


def actions(steps):
    return [step[0] for step in steps]


# -- Planning -------------------------------------------------------------------------------------

def test_drain_an_eligible_node():
    steps = plan(node_with(), RUNNING, params(drain=True, drain_meta={'reason': 'upgrade', 'n': 1}))
    assert steps == [('drain', 'drain', {'DrainSpec': {'Deadline': HOUR, 'IgnoreSystemJobs': False},
                                         'Meta': {'reason': 'upgrade', 'n': '1'}})]


@pytest.mark.parametrize('deadline, ns', [('0', 0), ('-1s', -10 ** 9), ('1h30m', 5400 * 10 ** 9), ('90', 90 * 10 ** 9),
                                          ('1.5s', 1500 * 10 ** 6), ('250ms', 250 * 10 ** 6)])
def test_deadlines_are_go_durations(deadline, ns):
    (step,) = plan(node_with(), RUNNING, params(drain=True, drain_deadline=deadline))
    assert step[2]['DrainSpec']['Deadline'] == ns


@pytest.mark.parametrize('deadline', ['', 'soon', '1d', '1h-', 'h'])
def test_bad_deadlines_are_refused(deadline):
    with pytest.raises(OptionError, match='drain_deadline must be a duration'):
        plan(node_with(), RUNNING, params(drain=True, drain_deadline=deadline))


def test_drained_already_is_no_change():
    # Ineligible and nothing left to move: a drain would have nothing to do.
    assert plan(node_with('ineligible'), [], params(drain=True)) == []
    assert plan(node_with('ineligible'), [{'ID': 'x', 'ClientStatus': 'complete'}], params(drain=True)) == []
    assert actions(plan(node_with('ineligible'), RUNNING, params(drain=True))) == ['drain']
    # System allocations count only when they are not ignored.
    assert plan(node_with('ineligible'), SYSTEM, params(drain=True, ignore_system_jobs=True)) == []
    assert actions(plan(node_with('ineligible'), SYSTEM, params(drain=True))) == ['drain']


def test_a_drain_in_progress_is_updated_only_when_it_differs():
    strategy = {'Deadline': HOUR, 'IgnoreSystemJobs': False, 'ForceDeadline': 'x', 'StartedAt': 'y'}
    assert plan(node_with('ineligible', strategy), RUNNING, params(drain=True)) == []
    assert actions(plan(node_with('ineligible', strategy), RUNNING, params(drain=True, drain_deadline='2h'))) == [
        'drain_update']
    assert actions(plan(node_with('ineligible', strategy), RUNNING, params(drain=True, ignore_system_jobs=True))) == [
        'drain_update']


def test_cancel_with_and_without_eligibility():
    strategy = {'Deadline': HOUR, 'IgnoreSystemJobs': False}
    assert plan(node_with('ineligible', strategy), [], params(drain=False)) == [
        ('drain_cancel', 'drain', {'DrainSpec': None, 'MarkEligible': False})]
    assert plan(node_with('ineligible', strategy), [], params(drain=False, eligible=True)) == [
        ('drain_cancel', 'drain', {'DrainSpec': None, 'MarkEligible': True})]
    assert plan(node_with('ineligible', strategy), [], params(drain=False, eligible=False))[0][2]['MarkEligible'] is False
    assert plan(node_with(), [], params(drain=False)) == []


def test_eligibility():
    assert plan(node_with('ineligible'), [], params(eligible=True)) == [
        ('eligible', 'eligibility', {'Eligibility': 'eligible'})]
    assert plan(node_with(), [], params(eligible=True)) == []
    assert actions(plan(node_with(), [], params(eligible=False))) == ['ineligible']
    assert plan(node_with('ineligible'), [], params(eligible=False)) == []


def test_refusals():
    with pytest.raises(OptionError, match='eligible=true cannot go with drain=true'):
        plan(node_with(), [], params(drain=True, eligible=True))
    draining = node_with('ineligible', {'Deadline': HOUR, 'IgnoreSystemJobs': False})
    with pytest.raises(OptionError, match='is draining.*set drain=false'):
        plan(draining, [], params(eligible=True))


# -- The module against a scripted Nomad ----------------------------------------------------------

def posts(server):
    return [(r.path_only, json.loads(r.body)) for r in server.requests if r.method == 'POST']


def test_drain_and_wait_then_idempotent(server, run_module):
    fake = FakeNomadNodes(server, drain_reads=3)
    args = dict(nomad_addr=server.url(), node='win-node-1', drain=True, drain_deadline='30m', wait=True,
                drain_meta={'message': 'upgrade'})
    result = run_module(nomad_node, args, diff=True)
    assert result['changed'] is True and result['actions'] == ['drain']
    assert posts(server) == [('/v1/node/%s/drain' % NODE_1,
                              {'DrainSpec': {'Deadline': 1800 * 10 ** 9, 'IgnoreSystemJobs': False},
                               'Meta': {'message': 'upgrade'}})]
    node = result['node']
    assert (node['drain'], node['eligibility'], node['last_drain']['status']) == (False, 'ineligible', 'complete')
    assert result['waited'] >= 0
    assert result['diff']['before']['SchedulingEligibility'] == 'eligible'
    assert result['diff']['after'] == {'SchedulingEligibility': 'ineligible', 'Drain': False, 'DrainSpec': None,
                                       'LastDrainStatus': 'complete'}
    # Blocking queries while the drain strategy is set.
    assert any('index=' in r.query for r in server.requests if r.path_only == '/v1/node/%s' % NODE_1)
    assert fake.nodes[NODE_1]['SchedulingEligibility'] == 'ineligible'

    server.requests.clear()
    again = run_module(nomad_node, args)
    assert again['changed'] is False and again['actions'] == [] and posts(server) == []

    back = run_module(nomad_node, dict(nomad_addr=server.url(), node=NODE_1[:8], eligible=True))
    assert back['changed'] is True and back['actions'] == ['eligible'] and back['node']['eligible'] is True


def test_check_mode_sends_nothing(server, run_module):
    FakeNomadNodes(server)
    result = run_module(nomad_node, dict(nomad_addr=server.url(), node='win-node-1', drain=True, wait=True),
                        check_mode=True, diff=True)
    assert result['changed'] is True and result['actions'] == ['drain']
    assert posts(server) == []
    assert result['node']['drain'] is True and result['node']['eligibility'] == 'ineligible'
    assert result['diff']['after']['Drain'] is True and 'waited' not in result


def test_a_cancelled_drain_fails_the_wait(server, run_module):
    fake = FakeNomadNodes(server, drain_reads=100)
    original = fake.route

    def route(request):
        reply = original(request)
        node = fake.nodes[NODE_1]
        if request.method == 'GET' and node['DrainStrategy'] is not None and fake.reads_since_drain >= 1:
            fake.drain(node, {'DrainSpec': None})  # someone cancels it
        return reply
    server.route = route
    result = run_module(nomad_node, dict(nomad_addr=server.url(), node='win-node-1', drain=True, wait=True))
    assert result['failed']
    assert result['msg'] == "the drain of node 'win-node-1' (%s) was cancelled before it completed" % NODE_1


def test_wait_times_out_naming_what_is_left(server, run_module):
    FakeNomadNodes(server, drain_reads=10 ** 6)
    result = run_module(nomad_node, dict(nomad_addr=server.url(), node='win-node-1', drain=True, wait=True,
                                         wait_timeout=1))
    assert result['failed']
    assert 'did not complete within 1 seconds: 1 allocation still on the node: a1 (web.web[0], running)' in result['msg']


def test_eligible_while_draining_is_refused_before_any_request(server, run_module):
    fake = FakeNomadNodes(server, drain_reads=100)
    fake.nodes[NODE_1]['DrainStrategy'] = {'Deadline': HOUR, 'IgnoreSystemJobs': False}
    fake.nodes[NODE_1]['SchedulingEligibility'] = 'ineligible'
    result = run_module(nomad_node, dict(nomad_addr=server.url(), node='win-node-1', eligible=True))
    assert result['failed'] and 'set drain=false' in result['msg'] and posts(server) == []
    result = run_module(nomad_node, dict(nomad_addr=server.url(), node='win-node-1', drain=False, eligible=True))
    assert result['actions'] == ['drain_cancel'] and result['node']['eligible'] is True


def test_a_nomad_error_names_the_action_and_the_node(server, run_module):
    fake = FakeNomadNodes(server)
    original = fake.route

    def route(request):
        if request.method == 'POST':
            return Reply(403, b'Permission denied')
        return original(request)
    server.route = route
    result = run_module(nomad_node, dict(nomad_addr=server.url(), node='win-node-1', eligible=False,
                                         nomad_token='s3cret-token'))
    assert result['failed'] and result['status'] == 403
    assert result['msg'].startswith("making ineligible of node 'win-node-1' (%s) failed: 403 Permission denied" % NODE_1)
    assert 'node:write' in result['msg'] and 's3cret-token' not in json.dumps(result)
