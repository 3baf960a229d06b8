#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_client_gc
short_description: Garbage collect terminal allocations on a Nomad client node
version_added: 0.1.0
description:
  - Makes a Nomad client garbage collect allocations that have finished (C(complete), C(failed)
    or C(lost)) now rather than when its GC thresholds are reached. The client destroys the
    allocation's runner and deletes its allocation directory, with the task logs and files in it.
  - With O(alloc_id), one allocation (C(/v1/client/allocation/:alloc_id/gc)); without it, every
    terminal allocation of a node (C(/v1/client/gc)).
  - Only allocations the client still holds are collected. The module first finds them, so a run
    with nothing to collect reports no change and sends no GC request, and check mode reports
    what would be collected.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - An allocation that was already collected is no change.
      - Nomad collects a whole node in the background, so a run right after a node-wide
        collection may still find allocations that are about to go and report them again.
options:
  alloc_id:
    description:
      - The allocation to garbage collect, as a full allocation ID or a unique prefix of at least
        two characters, looked up in O(nomad_namespace) (V(*) searches every namespace).
      - The allocation must have finished. A C(pending) or C(running) one is refused with an error
        before any GC request; stop it first (for example with C(nomad alloc stop)).
      - An allocation that the client has already collected is no change.
    type: str
  node_id:
    description:
      - Garbage collect every terminal allocation of this node, given as a node name, a full node ID or a
        unique prefix of one (see Notes).
      - If neither O(alloc_id) nor O(node_id) is set, the node of the Nomad agent at
        O(nomad_addr), which must then be a client agent; its ID is read from C(/v1/agent/self),
        which needs C(agent:read).
    type: str
notes:
  - Collecting one allocation needs the ACL capability C(submit-job) (or, on newer Nomad,
    C(gc-allocation)) in its namespace; collecting a node needs C(node:write).
  - To find what is left to collect, the module lists the node's allocations
    (C(/v1/node/:node_id/allocations)), which shows only allocations in namespaces the token may
    read (C(read-job)), and asks the client for each terminal one whether it still holds it (a
    read of its allocation directory, answered 404 by Nomad once the allocation was collected).
    On a node with terminal allocations in namespaces the token cannot read, the module may
    report nothing to collect.
  - Garbage collection deletes the allocation directory for good, logs included. Fetch what you
    need first (M(nomad_iis.management.nomad_alloc_logs), M(nomad_iis.management.nomad_alloc_fetch)).
seealso:
  - name: Nomad client GC API
    description: The C(/v1/client/gc) and C(/v1/client/allocation/:alloc_id/gc) endpoints.
    link: https://developer.hashicorp.com/nomad/api-docs/client#gc-allocation
"""

EXAMPLES = r"""
- name: Garbage collect every finished allocation on the node of the local Nomad agent
  nomad_iis.management.nomad_client_gc:
  register: local_gc
  delegate_to: localhost

- name: Show what was collected
  ansible.builtin.debug:
    msg: "collected {{ local_gc.collected | map(attribute='alloc_id') | list }} on {{ local_gc.node_name }}"

- name: Garbage collect every finished allocation on another node, given by name
  nomad_iis.management.nomad_client_gc:
    node_id: win-node-2
  delegate_to: localhost

- name: See what would be collected on a node, without collecting
  nomad_iis.management.nomad_client_gc:
    node_id: win-node-1
  check_mode: true
  register: would_collect
  delegate_to: localhost

- name: Garbage collect those allocations one by one
  nomad_iis.management.nomad_client_gc:
    alloc_id: "{{ item.alloc_id }}"
    nomad_namespace: "{{ item.namespace }}"
  loop: "{{ would_collect.collected }}"
  delegate_to: localhost
"""

RETURN = r"""
collected:
  description:
    - The allocations that were garbage collected (in check mode, that would be). Empty when the
      client had nothing (left) to collect.
  returned: success
  type: list
  elements: dict
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
      description: ID of the node that ran it.
      type: str
    node_name:
      description: Name of that node.
      type: str
    client_status:
      description: C(complete), C(failed) or C(lost).
      type: str
  sample:
    - {alloc_id: 8f3a21bc-5d2e-4c8b-9a01-0123456789ab, job: batch, namespace: default, task_group: run,
       node_id: 4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d, node_name: win-node-1, client_status: complete}
