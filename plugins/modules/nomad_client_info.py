#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_client_info
short_description: Read the host statistics of a Nomad client node or the resource usage of an allocation
version_added: 0.1.0
description:
  - Without O(alloc_id), reads the host statistics of a Nomad client node (memory, CPUs, disks,
    uptime) from C(/v1/client/stats).
  - With O(alloc_id), reads the resource usage (memory and CPU) of one allocation and of its
    tasks from C(/v1/client/allocation/:alloc_id/stats).
  - Returns the statistics as Nomad reports them, with Nomad's field names.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.info_module
  - nomad_iis.management.attributes.actiongroup_nomad
options:
  node_id:
    description:
      - The node whose host statistics to read, given as a node name, a full node ID or a unique prefix of
        one (see Notes).
      - If not set, the node of the Nomad agent at O(nomad_addr), which must then be a client agent.
      - Cannot be combined with O(alloc_id), whose statistics come from the node that runs it.
    type: str
  alloc_id:
    description:
      - The allocation whose resource usage to read, as a full allocation ID or a unique prefix of
        at least two characters, looked up in O(nomad_namespace) (V(*) searches every namespace).
    type: str
  task:
    description:
      - Only with O(alloc_id). Read the usage of this task only; the allocation total then covers
        this task only too.
      - A task that the allocation does not have is an error (Nomad itself answers with no tasks).
    type: str
notes:
  - Host statistics need the ACL capability C(node:read), a name or prefix in O(node_id) too.
    Allocation statistics need C(read-job) in the allocation's namespace.
seealso:
  - name: Nomad client stats API
    description: The C(/v1/client/stats) and C(/v1/client/allocation/:alloc_id/stats) endpoints.
    link: https://developer.hashicorp.com/nomad/api-docs/client
"""

EXAMPLES = r"""
- name: Read the host statistics of the node of the local Nomad agent
  nomad_iis.management.nomad_client_info:
  register: host
  delegate_to: localhost

- name: Show the available memory
  ansible.builtin.debug:
    msg: "{{ (host.host_stats.Memory.Available / 1048576) | int }} of {{ (host.host_stats.Memory.Total / 1048576) | int }} MiB available"

- name: Read the host statistics of another node, given by name
  nomad_iis.management.nomad_client_info:
    node_id: win-node-2
  register: node2
  delegate_to: localhost

- name: Find the running allocations of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
    status: running
  register: web
  delegate_to: localhost

- name: Read the resource usage of task app in the first one, given by an ID prefix
  nomad_iis.management.nomad_client_info:
    alloc_id: "{{ web.allocations[0].id[:8] }}"
    task: app
  register: usage
  delegate_to: localhost

- name: Show its memory use
  ansible.builtin.debug:
    msg: "task app of {{ usage.allocation.alloc_id }} uses {{ usage.resource_usage.Tasks.app.ResourceUsage.MemoryStats.RSS }} bytes"
"""

RETURN = r"""
node_id:
  description:
    - Without O(alloc_id), the full ID of the node, or V(null) when O(node_id) was not set.
    - With O(alloc_id), the node that runs the allocation.
  returned: success
  type: str
  sample: 4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d
node_name:
  description: The name of that node (V(null) when O(node_id) and O(alloc_id) were not set).
  returned: success
  type: str
  sample: win-node-1
host_stats:
  description:
    - The node's host statistics (Nomad's C(HostStats)).
    - C(Memory) is in bytes, C(Uptime) in seconds, C(Timestamp) in Unix nanoseconds; C(CPU) has one
      entry per CPU with percentages, C(DiskStats) one entry per disk.
  returned: when O(alloc_id) is not set
  type: dict
  sample:
    Memory: {Total: 16624349184, Available: 9000000000, Used: 7000000000, Free: 2000000000}
    CPU: [{CPU: cpu0, User: 2.1, System: 1.0, Idle: 96.9, TotalPercent: 3.1, TotalTicks: 93.4}]
    DiskStats:
      - {Device: 'C:', Mountpoint: 'C:\', Size: 107374182400, Used: 42949672960, Available: 64424509440,
         UsedPercent: 40.0, InodesUsedPercent: 0.0}
    AllocDirStats: {Device: 'C:', Mountpoint: 'C:\', Size: 107374182400, Used: 42949672960, Available: 64424509440,
                    UsedPercent: 40.0, InodesUsedPercent: 0.0}
    DeviceStats: []
    Uptime: 123456
    Timestamp: 1714550000000000000
    CPUTicksConsumed: 187.5
