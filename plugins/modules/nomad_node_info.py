#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_node_info
short_description: List Nomad client nodes with their drivers, attributes, metadata, eligibility and drain state
version_added: 0.1.0
description:
  - Lists the client nodes of a Nomad cluster, or the nodes that match the filters given, with what
    Nomad knows of each (C(/v1/node/:id)) - status, scheduling eligibility, drain strategy and last
    drain, task drivers with their health and attributes, node attributes and metadata - and the
    URL of the Nomad IIS driver's Management API, when the node advertises one.
  - The filters O(node), O(datacenter), O(node_class), O(node_pool), O(status), O(driver) and
    O(filter) combine; a node is returned when it matches all of those given.
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.info_module
  - nomad_iis.management.attributes.actiongroup_nomad
options:
  node:
    description:
      - Only this node, given as a node name, a full node ID or a unique prefix of one (see Notes).
        Every node of that name is returned.
      - A name or ID that matches no node fails.
    type: str
  datacenter:
    description: Only the nodes in this datacenter.
    type: str
  node_class:
    description: Only the nodes of this node class.
    type: str
  node_pool:
    description: Only the nodes in this node pool.
    type: str
  status:
    description: Only the nodes whose status is one of these.
    type: list
    elements: str
    choices: [initializing, ready, down, disconnected]
  driver:
    description:
      - Only the nodes on which this task driver (for example V(iis)) is detected and healthy.
    type: str
  filter:
    description:
      - A Nomad filter expression, passed to Nomad as the C(filter) query parameter of
        C(/v1/nodes) and evaluated there, for example
        V(Meta.rack == "r1" and Attributes["kernel.name"] == "windows").
      - Nomad evaluates it on the full node. A malformed expression fails with Nomad's message.
    type: str
notes:
  - Nomad is asked for the list of nodes (C(/v1/nodes), once more with O(filter)) and then for each
    matching node (C(/v1/node/:id)); all of it needs C(node:read).
seealso:
  - module: nomad_iis.management.nomad_node
  - name: Nomad nodes API
    description: The endpoints this module reads.
    link: https://developer.hashicorp.com/nomad/api-docs/nodes
  - name: Nomad filter expressions
    description: The language of O(filter).
    link: https://developer.hashicorp.com/nomad/api-docs#filtering
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: List every node
  nomad_iis.management.nomad_node_info:
  register: all_nodes
  delegate_to: localhost

- name: Show each node's status, eligibility and IIS driver version
  ansible.builtin.debug:
    msg: >-
      {{ item.name }}: {{ item.status }}, {{ item.eligibility }},
      driver {{ item.drivers.iis.attributes['driver.iis.version'] | default('none') }}
  loop: "{{ all_nodes.nodes }}"
  loop_control:
    label: "{{ item.name }}"

- name: Find the ready nodes whose IIS driver is healthy
  nomad_iis.management.nomad_node_info:
    status: [ready]
    driver: iis
  register: iis_nodes
  delegate_to: localhost

- name: Read one node by name
  nomad_iis.management.nomad_node_info:
    node: win-node-1
  register: one_node
  delegate_to: localhost

- name: Show its Management API URL
  ansible.builtin.debug:
    msg: "{{ one_node.nodes[0].management_api_url }}"
