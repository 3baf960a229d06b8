#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_alloc_info
short_description: List Nomad allocations with their tasks, node, ports and Management API URL
version_added: 0.1.0
description:
  - Lists the allocations of a job, a node, a namespace or the whole cluster, or looks up one
    allocation by its ID or a unique prefix of it.
  - For each allocation it returns the state of every task (with a summary of its events), the node
    it runs on, its ports as C(host:port), and the URL of the Nomad IIS driver's Management API on
    that node, when the node advertises one.
  - The filters O(alloc_id), O(job), O(node), O(task_group) and O(status) combine; an allocation is
    returned when it matches all of those given.
  - The namespace searched is O(nomad_namespace); V(*) searches every namespace the token may read.
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.info_module
  - nomad_iis.management.attributes.actiongroup_nomad
options:
  alloc_id:
    description:
      - The allocation's full ID, or a unique prefix of it (at least 2 characters; an odd number of
        hexadecimal digits is fine).
      - No match, or a prefix matching several allocations, fails with a message naming the
        candidates.
    type: str
  job:
    description:
      - Only the allocations of this job (its ID).
      - A job that does not exist gives an empty list, as Nomad answers.
    type: str
  node:
    description:
      - Only the allocations on this node, given as a node name, a full node ID or a unique prefix of one
        (see Notes).
      - A name or ID that matches no node fails.
    type: str
  task_group:
    description:
      - Only the allocations of this task group.
    type: str
  status:
    description:
      - Only the allocations whose client status is one of these.
      - Without it, allocations of every status are returned, including stopped and failed ones.
    type: list
    elements: str
    choices: [pending, running, complete, failed, lost, unknown]
notes:
  - Nomad is asked for the allocations once (C(/v1/job/:job/allocations) with O(job) in one
    namespace, C(/v1/allocations) otherwise), and each node the allocations run on is read once
    (C(/v1/node/:id)) for its Management API URL.
  - Reading nodes needs C(node:read) in the token's policy. When a node cannot be read (no
    permission, or the node is gone) the module warns and returns RV(allocations[].management_api_url) as
    V(null); O(node) needs C(node:read) too, to resolve the name.
seealso:
  - module: nomad_iis.management.nomad_alloc_fs_info
  - module: nomad_iis.management.nomad_alloc_logs
  - name: Nomad allocations API
    description: The endpoints this module reads.
    link: https://developer.hashicorp.com/nomad/api-docs/allocations
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find the running allocations of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
    status: running
  register: web

- name: Show where each one runs and where its node's Management API is
  ansible.builtin.debug:
    msg: "{{ item.id }} on {{ item.node.name }}: {{ item.management_api_url }}, ports {{ item.ports }}"
  loop: "{{ web.allocations }}"
  loop_control:
    label: "{{ item.id }}"

- name: Look up one allocation by the first characters of its ID
  nomad_iis.management.nomad_alloc_info:
    alloc_id: "{{ web.allocations[0].id[:8] }}"
  register: one

- name: Check that its task is running and has not restarted
  ansible.builtin.assert:
    that:
      - one.allocations[0].tasks.app.state == 'running'
      - one.allocations[0].tasks.app.restarts == 0

- name: Everything on node win-node-2, in every namespace
  nomad_iis.management.nomad_alloc_info:
    node: win-node-2
    nomad_namespace: '*'
  register: on_node
"""

RETURN = r"""
allocations:
  description:
    - The matching allocations, sorted by namespace, job, task group and creation.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The allocation ID.
      type: str
      sample: 8f3a21bc-5d2e-4c8b-9a01-0123456789ab
    name:
      description: The allocation name, C(<job>.<group>[<index>]).
      type: str
      sample: web.web[0]
    namespace:
      description: The namespace of the allocation's job.
      type: str
      sample: default
    job:
      description: The job ID.
      type: str
      sample: web
    job_type:
      description: The job type (V(service), V(batch), V(system), V(sysbatch)).
      type: str
      sample: service
    job_version:
      description: The version of the job the allocation runs.
      type: int
      sample: 0
    task_group:
      description: The task group.
      type: str
      sample: web
    client_status:
      description: What the client reports (V(pending), V(running), V(complete), V(failed), V(lost), V(unknown)).
      type: str
      sample: running
    client_description:
      description: The client's explanation of the status.
      type: str
      sample: Tasks are running
    desired_status:
      description: What the scheduler wants (V(run), V(stop), V(evict)).
      type: str
      sample: run
    create_time:
      description: When the allocation was created, in Unix nanoseconds.
      type: int
      sample: 1795596027387405118
    modify_time:
      description: When the allocation last changed, in Unix nanoseconds.
      type: int
      sample: 1795596027440336040
    node:
      description: The node the allocation was placed on.
      type: dict
      contains:
        id:
          description: The node ID.
          type: str
          sample: 2d2b8b75-cf4b-418a-9757-5d911622abc0
        name:
          description: The node name.
          type: str
          sample: win-node-1
    tasks:
      description: The state of each task, by task name.
      type: dict
      sample:
        app:
          state: running
          failed: false
          restarts: 0
          started_at: '2026-11-25T08:40:27Z'
          finished_at: null
          last_restart: null
          events:
            - {time: '2026-11-25T08:40:27.387405Z', type: Received, message: Task received by client}
            - {time: '2026-11-25T08:40:27.440336Z', type: Started, message: Task started by client}
      contains:
        state:
          description: V(pending), V(running) or V(dead).
          type: str
        failed:
          description: Whether the task failed.
          type: bool
        restarts:
          description: How many times the task was restarted.
          type: int
        started_at:
          description: When the task last started (RFC 3339), or V(null) if it never did.
          type: str
        finished_at:
          description: When the task finished (RFC 3339), or V(null) if it has not.
          type: str
        last_restart:
          description: When the task was last restarted (RFC 3339), or V(null).
          type: str
        events:
          description:
            - The task's events as Nomad keeps them (the most recent ones), oldest first, each with
              its C(time) (RFC 3339, UTC), C(type) and C(message).
          type: list
          elements: dict
    ports:
      description: The allocation's ports, by label, as C(host:port).
      type: dict
      sample: {http: '10.0.0.5:24780'}
    management_api_url:
      description:
        - The base URL of the Nomad IIS driver's Management API on the allocation's node, built from
          the host of the node's HTTP address and its attribute C(driver.iis.management_api_port).
          It is what the C(nomad_iis_*) modules use when their C(api_url) option is not set.
        - V(null) when the node does not run the IIS driver with the Management API enabled, or could
          not be read.
      type: str
      sample: http://10.0.0.5:5004