allocation:
  description: The allocation whose usage was read.
  returned: when O(alloc_id) is set
  type: dict
  contains:
    alloc_id:
      description: Full allocation ID.
      type: str
    job:
      description: Job ID.
      type: str
    namespace:
      description: Namespace of the job.
      type: str
    task_group:
      description: Task group.
      type: str
    node_id:
      description: ID of the node that runs it.
      type: str
    node_name:
      description: Name of that node.
      type: str
    client_status:
      description: C(pending), C(running), C(complete), C(failed), C(lost) or C(unknown).
      type: str
  sample: {alloc_id: 8f3a21bc-5d2e-4c8b-9a01-0123456789ab, job: web, namespace: default, task_group: web,
           node_id: 4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d, node_name: win-node-1, client_status: running}
resource_usage:
  description:
    - The allocation's resource usage (Nomad's C(AllocResourceUsage)). C(ResourceUsage) is the
      total, C(Tasks) has the same per task (only O(task) when set).
    - C(MemoryStats) values are in bytes; C(CpuStats.Percent) is the share of one CPU.
      C(Measured) lists which fields the task driver measures.
  returned: when O(alloc_id) is set
  type: dict
  sample:
    ResourceUsage:
      MemoryStats: {RSS: 52428800, Swap: 0, Usage: 52428800, MaxUsage: 60000000, Measured: [RSS, Swap, Max Usage]}
      CpuStats: {SystemMode: 0.5, UserMode: 1.2, Percent: 1.7, TotalTicks: 44.2, Measured: [System Mode, User Mode, Percent]}
    Tasks:
      app:
        ResourceUsage:
          MemoryStats: {RSS: 52428800, Swap: 0, Usage: 52428800, MaxUsage: 60000000, Measured: [RSS, Swap, Max Usage]}
          CpuStats: {SystemMode: 0.5, UserMode: 1.2, Percent: 1.7, TotalTicks: 44.2, Measured: [System Mode, User Mode, Percent]}
        Timestamp: 1714550000000000000
        Pids: null
    Timestamp: 1714550000000000000
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import (
    allocation_summary,
    resolve_allocation,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import node_target


def host_stats(module):
    nomad = module.nomad
    node = node_target(nomad, module.params['node_id'])
    stats = nomad.get_json('/v1/client/stats', action='reading the host statistics of %s' % node, params=node.params)
    return dict(changed=False, host_stats=stats or {}, **node.result())


def allocation_stats(module):
    nomad = module.nomad
    task = module.params['task']
    alloc = resolve_allocation(nomad, module.params['alloc_id'])
    summary = allocation_summary(alloc)
    what = 'allocation %s of job %r' % (alloc['ID'], alloc.get('JobID'))
    if task is not None:
        what = 'task %r of %s' % (task, what)
    usage = nomad.get_json('/v1/client/allocation/{}/stats', alloc['ID'], action='reading the resource usage of %s' % what,
                           params=dict(task=task)) or {}
    if task is not None and task not in (usage.get('Tasks') or {}):
        known = sorted(alloc.get('TaskStates') or {})
        raise NomadIisError('reading the resource usage of %s failed: the allocation has no task %r%s'
                            % (what, task, ' (its tasks: %s)' % ', '.join(known) if known else ''))
    return dict(changed=False, allocation=summary, resource_usage=usage,
                node_id=summary['node_id'], node_name=summary['node_name'])


def read_stats(module):
    if module.params['alloc_id'] is not None:
        return allocation_stats(module)
    return host_stats(module)


def main():
    module = NomadModule(
        argument_spec=dict(
            node_id=dict(type='str'),
            alloc_id=dict(type='str'),
            task=dict(type='str'),
        ),
        mutually_exclusive=[('node_id', 'alloc_id')],
        required_by=dict(task='alloc_id'),
        supports_check_mode=True,
    )
    module.run(read_stats)


if __name__ == '__main__':
    main()
