#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_iis_cleanup
short_description: Remove the IIS application pools and sites the Nomad IIS driver left dangling
version_added: 0.1.0
description:
  - Finds the IIS application pools and websites that the Nomad IIS driver made and no longer owns on
    Windows client nodes, and removes them with C(appcmd) over WinRM. The driver leaves them behind when it
    crashes or is killed while it removes a task; upstream leaves their cleanup to the operators.
  - The driver's rule decides what is dangling. An object is dangling when its name starts with C(nomad-) and
    no running task of the driver owns it. Where the node has the Management API (O(via)), the driver's debug
    view says so; otherwise the module reads the node's pools and sites with C(appcmd) and the node's
    allocations in Nomad. An object named C(nomad-<allocation ID>-...) is then dangling unless that allocation
    is C(pending) or C(running) on the node.
  - Each object found dangling is checked with Nomad once more before it is removed. An object whose allocation
    is C(pending) or C(running) is kept, and so is every object whose name does not start with C(nomad-).
    When Nomad cannot be asked, or cannot say whether an allocation exists, nothing is removed and the module
    fails.
  - Sites are removed before pools, so no site is left pointing at a removed pool.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.management_api
  - nomad_iis.management.winrm
  - nomad_iis.management.winrm.via
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad_iis
attributes:
  check_mode:
    support: full
    details:
      - Lists what would be removed and removes nothing. Through the Management API no WinRM connection is needed.
  diff_mode:
    support: full
    details:
      - Shows each node's pools and sites named C(nomad-*) before and after.
  idempotent:
    support: full
options:
  node:
    description:
      - The nodes to clean up, each a node name, a full node ID or a unique prefix of one.
      - If not set, every node whose IIS driver Nomad detected and that is not C(down).
    type: list
    elements: str
  pools:
    description:
      - Remove dangling application pools.
    type: bool
    default: true
  sites:
    description:
      - Remove dangling websites.
    type: bool
    default: true
notes:
  - Removing needs WinRM (O(winrm_user), O(winrm_password)) on every road, because the Management API cannot
    remove IIS objects; the user must be an administrator of the node.
  - The Nomad token needs C(node:read) and C(read-job) in every namespace that runs IIS tasks on the nodes,
    since an allocation Nomad hides cannot be told apart from one that is gone. The Management API's debug view
    needs the capability C(Debug).
seealso:
  - module: nomad_iis.management.nomad_iis_info
  - name: Nomad IIS Management API, debug view
    description: The driver's list of dangling application pools and websites.
    link: https://nomad-iis.sevensolutions.cc/docs/features/management-api
"""

EXAMPLES = r"""
- name: See what would be removed on every Windows node
  nomad_iis.management.nomad_iis_cleanup:
    winrm_user: "{{ windows_admin_user }}"
    winrm_password: "{{ windows_admin_password }}"
  check_mode: true
  register: leftovers

- name: Show it
  ansible.builtin.debug:
    msg: "{{ leftovers.removed | map(attribute='name') | list }}"

- name: Remove the dangling pools and sites of one node, finding them with appcmd
  nomad_iis.management.nomad_iis_cleanup:
    node: win-node-2
    via: winrm
    winrm_user: "{{ windows_admin_user }}"
    winrm_password: "{{ windows_admin_password }}"
"""

RETURN = r"""
removed:
  description:
    - The objects removed (in check mode, those that would be), sites first.
  returned: always
  type: list
  elements: dict
  sample: [{node_name: win-node-2, node_id: 5e1c0f4a-..., type: site, name: nomad-0b6e3c1a-...-app,
            reason: allocation 0b6e3c1a-... is not pending or running on the node}]
  contains:
    node_name:
      description: The node's name.
      type: str
    node_id:
      description: The node's ID.
      type: str
    type:
      description: V(pool) or V(site).
      type: str
    name:
      description: The object's name in IIS.
      type: str
    reason:
      description: Why it is dangling.
      type: str
kept:
  description:
    - Every other application pool and site of the nodes, with the reason it stays.
  returned: always
  type: list
  elements: dict
  contains:
    node_name:
      description: The node's name.
      type: str
    node_id:
      description: The node's ID.
      type: str
    type:
      description: V(pool) or V(site).
      type: str
    name:
      description: The object's name in IIS.
      type: str
    reason:
      description: Why it stays, for example C(not named nomad-*) or C(allocation ... is running).
      type: str
