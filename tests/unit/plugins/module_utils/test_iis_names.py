# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The driver's IIS names per driver version, their confirmation against IIS, and the dangling rule."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._iis_names import (
    DriverNames,
    IisNamesError,
    confirm,
    dangling_reason,
    keep_reason,
    owner,
    sanitize,
    scheme_of,
    used_pools,
    version_of,
)

ALLOC = '8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f'
TWO_POOLS = {'application_pool': [{'name': 'unused'}, {'name': 'api'}, {'name': 'default'}],
             'application': [{'path': 'local'}, {'path': 'local/api', 'alias': 'api', 'application_pool': 'api'}]}


def test_used_pools_in_the_drivers_order():
    assert used_pools(TWO_POOLS) == ['api', 'default']
    assert used_pools({}) == ['default']
    assert used_pools({'application': [{'path': 'a', 'application_pool': 'b'}]}) == ['b']
    assert used_pools({'applicationPool': [{'name': 'x'}], 'application': [{'application_pool': 'x'}]}) == ['x']


def test_names_per_version():
    names = DriverNames(ALLOC, 'site', TWO_POOLS)
    assert names.pools == {'api': 'nomad-%s-site-api' % ALLOC, 'default': 'nomad-%s-site' % ALLOC}
    assert names.site == 'nomad-%s-site' % ALLOC
    shared = DriverNames(ALLOC, 'site', {}, 'shared')
    assert shared.pools == {'default': 'nomad-%s-site' % ALLOC} and shared.site == 'nomad-%s-site' % ALLOC
    long_task = DriverNames(ALLOC, 'a-task-name-of-thirty-letters', {}, 'shared')
    assert long_task.site == 'nomad-%s' % ALLOC
    assert DriverNames(ALLOC, 'app', {}, 'legacy').site == '%s-app' % ALLOC
    assert DriverNames(ALLOC, 'app', {'target_website': 'Default Web Site'}).site == 'Default Web Site'


def test_sanitize_replaces_what_iis_refuses():
    assert sanitize('nomad-x-my task+1@a&b[c]') == 'nomad-x-my_task_1_a_b_c_'


@pytest.mark.parametrize('version, scheme', [('0.20.1', 'per-pool'), ('0.15.0', 'per-pool'), ('0.14.0', 'shared'),
                                             ('0.5.0', 'shared'), ('0.4.0', 'legacy'), (None, 'per-pool')])
def test_scheme_of_the_node_version(version, scheme):
    node = {'Attributes': {'driver.iis.version': version}} if version else {}
    assert scheme_of(version_of(node)) == scheme


def test_confirm_falls_back_to_the_scheme_iis_has():
    pools = ['DefaultAppPool', '%s-app' % ALLOC]
    names = confirm(ALLOC, 'app', {}, (0, 20, 1), pools, ['%s-app' % ALLOC], 'allocation 8f3a21bc')
    assert names.scheme == 'legacy'
    with pytest.raises(IisNamesError) as caught:
        confirm(ALLOC, 'app', TWO_POOLS, (0, 20, 1), ['nomad-%s-app' % ALLOC], [], 'allocation 8f3a21bc')
    assert 'nomad-%s-app-api' % ALLOC in str(caught.value)
    assert 'objects of IIS that name the allocation: nomad-%s-app' % ALLOC in str(caught.value)


def test_the_dangling_rule():
    live = {ALLOC: 'running'}
    gone = 'nomad-0b6e3c1a-1111-4222-8333-944455566677-app'
    assert owner('nomad-%s-app-api' % ALLOC) == ALLOC and owner('nomad-abc') is None
    assert dangling_reason('nomad-%s-app' % ALLOC, live) is None
    assert dangling_reason(gone, live) == 'allocation 0b6e3c1a-1111-4222-8333-944455566677 is not pending or running on the node'
    assert 'without an allocation ID' in dangling_reason('nomad-abc', live)
    assert dangling_reason('DefaultAppPool', live) is None
    assert keep_reason('DefaultAppPool', live) == "not named nomad-*: not the driver's"
    assert keep_reason('nomad-%s-app' % ALLOC, live) == 'allocation %s is running' % ALLOC
    assert keep_reason(gone, live) is None
    # A pre-0.5 name does not start with nomad-: never touched.
    assert keep_reason('%s-app' % ALLOC, {}) is not None
