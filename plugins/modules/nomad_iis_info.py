#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_iis_info
short_description: Read the application pool status of IIS tasks and the IIS driver's debug view
version_added: 0.1.0
description:
  - Reads the status of the IIS application pools of IIS tasks (C(driver = "iis")) running under
    Nomad, through the Nomad IIS driver's Management API, or with C(appcmd) over WinRM on nodes without
    the API (O(via)). The status of each pool is its state and whether a worker process runs; over WinRM
    also the worker processes' PIDs.
  - With O(debug=true), also reads the driver's debug view of each node that runs one of the
    allocations. It lists the task handles the driver holds and the IIS application pools and websites
    it knows, with the dangling ones (named C(nomad-*) but owned by no task, for example left behind
    by a crash). Over WinRM the view is built from what C(appcmd) lists and the node's allocations in
    Nomad, by the driver's rule.
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
  - nomad_iis.management.attributes.info_module
  - nomad_iis.management.attributes.actiongroup_nomad_iis
options:
  debug:
    description:
      - Also read the debug view (C(GET /api/v1/debug)) of the Management API of each node that runs
        one of the allocations, once per Management API, and return it in RV(debug).
    type: bool
    default: false
notes:
  - Through the Management API, needs the capability C(Status), and C(Debug) with O(debug=true); an
    O(api_key) has all of them. Over WinRM, O(winrm_user) must be an administrator of the node. The debug
    view is not limited to a namespace, job or allocation, so a token's
    C(Debug) capability shows every task of the node.
seealso:
  - module: nomad_iis.management.nomad_iis_pool
  - module: nomad_iis.management.nomad_alloc_info
  - name: Nomad IIS Management API
    description: The driver's documentation of the API this module uses.
    link: https://nomad-iis.sevensolutions.cc/docs/features/management-api
"""

EXAMPLES = r"""
- name: Read the application pools of every allocation of job shop
  nomad_iis.management.nomad_iis_info:
    job: shop
  register: shop

- name: Show the state of each pool
  ansible.builtin.debug:
    msg: "{{ item.0.alloc_id[:8] }} {{ item.1.name }}: {{ item.1.status }}"
  loop: "{{ shop.allocations | subelements('pools') }}"

- name: Read the pools of one allocation of job shop, and the debug view of its node
  nomad_iis.management.nomad_iis_info:
    alloc_id: "{{ shop.allocations[0].alloc_id }}"
    task: site
    debug: true
  register: shop_debug

- name: Fail when a node holds dangling IIS application pools
  ansible.builtin.assert:
    that:
      - shop_debug.debug[item].dangling_iis_app_pools == 0
  loop: "{{ shop_debug.debug.keys() | list }}"

- name: Read the pools and their worker PIDs with appcmd over WinRM
  nomad_iis.management.nomad_iis_info:
    job: web
    via: winrm
    winrm_user: "{{ windows_admin_user }}"
    winrm_password: "{{ windows_admin_password }}"
  register: web_over_winrm

- name: Show the worker PIDs
  ansible.builtin.debug:
    msg: "{{ web_over_winrm.allocations[0].pools | map(attribute='worker_pids') }}"
"""

RETURN = r"""
allocations:
  description: One entry per allocation.
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
      sample: win-node-1
    task:
      description: The IIS task.
      type: str
      sample: site
    api_url:
      description: The Management API the node advertises (V(null) when it has none).
      type: str
      sample: http://10.0.0.5:5004
    via:
      description: How the pools were read, V(api) or V(winrm).
      type: str
      sample: winrm
    changed:
      description: Always V(false).
      type: bool
    pools:
      description: The task's application pools, in the driver's order.
      type: list
      elements: dict
      sample: [{name: default, status: Started, worker_process_running: true},
               {name: api, status: Started, worker_process_running: true}]
      contains:
        name:
          description: The pool's name in the task's configuration (V(default) unless named).
          type: str
        status:
          description: V(Starting), V(Started), V(Stopping), V(Stopped) or V(Unknown).
          type: str
        worker_process_running:
          description: Whether a worker process of the pool is running (C(OnDemand) pools start one
            with the first request).
          type: bool
        worker_pids:
          description:
            - The PIDs of the pool's worker processes (C(w3wp)), from C(appcmd list wp).
            - V(null) through the Management API, which does not report them.
          type: list
          elements: int