node_id:
  description: The full ID of the node that was (or would be) told to collect.
  returned: success
  type: str
  sample: 4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d
node_name:
  description: The name of that node.
  returned: success
  type: str
  sample: win-node-1
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NomadIisError, NotFound
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import (
    allocation_summary,
    is_terminal,
    node_allocations,
    resolve_allocation,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import (
    NodeTarget,
    local_node,
    node_target,
)

# What Nomad answers a GC request for an allocation the client does not (or no longer) hold as collectable.
NOT_ELIGIBLE = 'not eligible for GC'


def held_by_client(nomad, alloc):
    """Whether the client still holds the terminal allocation ``alloc``, i.e. has not collected it.

    Nomad has no read that says so directly. The file endpoints do: once the client destroyed an
    allocation's runner, ``/v1/client/fs/cat`` answers 404 ``state for allocation <id> not found
    on client`` (404 ``Unknown allocation`` if the client never had it), and it checks that before
    the token's capabilities. Asking for the directory ``/`` reads no file: an allocation still held
    answers 400 (a directory), or 403 without ``read-fs``.
    """
    action = 'checking whether the client still holds allocation %s' % alloc['ID']
    try:
        nomad.open('GET', '/v1/client/fs/cat/{}', alloc['ID'], action=action, params=dict(path='/')).close()
    except NotFound:
        return False
    except ApiError as exc:
        if exc.status is None:
            raise
    return True


def collect_allocation(module):
    nomad = module.nomad
    alloc = resolve_allocation(nomad, module.params['alloc_id'])
    node = NodeTarget(nomad.base_url, dict(ID=alloc.get('NodeID'), Name=alloc.get('NodeName')))
    result = dict(changed=False, collected=[], **node.result())
    what = 'allocation %s of job %r' % (alloc['ID'], alloc.get('JobID'))
    if not is_terminal(alloc):
        raise NomadIisError('%s is %s; only terminal allocations (complete, failed, lost) can be garbage collected'
                            % (what, alloc.get('ClientStatus') or 'not finished'))
    if not held_by_client(nomad, alloc):
        return result
    if not module.check_mode:
        try:
            nomad.request_json('GET', '/v1/client/allocation/{}/gc', alloc['ID'], action='garbage collection of %s' % what,
                               params=dict(namespace=alloc.get('Namespace')), idempotent=False)
        except ApiError as exc:
            # Collected in the meantime (by the client's own GC, or a concurrent run): nothing left to do.
            if exc.status == 500 and NOT_ELIGIBLE in (exc.body or ''):
                return result
            raise
    result.update(changed=True, collected=[allocation_summary(alloc)])
    return result


def collect_node(module):
    nomad = module.nomad
    if module.params['node_id'] is None:
        node = local_node(nomad)
    else:
        node = node_target(nomad, module.params['node_id'])
    allocs = node_allocations(nomad, node)
    collectable = [alloc for alloc in allocs if is_terminal(alloc) and held_by_client(nomad, alloc)]
    if collectable and not module.check_mode:
        nomad.request_json('GET', '/v1/client/gc', action='garbage collection of the terminal allocations of %s' % node,
                           params=node.params, idempotent=False)
    collected = sorted((allocation_summary(alloc) for alloc in collectable), key=lambda summary: summary['alloc_id'])
    return dict(changed=bool(collected), collected=collected, **node.result())


def garbage_collect(module):
    if module.params['alloc_id'] is not None:
        return collect_allocation(module)
    return collect_node(module)


def main():
    module = NomadModule(
        argument_spec=dict(
            alloc_id=dict(type='str'),
            node_id=dict(type='str'),
        ),
        mutually_exclusive=[('alloc_id', 'node_id')],
        supports_check_mode=True,
    )
    module.run(garbage_collect)


if __name__ == '__main__':
    main()
