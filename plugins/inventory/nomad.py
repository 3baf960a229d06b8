# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: nomad
short_description: Nomad client nodes, or running allocations, as inventory hosts
version_added: 0.1.0
author:
  - nomad_iis.management contributors (!UNKNOWN)
description:
  - Reads the inventory from a Nomad cluster's HTTP API. With O(host_type=node) every client node
    is a host (for example to run the C(nomad_iis.management.management_api) role on the Windows
    nodes); with O(host_type=allocation) every running allocation is a host, for plays that act on
    allocations with the C(nomad_iis_*) modules on the controller.
  - 'The configuration is a YAML file whose name ends in C(nomad.yml) or C(nomad.yaml) and that
    holds C(plugin: nomad_iis.management.nomad).'
  - Every string read from Nomad is marked unsafe, so that a value such as node metadata holding
    C({{ ... }}) stays text and is never rendered as a template, on every supported
    ansible-core.
  - The connection options are those of the collection's modules, with the same environment
    variables (an empty variable counts as unset), so an AWX/Automation Controller credential that
    sets C(NOMAD_*) variables configures the plugin too. Options set in the file win over the
    environment, which wins over the defaults. An option set in the file may be a template (for
    example a lookup).
  - Needs no Python package beyond ansible-core.
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description:
      - The name of this plugin. It makes a YAML file a configuration file of this plugin.
    required: true
    type: str
    choices: [nomad_iis.management.nomad]
  host_type:
    description:
      - V(node) makes one host per Nomad client node, named after the node. C(ansible_host) is the
        node's address. Nodes whose status is V(down) are left out unless O(include_down) is set.
      - V(allocation) makes one host per running allocation (client status V(running), desired
        status V(run)), named C(<job>-<task group>-<index>) (Nomad's allocation name without its
        C([index]), which host patterns would take for a subscript). C(ansible_connection) is
        V(local), so that a play over these hosts runs the collection's modules on the controller;
        O(compose) can set it to something else.
      - See the notes for the host variables and groups of each.
    type: str
    choices: [node, allocation]
    default: node
  filter:
    description:
      - A Nomad filter expression, evaluated by Nomad on each node (O(host_type=node)) or each
        allocation (O(host_type=allocation)) before it answers, for example
        V(Datacenter == "dc1" and Attributes["kernel.name"] == "windows") or
        V("iis" in Drivers). Fields of the whole node or allocation can be used, also those not in
        the host variables (C(Meta), C(Attributes), the allocation's C(Job)).
      - The syntax is that of U(https://developer.hashicorp.com/nomad/api-docs#filtering). A malformed
        expression or an unknown field fails with Nomad's message.
    type: str
  include_down:
    description:
      - With O(host_type=node), also make hosts of nodes whose status is V(down).
      - Several nodes can have the same name (a rebuilt machine registers again under its name and
        its old registration stays, V(down)). The node that is V(ready) (else the newest one) gets
        the name; the others are named C(<name>-<first 8 characters of the node ID>).
    type: bool
    default: false
  node_details:
    description:
      - With O(host_type=node), read each node once more (C(/v1/node/:id)) to add C(nomad_meta),
        C(nomad_attributes) and C(nomad_http_addr) to its host variables.
      - Without it the whole inventory comes from one request (C(/v1/nodes)).
    type: bool
    default: false
  jobs:
    description:
      - With O(host_type=allocation), only the allocations of these jobs (their IDs). Empty means
        every job.
    type: list
    elements: str
    default: []
notes:
  - >-
    Host variables of node hosts: C(ansible_host) (the node's address), C(nomad_node_id),
    C(nomad_node_name), C(nomad_address), C(nomad_datacenter), C(nomad_node_class),
    C(nomad_node_pool), C(nomad_status) (V(ready), V(initializing), V(down), V(disconnected)),
    C(nomad_status_description), C(nomad_eligibility) (V(eligible), V(ineligible)), C(nomad_drain)
    (whether a drain is in progress), C(nomad_version) (Nomad's), C(nomad_drivers) (per driver
    C(detected), C(healthy), C(health_description)), C(nomad_iis_driver_version) and
    C(nomad_iis_api_url) (the Management API URL the node advertises; null when it has none), and
    with O(node_details) C(nomad_http_addr), C(nomad_meta) and C(nomad_attributes).
  - >-
    Groups of node hosts: C(datacenter_<datacenter>), C(node_pool_<pool>),
    C(node_class_<class>) (nodes with a class), and C(driver_<driver>) for each task driver that
    is detected and healthy on the node, unless the node is V(down); C(driver_iis) holds the nodes
    that can run IIS tasks.
  - >-
    Host variables of allocation hosts: C(ansible_connection) (V(local)), C(nomad_alloc_id),
    C(nomad_alloc_name) (Nomad's, with its index), C(nomad_namespace), C(nomad_job),
    C(nomad_job_type), C(nomad_job_version), C(nomad_task_group), C(nomad_tasks) (every task of
    the allocation), C(nomad_iis_tasks) (the tasks with C(driver = "iis")), C(nomad_client_status),
    C(nomad_node_id), C(nomad_node_name), C(nomad_node_address) and C(nomad_iis_api_url). Two
    running allocations with the same name (during a deployment, or of jobs with one name in two
    namespaces when O(nomad_namespace=*)) are told apart by
    C(-<first 8 characters of the allocation ID>) after the later one's name.
  - >-
    Groups of allocation hosts: C(job_<job>) and, within it, C(task_group_<job>_<task group>).
  - Characters that are not valid in group names become C(_) in these groups' names.
  - >-
    Requests: O(host_type=node) sends one (C(/v1/nodes)), plus one per node with
    O(node_details). O(host_type=allocation) sends C(/v1/allocations), C(/v1/nodes) and one
    C(/v1/job/:id) per job with running allocations. With the inventory cache on, a cached
    inventory is used until O(cache_timeout) runs out and sends no request. The cache holds what
    the hosts are made from, never the token, and is not used when O(nomad_addr),
    O(nomad_namespace), O(nomad_region), O(host_type), O(filter), O(jobs), O(include_down) or
    O(node_details) changed since it was written.
  - >-
    O(nomad_token) needs C(node:read) to list nodes, and C(read-job) in O(nomad_namespace) to list
    allocations. It is never shown in messages or in the inventory, and never written to the
    inventory cache.
  - >-
    A failure (Nomad unreachable, a token without the permission, a malformed O(filter)) fails
    the inventory source with one message that names the configuration file, the request and
    the cause.
seealso:
  - name: Nomad filter expressions
    description: The syntax of O(filter).
    link: https://developer.hashicorp.com/nomad/api-docs#filtering
  - ref: ansible_collections.nomad_iis.management.docsite.guide_awx
    description: Credential types, this plugin as an AWX inventory source, and the execution environment.
"""

EXAMPLES = r"""
# prod.nomad.yml: every Windows client node that can run IIS tasks, grouped by rack.
# `ansible-inventory -i prod.nomad.yml --graph`
plugin: nomad_iis.management.nomad
nomad_addr: https://nomad.example.com:4646
filter: 'Attributes["kernel.name"] == "windows"'
node_details: true
keyed_groups:
  - key: nomad_meta.rack | default('none')
    prefix: rack
compose:
  # WinRM to the node, under the name it has in DNS.
  ansible_host: nomad_node_name ~ '.corp.example.com'
  ansible_connection: "'winrm'"
groups:
  upgradable: nomad_drain == false and nomad_eligibility == 'eligible'

---
# web.nomad.yml: one host per running allocation of two jobs, in every namespace; the token comes
# from NOMAD_TOKEN (for example from an AWX credential).
plugin: nomad_iis.management.nomad
host_type: allocation
nomad_namespace: '*'
jobs: [web, shop]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/nomad-inventory
cache_timeout: 300

# A play over those hosts: the modules run on the controller, one task per allocation.
# - hosts: job_web
#   gather_facts: false
#   tasks:
#     - name: Recycle the application pools of each allocation
#       nomad_iis.management.nomad_iis_pool:
#         alloc_id: "{{ nomad_alloc_id }}"
#         state: recycled
"""

import os
import re

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.module_utils.errors import AnsibleFallbackNotFound
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import CONNECTION_OPTIONS, NOMAD_OPTIONS
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, NotFound
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import iis_tasks
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import (
    is_running,
    list_allocations,
    read_job,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import (
    DOWN,
    NodeDirectory,
    list_nodes,
    management_api_url,
)
from ansible_collections.nomad_iis.management.plugins.plugin_utils._unsafe import make_unsafe

# Bumped when what a cached snapshot holds changes, so that an old cache entry is refetched.
SNAPSHOT_VERSION = 1
# The options that decide what a snapshot holds: a cache entry written with others is not used.
SOURCE_OPTIONS = ('nomad_addr', 'nomad_namespace', 'nomad_region', 'host_type', 'filter', 'jobs', 'include_down',
                  'node_details')
# The stub fields the hosts are made from (an allocation stub's task states, with their events, are not).
NODE_FIELDS = ('ID', 'Name', 'Address', 'Datacenter', 'NodeClass', 'NodePool', 'Status', 'StatusDescription',
               'SchedulingEligibility', 'Drain', 'Version', 'Drivers', 'CreateIndex')
NODE_DETAIL_FIELDS = ('HTTPAddr', 'Meta', 'Attributes')
ALLOC_FIELDS = ('ID', 'Name', 'Namespace', 'JobID', 'JobType', 'JobVersion', 'TaskGroup', 'NodeID', 'NodeName',
                'ClientStatus', 'DesiredStatus', 'CreateIndex')
IIS_VERSION = 'driver.iis.version'
READY = 'ready'
_ALLOC_INDEX = re.compile(r'\[(\d+)\]$')
_HOST_NAME_CHARS = re.compile(r'[^A-Za-z0-9_.-]')


def _pick(data, fields):
    return dict((field, data.get(field)) for field in fields)


def _group_name(*parts):
    return to_safe_group_name('_'.join(parts), force=True, silent=True)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Nomad client nodes, or running allocations, as hosts (see DOCUMENTATION)."""

    NAME = 'nomad_iis.management.nomad'

    def verify_file(self, path):
        if super().verify_file(path):
            if path.endswith(('nomad.yml', 'nomad.yaml')):
                return True
            self.display.vvv('Skipping %s: the file name of a nomad_iis.management.nomad inventory ends in nomad.yml '
                             'or nomad.yaml' % path)
        return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        try:
            params = self._connection_params(config)
            source = dict((name, params.get(name, self.get_option(name))) for name in SOURCE_OPTIONS)
            snapshot = self._snapshot(path, source, params, cache)
        except NomadIisError as exc:
            # The message names the request and the cause; no secret: the client redacts them.
            raise AnsibleParserError('nomad_iis.management.nomad inventory %s: %s' % (path, exc)) from None
        if source['host_type'] == 'allocation':
            self._populate(self._allocation_hosts(snapshot))
        else:
            self._populate(self._node_hosts(snapshot))

    # -- options ------------------------------------------------------------------------------

    def _connection_params(self, config):
        """The connection options as the modules get them (``_argspec``): the file's value (rendered
        when it is a template), else the environment variable of the option's fallback, else the
        default; an empty value counts as unset."""
        params = {}
        for name, spec in list(NOMAD_OPTIONS.items()) + list(CONNECTION_OPTIONS.items()):
            value = self.get_option(name)
            if name in config and isinstance(value, str) and self.templar.is_template(value):
                value = self.templar.template(value)
            if name not in config or value in ('', None):
                value = spec.get('default')
                fallback = spec.get('fallback')
                if fallback:
                    try:
                        value = fallback[0](*fallback[1])
                    except AnsibleFallbackNotFound:
                        pass
            if spec.get('type') == 'path' and isinstance(value, str):
                value = os.path.expanduser(os.path.expandvars(value))
            params[name] = value
        return params

    # -- reading Nomad ------------------------------------------------------------------------

    def _snapshot(self, path, source, params, cache):
        """What the hosts are made from: from the inventory cache when allowed and written for the
        same source, else read from Nomad (and cached when the cache is on)."""
        source = dict(source, version=SNAPSHOT_VERSION)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache')
        update_cache = use_cache and not cache
        if use_cache and cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                update_cache = True
            else:
                if isinstance(cached, dict) and cached.get('source') == source:
                    self.display.vvv('nomad_iis.management.nomad: using the inventory cache for %s' % path)
                    return cached
                update_cache = True
        client = NomadClient.from_params(params)
        if source['host_type'] == 'allocation':
            snapshot = self._read_allocations(client, source)
        else:
            snapshot = self._read_nodes(client, source)
        snapshot['source'] = source
        if update_cache:
            self._cache[cache_key] = snapshot
        return snapshot

    def _read_nodes(self, client, source):
        stubs = [_pick(stub, NODE_FIELDS) for stub in list_nodes(client, source['filter'])]
        if not source['include_down']:
            stubs = [stub for stub in stubs if stub.get('Status') != DOWN]
        details = {}
        if source['node_details']:
            directory = NodeDirectory(client)
            details = dict((stub['ID'], _pick(directory.get(stub['ID']), NODE_DETAIL_FIELDS)) for stub in stubs)
        return dict(nodes=stubs, details=details)

    def _read_allocations(self, client, source):
        jobs = set(source['jobs'] or ())
        allocs = []
        for stub in list_allocations(client, source['nomad_namespace'], filter_expression=source['filter']):
            if is_running(stub) and (not jobs or stub.get('JobID') in jobs):
                alloc = _pick(stub, ALLOC_FIELDS)
                alloc['Tasks'] = sorted(stub.get('TaskStates') or {})
                allocs.append(alloc)
        groups = {}
        for namespace, job_id in sorted(set((alloc['Namespace'], alloc['JobID']) for alloc in allocs)):
            try:
                job = read_job(client, job_id, namespace) or {}
            except NotFound:
                job = {}  # purged while its allocations still run: its tasks' drivers are unknown
            for group in job.get('TaskGroups') or []:
                groups['%s/%s/%s' % (namespace, job_id, group.get('Name'))] = dict(
                    tasks=[task.get('Name') for task in group.get('Tasks') or []],
                    iis_tasks=iis_tasks(dict(Job=job, TaskGroup=group.get('Name'))))
        nodes = dict((stub['ID'], _pick(stub, NODE_FIELDS)) for stub in list_nodes(client))
        return dict(allocs=allocs, groups=groups, nodes=nodes)

    # -- hosts --------------------------------------------------------------------------------

    def _node_hosts(self, snapshot):
        """``(name, variables, groups)`` per node; of several nodes with one name, the ready (else
        newest) one keeps it and the others get their ID's first 8 characters after it."""
        by_name = {}
        for stub in snapshot['nodes']:
            by_name.setdefault(stub.get('Name') or stub['ID'], []).append(stub)
        hosts = []
        for name, stubs in sorted(by_name.items()):
            stubs.sort(key=lambda s: (s.get('Status') != READY, s.get('Status') == DOWN, -(s.get('CreateIndex') or 0)))
            for index, stub in enumerate(stubs):
                host = name if index == 0 else '%s-%s' % (name, stub['ID'][:8])
                hosts.append((host,) + self._node_host(stub, snapshot['details'].get(stub['ID'])))
        return hosts

    @staticmethod
    def _node_host(stub, details):
        drivers = stub.get('Drivers') or {}
        iis = drivers.get('iis') or {}
        variables = dict(
            ansible_host=stub.get('Address'),
            nomad_node_id=stub['ID'],
            nomad_node_name=stub.get('Name'),
            nomad_address=stub.get('Address'),
            nomad_datacenter=stub.get('Datacenter'),
            nomad_node_class=stub.get('NodeClass') or '',
            nomad_node_pool=stub.get('NodePool'),
            nomad_status=stub.get('Status'),
            nomad_status_description=stub.get('StatusDescription') or '',
            nomad_eligibility=stub.get('SchedulingEligibility'),
            nomad_drain=bool(stub.get('Drain')),
            nomad_version=stub.get('Version'),
            nomad_drivers=dict((name, dict(detected=bool(info.get('Detected')), healthy=bool(info.get('Healthy')),
                                           health_description=info.get('HealthDescription') or ''))
                               for name, info in drivers.items()),
            nomad_iis_driver_version=(iis.get('Attributes') or {}).get(IIS_VERSION),
            nomad_iis_api_url=management_api_url(stub),
        )
        if details is not None:
            variables.update(nomad_http_addr=details.get('HTTPAddr'), nomad_meta=details.get('Meta') or {},
                             nomad_attributes=details.get('Attributes') or {})
        groups = [_group_name('datacenter', stub.get('Datacenter') or '')]
        if stub.get('NodePool'):
            groups.append(_group_name('node_pool', stub['NodePool']))
        if stub.get('NodeClass'):
            groups.append(_group_name('node_class', stub['NodeClass']))
        if stub.get('Status') != DOWN:  # a down node's drivers are as it last reported them
            groups.extend(_group_name('driver', name) for name, info in sorted(drivers.items())
                          if info.get('Detected') and info.get('Healthy'))
        return variables, [(group, None) for group in groups]

    def _allocation_hosts(self, snapshot):
        """``(name, variables, groups)`` per running allocation: ``<job>-<group>-<index>``, and
        for a second allocation with that name its ID's first 8 characters after it."""
        hosts, taken = [], set()
        for alloc in sorted(snapshot['allocs'], key=_alloc_order):
            index = _alloc_index(alloc)
            name = _HOST_NAME_CHARS.sub('_', '%s-%s-%s' % (alloc.get('JobID'), alloc.get('TaskGroup'), index if index >= 0 else alloc['ID'][:8]))
            if name in taken:
                name = '%s-%s' % (name, alloc['ID'][:8])
            taken.add(name)
            node = snapshot['nodes'].get(alloc.get('NodeID')) or {}
            group = snapshot['groups'].get('%s/%s/%s' % (alloc.get('Namespace'), alloc.get('JobID'), alloc.get('TaskGroup'))) or {}
            variables = dict(
                ansible_connection='local',
                nomad_alloc_id=alloc['ID'],
                nomad_alloc_name=alloc.get('Name'),
                nomad_namespace=alloc.get('Namespace'),
                nomad_job=alloc.get('JobID'),
                nomad_job_type=alloc.get('JobType'),
                nomad_job_version=alloc.get('JobVersion'),
                nomad_task_group=alloc.get('TaskGroup'),
                nomad_tasks=alloc.get('Tasks') or group.get('tasks') or [],
                nomad_iis_tasks=group.get('iis_tasks') or [],
                nomad_client_status=alloc.get('ClientStatus'),
                nomad_node_id=alloc.get('NodeID'),
                nomad_node_name=alloc.get('NodeName') or node.get('Name'),
                nomad_node_address=node.get('Address'),
                nomad_iis_api_url=management_api_url(node) if node else None,
            )
            job_group = _group_name('job', alloc.get('JobID') or '')
            groups = [(job_group, None), (_group_name('task_group', alloc.get('JobID') or '', alloc.get('TaskGroup') or ''), job_group)]
            hosts.append((name, variables, groups))
        return hosts

    def _populate(self, hosts):
        strict = self.get_option('strict')
        for name, variables, groups in hosts:
            name = make_unsafe(name)
            variables = make_unsafe(variables)
            self.inventory.add_host(name)
            for group, parent in groups:
                self.inventory.add_group(group)
                if parent:
                    self.inventory.add_group(parent)
                    self.inventory.add_child(parent, group)
                self.inventory.add_child(group, name)
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            # As ansible.builtin.constructed: composed variables first, so that groups can use them.
            self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)


def _alloc_order(alloc):
    """Allocations by namespace, job, group and index, the oldest of one name first."""
    return (alloc.get('Namespace') or '', alloc.get('JobID') or '', alloc.get('TaskGroup') or '', _alloc_index(alloc),
            alloc.get('CreateIndex') or 0)


def _alloc_index(alloc):
    """The index in Nomad's allocation name ``job.group[index]``; -1 when it has none."""
    found = _ALLOC_INDEX.search(alloc.get('Name') or '')
    return int(found.group(1)) if found else -1