debug:
  description:
    - The driver's debug view per node, keyed by the node's name, with the field names of the
      Management API in snake case.
    - Over WinRM the same shape, built from appcmd and Nomad; there C(task_id) and C(is_recovered) of a
      handle are V(null), since only the driver knows them.
  returned: when O(debug=true)
  type: dict
  sample:
    win-node-1:
      api_url: http://10.0.0.5:5004
      iis_handle_count: 1
      iis_handles:
        - task_id: 8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f/site/5c1d2e3f
          app_pool_names: [nomad-8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f-site]
          alloc_id: 8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f
          namespace: default
          job_id: shop
          job_name: shop
          task_name: site
          task_group_name: frontend
          is_recovered: false
      dangling_iis_app_pools: 0
      dangling_iis_websites: 0
      iis_app_pools: [{name: nomad-8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f-site, is_dangling: false}]
      iis_websites: [{name: nomad-8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f-site, is_dangling: false}]
  contains:
    api_url:
      description: The Management API the view was read from (V(null) over WinRM).
      type: str
    via:
      description: How the view was made, V(api) or V(winrm).
      type: str
    iis_handle_count:
      description: Number of task handles the driver holds.
      type: int
    iis_handles:
      description: The task handles (one per running IIS task on the node).
      type: list
      elements: dict
      contains:
        task_id:
          description: Nomad's task ID (C(<alloc_id>/<task>/<suffix>)).
          type: str
        app_pool_names:
          description: The IIS names of the task's application pools.
          type: list
          elements: str
        alloc_id:
          description: Allocation ID.
          type: str
        namespace:
          description: The allocation's namespace.
          type: str
        job_id:
          description: The job's ID.
          type: str
        job_name:
          description: The job's name.
          type: str
        task_name:
          description: The task's name.
          type: str
        task_group_name:
          description: The task group's name.
          type: str
        is_recovered:
          description: Whether the driver recovered the handle after a restart.
          type: bool
    dangling_iis_app_pools:
      description: Number of C(nomad-*) application pools no task owns.
      type: int
    dangling_iis_websites:
      description: Number of C(nomad-*) websites no task owns.
      type: int
    iis_app_pools:
      description: The IIS application pools the driver knows, with C(name) and C(is_dangling).
      type: list
      elements: dict
    iis_websites:
      description: The IIS websites the driver knows, with C(name) and C(is_dangling).
      type: list
      elements: dict
"""

import re

from ansible_collections.nomad_iis.management.plugins.module_utils._dangling import winrm_debug_view
from ansible_collections.nomad_iis.management.plugins.module_utils._module import TargetAction
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import WinrmCapableModule

_CAMEL_HUMP = re.compile(r'(?<=[a-z0-9])([A-Z])')


def snake_case(value):
    """The debug view with its camelCase keys in snake_case, at every level."""
    if isinstance(value, dict):
        return dict((_CAMEL_HUMP.sub(r'_\1', k).lower(), snake_case(v)) for k, v in value.items())
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    return value


class PoolInfo(TargetAction):
    """Reads the application pools of each target, and with ``debug`` the debug view of each node."""

    def act(self, target, entry):
        road = self.module.road(target)
        pools = road.read_pools()
        pids = road.worker_pids() or {}
        entry['pools'] = [dict(pool, worker_pids=pids.get(pool['name'])) for pool in pools]

    def finish(self, result, targets):
        if not self.params['debug']:
            return
        views = {}
        result['debug'] = {}
        for target in targets:
            key = target.api_url if target.via == 'api' else 'winrm:%s' % target.node_id
            if key not in views:
                if target.via == 'api':
                    view = self.module.management_client(target.api_url).debug(
                        'reading the debug view of the Management API at %s' % target.api_url)
                    views[key] = dict(snake_case(view) or {}, api_url=target.api_url, via='api')
                else:
                    views[key] = dict(winrm_debug_view(self.module, target.node), api_url=None, via='winrm')
            result['debug'][target.node_name or target.node_id] = views[key]


def main():
    module = WinrmCapableModule(
        argument_spec=dict(
            debug=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run_targets(PoolInfo(module))


if __name__ == '__main__':
    main()
