# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which of a node's IIS objects are dangling: the debug view's flags or the name rule, each
candidate confirmed with Nomad, and nothing decided when Nomad does not answer clearly."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._dangling import (
    NomadUnsure,
    classify,
    has_iis_driver,
    live_allocations,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NotFound

LIVE = '11111111-1111-4111-8111-111111111111'
OTHER_NODE = '22222222-2222-4222-8222-222222222222'
GONE = '33333333-3333-4333-8333-333333333333'
NODE = {'ID': 'n1', 'Name': 'win-node-1'}


class Nomad:
    def __init__(self, fail_list=False, forbidden=()):
        self.fail_list = fail_list
        self.forbidden = forbidden

    def get_json(self, path, *args, **kwargs):
        if path == '/v1/node/{}/allocations':
            if self.fail_list:
                raise ApiError('listing failed: 403 Permission denied', status=403)
            return [{'ID': LIVE, 'ClientStatus': 'running'}, {'ID': 'x', 'ClientStatus': 'failed'}]
        alloc_id = args[0]
        if alloc_id in self.forbidden:
            raise ApiError('reading allocation failed: 500', status=500)
        if alloc_id == OTHER_NODE:
            return {'ID': OTHER_NODE, 'NodeID': 'n2', 'ClientStatus': 'running'}
        raise NotFound('404', status=404)


def test_live_allocations():
    live, allocs = live_allocations(Nomad(), NODE)
    assert live == {LIVE: 'running'} and [a['ID'] for a in allocs] == [LIVE]
    with pytest.raises(NomadUnsure) as caught:
        live_allocations(Nomad(fail_list=True), NODE)
    assert 'nothing was removed' in str(caught.value)


def test_classify_by_name_and_nomad():
    names = ['DefaultAppPool', 'nomad-%s-app' % LIVE, 'nomad-%s-app' % OTHER_NODE, 'nomad-%s-app' % GONE, 'nomad-x']
    dangling, kept = classify(Nomad(), NODE, names, 'pool', {LIVE: 'running'})
    assert [d['name'] for d in dangling] == ['nomad-%s-app' % OTHER_NODE, 'nomad-%s-app' % GONE, 'nomad-x']
    assert [k['name'] for k in kept] == ['DefaultAppPool', 'nomad-%s-app' % LIVE]


def test_the_debug_view_decides_candidates():
    names = ['nomad-%s-app' % GONE, 'nomad-x']
    dangling, kept = classify(Nomad(), NODE, names, 'site', {}, api_view={'nomad-%s-app' % GONE: True, 'nomad-x': False})
    assert [d['name'] for d in dangling] == ['nomad-%s-app' % GONE]
    assert kept == [{'type': 'site', 'name': 'nomad-x', 'reason': 'a task handle of the driver owns it'}]


def test_an_unclear_answer_stops_everything():
    with pytest.raises(NomadUnsure):
        classify(Nomad(forbidden=(GONE,)), NODE, ['nomad-%s-app' % GONE], 'pool', {})


def test_has_iis_driver():
    assert has_iis_driver({'Drivers': {'iis': {'Detected': True}}})
    assert not has_iis_driver({'Drivers': {'raw_exec': {'Detected': True}}})