"""

RETURN = r"""
nodes:
  description: The matching nodes, sorted by name and ID.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The node ID.
      type: str
      sample: 2d2b8b75-cf4b-418a-9757-5d911622abc0
    name:
      description: The node name.
      type: str
      sample: win-node-1
    datacenter:
      description: The node's datacenter.
      type: str
      sample: dc1
    node_class:
      description: The node class (empty when none).
      type: str
      sample: ""
    node_pool:
      description: The node pool.
      type: str
      sample: default
    status:
      description: V(initializing), V(ready), V(down) or V(disconnected).
      type: str
      sample: ready
    status_description:
      description: Nomad's explanation of the status.
      type: str
      sample: ""
    http_addr:
      description: The address of the node's Nomad HTTP API, C(host:port).
      type: str
      sample: 10.0.0.11:4646
    tls_enabled:
      description: Whether the node's Nomad HTTP API uses TLS.
      type: bool
      sample: false
    version:
      description: The node's Nomad version (its C(nomad.version) attribute).
      type: str
      sample: 1.10.5
    eligibility:
      description: The node's scheduling eligibility, V(eligible) or V(ineligible).
      type: str
      sample: eligible
    eligible:
      description: Whether the node is eligible for new allocations.
      type: bool
      sample: true
    drain:
      description: Whether a drain is in progress.
      type: bool
      sample: false
    drain_strategy:
      description: The drain in progress, or V(null).
      type: dict
      contains:
        deadline_seconds:
          description: The drain's deadline in seconds; V(0) means none, a negative one a forced drain.
          type: int
          sample: 3600
        ignore_system_jobs:
          description: Whether the allocations of system jobs stay.
          type: bool
          sample: false
        force_deadline:
          description: When the remaining allocations are stopped (RFC 3339; Go's zero time without a deadline).
          type: str
          sample: "2026-05-01T11:00:00.123456789Z"
        started_at:
          description: When the drain started (RFC 3339).
          type: str
          sample: "2026-05-01T10:00:00.123456789Z"
    last_drain:
      description: The most recent drain, or V(null) when the node was never drained.
      type: dict
      contains:
        status:
          description: V(draining), V(complete) or V(canceled).
          type: str
          sample: complete
        started_at:
          description: When it started (RFC 3339).
          type: str
          sample: "2026-05-01T10:00:00Z"
        updated_at:
          description: When it last changed (RFC 3339).
          type: str
          sample: "2026-05-01T10:02:13Z"
        accessor_id:
          description: The accessor ID of the ACL token that changed it last.
          type: str
          sample: token:acls-disabled
        meta:
          description: The metadata given with the drain.
          type: dict
          sample: {message: "nomad_iis driver upgrade"}
    drivers:
      description:
        - The node's task drivers by name, each with C(detected), C(healthy), C(health_description),
          C(attributes) and C(update_time) (when Nomad last saw the driver's fingerprint change).
      type: dict
      sample:
        iis:
          detected: true
          healthy: true
          health_description: Healthy
          attributes: {driver.iis.version: 0.20.1, driver.iis.management_api_enabled: "true",
                       driver.iis.management_api_port: "5004"}
          update_time: "2026-05-01T10:03:00.000000000Z"
    attributes:
      description: The node's attributes, as Nomad stores them (strings).
      type: dict
      sample: {kernel.name: windows, driver.iis: "1", driver.iis.version: 0.20.1}
    meta:
      description: The node's metadata.
      type: dict
      sample: {rack: r1}
    management_api_url:
      description:
        - The URL of the Nomad IIS driver's Management API on the node,
          C(http://<host of http_addr>:<driver.iis.management_api_port>), or V(null) when the node does
          not advertise one.
      type: str
      sample: http://10.0.0.11:5004
    create_index:
      description: The Raft index at which the node registered.
      type: int
      sample: 12
    modify_index:
      description: The Raft index of the node's last change.
      type: int
      sample: 345
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_node_state import node_summary
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import NodeDirectory

NODE_STATUSES = ('initializing', 'ready', 'down', 'disconnected')


def driver_healthy(stub, driver):
    info = (stub.get('Drivers') or {}).get(driver) or {}
    return bool(info.get('Detected')) and bool(info.get('Healthy'))


def matches(stub, params):
    """Whether a node stub passes the module's own filters (everything but ``node`` and ``filter``)."""
    checks = (
        (params['datacenter'], lambda: stub.get('Datacenter') == params['datacenter']),
        (params['node_class'], lambda: (stub.get('NodeClass') or '') == params['node_class']),
        (params['node_pool'], lambda: (stub.get('NodePool') or 'default') == params['node_pool']),
        (params['status'], lambda: stub.get('Status') in params['status']),
        (params['driver'], lambda: driver_healthy(stub, params['driver'])),
    )
    return all(check() for wanted, check in checks if wanted is not None)


def list_nodes(module):
    nomad = module.nomad
    params = module.params
    directory = NodeDirectory(nomad)
    if params['filter'] is not None:
        stubs = nomad.get_json('/v1/nodes', action='listing the nodes that match the filter %r' % params['filter'],
                               params=dict(filter=params['filter'])) or []
    else:
        stubs = directory.stubs()
    if params['node'] is not None:
        wanted = set(stub['ID'] for stub in directory.resolve(params['node']))
        stubs = [stub for stub in stubs if stub.get('ID') in wanted]
    stubs = sorted((stub for stub in stubs if matches(stub, params)), key=lambda s: (s.get('Name') or '', s.get('ID')))
    return dict(changed=False, nodes=[node_summary(directory.get(stub['ID'])) for stub in stubs])


def main():
    module = NomadModule(
        argument_spec=dict(
            node=dict(type='str'),
            datacenter=dict(type='str'),
            node_class=dict(type='str'),
            node_pool=dict(type='str'),
            status=dict(type='list', elements='str', choices=list(NODE_STATUSES)),
            driver=dict(type='str'),
            filter=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    module.run(list_nodes)


if __name__ == '__main__':
    main()