"""

import datetime

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import (
    ALL_NAMESPACES,
    CLIENT_STATUSES,
    allocation_ports,
    filter_allocations,
    job_allocations,
    list_allocations,
    read_allocation,
    resolve_allocation,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import NodeDirectory, management_api_url

# Go's zero time.Time, which Nomad sends for "never".
ZERO_TIME = '0001-01-01T00:00:00Z'


def find_allocations(module, nodes):
    """The allocation stubs the options select (with ``AllocatedResources`` where it came for free)."""
    client = module.nomad
    params = module.params
    node_ids = nodes.node_ids(params['node'])
    if params['alloc_id'] is not None:
        stubs = [resolve_allocation(client, params['alloc_id'])]
    elif params['job'] is not None and client.namespace != ALL_NAMESPACES:
        stubs = job_allocations(client, params['job'])
    else:
        stubs = list_allocations(client, resources=True)
    stubs = filter_allocations(stubs, job=params['job'], task_group=params['task_group'], node_ids=node_ids,
                               statuses=set(params['status']) if params['status'] else None)
    return sorted(stubs, key=lambda s: (s.get('Namespace', ''), s.get('JobID', ''), s.get('TaskGroup', ''),
                                        s.get('CreateIndex', 0), s.get('ID', '')))


def node_api_url(module, nodes, node_id, warned):
    """The node's Management API URL; a node that cannot be read gives None and one warning."""
    try:
        return management_api_url(nodes.get(node_id))
    except ApiError as exc:
        if exc.status not in (403, 404):
            raise
        if node_id not in warned:
            warned.add(node_id)
            module.warn('%s; management_api_url of its allocations is null' % exc)
        return None


def describe_time(value):
    """An RFC 3339 time from Nomad, or None for Go's zero time."""
    if not value or value.startswith('0001-01-01'):
        return None
    return value


def describe_event(event):
    nanoseconds = event.get('Time') or 0
    when = datetime.datetime.fromtimestamp(nanoseconds // 10 ** 9, tz=datetime.timezone.utc).replace(
        microsecond=nanoseconds % 10 ** 9 // 1000)
    return {
        'time': when.isoformat().replace('+00:00', 'Z'),
        'type': event.get('Type'),
        'message': event.get('DisplayMessage') or event.get('Message') or '',
    }


def describe_task(state):
    state = state or {}
    return {
        'state': state.get('State'),
        'failed': bool(state.get('Failed')),
        'restarts': state.get('Restarts') or 0,
        'started_at': describe_time(state.get('StartedAt')),
        'finished_at': describe_time(state.get('FinishedAt')),
        'last_restart': describe_time(state.get('LastRestart')),
        'events': [describe_event(event) for event in state.get('Events') or []],
    }


def describe_allocation(alloc, api_url):
    return {
        'id': alloc.get('ID'),
        'name': alloc.get('Name'),
        'namespace': alloc.get('Namespace'),
        'job': alloc.get('JobID'),
        'job_type': alloc.get('JobType'),
        'job_version': alloc.get('JobVersion'),
        'task_group': alloc.get('TaskGroup'),
        'client_status': alloc.get('ClientStatus'),
        'client_description': alloc.get('ClientDescription'),
        'desired_status': alloc.get('DesiredStatus'),
        'create_time': alloc.get('CreateTime'),
        'modify_time': alloc.get('ModifyTime'),
        'node': {'id': alloc.get('NodeID'), 'name': alloc.get('NodeName')},
        'tasks': dict((name, describe_task(state)) for name, state in (alloc.get('TaskStates') or {}).items()),
        'ports': allocation_ports(alloc),
        'management_api_url': api_url,
    }


def run(module):
    nodes = NodeDirectory(module.nomad)
    warned = set()
    allocations = []
    for stub in find_allocations(module, nodes):
        # Stubs from a job's list carry no AllocatedResources: the full allocation has the ports.
        alloc = stub if 'AllocatedResources' in stub else read_allocation(module.nomad, stub['ID'])
        allocations.append(describe_allocation(alloc, node_api_url(module, nodes, alloc.get('NodeID'), warned)))
    return dict(changed=False, allocations=allocations)


def main():
    module = NomadModule(
        argument_spec=dict(
            alloc_id=dict(type='str'),
            job=dict(type='str'),
            node=dict(type='str'),
            task_group=dict(type='str'),
            status=dict(type='list', elements='str', choices=list(CLIENT_STATUSES)),
        ),
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == '__main__':
    main()