nodes:
  description: One entry per node looked at.
  returned: always
  type: list
  elements: dict
  contains:
    node_name:
      description: The node's name.
      type: str
    node_id:
      description: The node's ID.
      type: str
    via:
      description: How the dangling objects were found, V(api) (the debug view) or V(winrm) (appcmd and Nomad).
      type: str
    api_url:
      description: The Management API the node advertises (V(null) when it has none).
      type: str
    changed:
      description: Whether something was (or would be) removed on the node.
      type: bool
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import Appcmd, NotFound
from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import nomad_iis_nodes_argument_spec
from ansible_collections.nomad_iis.management.plugins.module_utils._dangling import (
    POOL,
    SITE,
    classify,
    has_iis_driver,
    live_allocations,
    winrm_objects,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import choose_via
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import ManagementClient
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import (
    DOWN,
    NodeDirectory,
    management_api_url,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import WinrmMixin

KINDS = ((SITE, 'SITE', 'sites'), (POOL, 'APPPOOL', 'pools'))


class CleanupModule(WinrmMixin, NomadModule):
    shared_options = staticmethod(nomad_iis_nodes_argument_spec)


def chosen_nodes(module):
    """The full nodes of the ``node`` option, or every node with the IIS driver that is not down."""
    directory = NodeDirectory(module.nomad)
    if module.params['node']:
        stubs = [directory.resolve_one(value) for value in module.params['node']]
    else:
        stubs = [stub for stub in directory.stubs() if has_iis_driver(stub) and stub.get('Status') != DOWN]
    seen, nodes = set(), []
    for stub in stubs:
        if stub['ID'] not in seen:
            seen.add(stub['ID'])
            nodes.append(directory.get(stub['ID']))
    return nodes


def debug_view(module, api_url):
    """``(pool names, site names, {name: is_dangling})`` from the Management API's debug view."""
    view = ManagementClient.from_params(module.params, api_url).debug(
        'reading the debug view of the Management API at %s' % api_url) or {}
    pools = [p['name'] for p in view.get('iisAppPools') or []]
    sites = [s['name'] for s in view.get('iisWebsites') or []]
    flags = dict((o['name'], bool(o.get('isDangling'))) for o in (view.get('iisAppPools') or []) + (view.get('iisWebsites') or []))
    return pools, sites, flags


def clean_node(module, node, removed, kept):
    """Find the node's dangling objects, remove them (not in check mode); return the node's entry and diff."""
    params = module.params
    api_url = params.get('api_url') or management_api_url(node)
    via = choose_via(params, node, api_url)
    live, _allocs = live_allocations(module.nomad, node)
    appcmd = None
    if via == 'api':
        pools, sites, flags = debug_view(module, api_url)
    else:
        appcmd = Appcmd(module.shell_for(node).run)
        pools, sites = winrm_objects(appcmd)
        flags = None
    objects = {POOL: pools, SITE: sites}
    where = dict(node_name=node.get('Name'), node_id=node['ID'])
    # Everything is classified before anything is removed: one object Nomad cannot vouch for stops all.
    to_remove = []
    for kind, appcmd_kind, option in KINDS:
        dangling, staying = classify(module.nomad, node, objects[kind], kind, live, flags)
        if not params[option]:
            staying += [dict(item, reason='%s=false' % option) for item in dangling]
            dangling = []
        kept.extend(dict(where, **item) for item in staying)
        to_remove += [(appcmd_kind, item) for item in dangling]
    gone = []
    for appcmd_kind, item in to_remove:
        if not module.check_mode:
            appcmd = appcmd or Appcmd(module.shell_for(node).run)
            try:
                appcmd.call('removing dangling %s %r from node %r' % (item['type'], item['name'], node.get('Name')),
                            'delete', appcmd_kind, item['name'])
            except NotFound:
                pass  # gone meanwhile: what was wanted
        removed.append(dict(where, **item))
        gone.append('%s %s' % (item['type'], item['name']))
    driver_objects = sorted(set('%s %s' % (kind, name) for kind in (POOL, SITE) for name in objects[kind]
                                if name.startswith('nomad-')))
    diff = dict(before_header=node.get('Name'), after_header=node.get('Name'),
                before=''.join('%s\n' % o for o in driver_objects),
                after=''.join('%s\n' % o for o in driver_objects if o not in gone))
    return dict(where, via=via, api_url=api_url, changed=bool(gone)), diff


def run(module, removed, kept, nodes):
    diffs = []
    for node in chosen_nodes(module):
        entry, diff = clean_node(module, node, removed, kept)
        nodes.append(entry)
        diffs.append(diff)
    result = dict(changed=bool(removed), removed=removed, kept=kept, nodes=nodes)
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = diffs
    return result


def main():
    module = CleanupModule(
        argument_spec=dict(
            node=dict(type='list', elements='str'),
            pools=dict(type='bool', default=True),
            sites=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    removed, kept, nodes = [], [], []
    module.run(lambda module: run(module, removed, kept, nodes),
               partial=lambda: dict(changed=bool(removed), removed=removed, kept=kept, nodes=nodes))


if __name__ == '__main__':
    main()
