# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which IIS tasks a ``nomad_iis_*`` module acts on, and how to reach them.

Python versions supported: 3.11 and newer.

``alloc_id`` (full IDs or unique prefixes) names allocations; ``job`` names every running
allocation of a job, narrowed by ``task_group`` and ``node`` (the one node rule of
``_nomad_nodes``). ``task`` may be left out when the allocation has exactly one task with
``driver = "iis"``. The Management API URL is ``api_url`` when given, otherwise the one the node
advertises. A ``Target`` keeps the full allocation and node it was resolved from, so that nothing
reads them twice.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import ipaddress

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import AllocationLookupError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import (
    allocated_ports,
    group_tasks,
    is_running,
    job_allocations,
    read_allocation,
    resolve_allocation,
    task_config,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import (
    MANAGEMENT_API_ENABLED,
    NodeDirectory,
    NodeLookupError,
    management_api_url,
    node_host,
)

IIS_DRIVER = 'iis'


class Target:
    """One IIS task of one allocation: the allocation and node as Nomad returned them, and the
    Management API that serves the task (None where a module can do without it)."""

    def __init__(self, alloc, task, node, api_url):
        self.alloc = alloc
        self.node = node
        self.alloc_id = alloc['ID']
        self.job = alloc.get('JobID')
        self.namespace = alloc.get('Namespace')
        self.task_group = alloc.get('TaskGroup')
        self.node_id = alloc.get('NodeID')
        self.node_name = alloc.get('NodeName') or node.get('Name')
        self.task = task
        self.api_url = api_url
        self.via = None  # 'api' or 'winrm' for modules with a `via` option (see choose_via)

    @property
    def label(self):
        """How messages name it: ``allocation 8f3a21bc… task 'app'``."""
        return "allocation %s task '%s'" % (self.alloc_id[:8], self.task)

    @property
    def config(self):
        """The task's driver ``config`` block (bindings, applications...)."""
        return task_config(self.alloc, self.task)

    def result(self, **module_specific):
        """The per-allocation entry every nomad_iis_* module returns."""
        entry = dict(alloc_id=self.alloc_id, node_id=self.node_id, node_name=self.node_name, task=self.task,
                     api_url=self.api_url)
        if self.via is not None:
            entry['via'] = self.via
        entry.update(module_specific)
        return entry

    def site(self):
        """Where the task's IIS site answers: its first http binding (see ``TaskSite``)."""
        bindings = [b for b in self.config.get('binding') or [] if str(b.get('type', 'http')).lower() == 'http']
        if not bindings:
            raise OptionError('%s has no http binding to reach its site at (https-only sites are not supported)'
                              % self.label)
        binding = bindings[0]
        label = str(binding.get('port', ''))
        host, port = allocated_ports(self.alloc, self.task).get(label, (None, None))
        if port is None and label.isdigit():
            port = int(label)  # a static port number, allowed with a host name
        if not port:
            raise OptionError("%s: Nomad allocated no port for the label %r of the site's http binding"
                              % (self.label, label))
        if _unspecified(host):
            host = node_host(self.node)
            if not host:
                raise OptionError('%s: node %r has no address to reach the site at' % (self.label, self.node.get('Name')))
        return TaskSite(host, int(port), binding.get('hostname') or None)


class TaskSite:
    """The address a task's IIS site answers at: the port Nomad allocated for the label of its first
    http binding, on the host IP of that port (the node's address when the port is bound to every
    address), for requests that go to the site itself rather than through the Management API."""

    def __init__(self, host, port, hostname=None):
        self.host = host
        self.port = port
        self.hostname = hostname  # the binding's host name, which IIS matches against the Host header

    @property
    def address(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return 'http://%s:%d' % (host, self.port)

    def url(self, path='/'):
        """The URL of ``path`` through the allocated address."""
        return self.address + path

    def named_url(self, path='/'):
        """The URL of ``path`` with the binding's host name (what a browser is sent to), or None."""
        if not self.hostname or '*' in self.hostname:
            return None
        return 'http://%s:%d%s' % (self.hostname, self.port, path)

    @property
    def host_header(self):
        """The Host header IIS expects, or None when the binding takes any host name."""
        if not self.hostname or '*' in self.hostname:
            return None
        return '%s:%d' % (self.hostname, self.port)


def _unspecified(host):
    if not host:
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def iis_tasks(alloc):
    """The names of the allocation's tasks that use the IIS driver."""
    return [task['Name'] for task in group_tasks(alloc) if task.get('Driver') == IIS_DRIVER]


def choose_task(alloc, task):
    """The IIS task to act on: ``task``, checked, or the allocation's only IIS task."""
    names = iis_tasks(alloc)
    where = 'allocation %s of job %r' % (alloc['ID'][:8], alloc.get('JobID'))
    if task:
        if task not in names:
            raise AllocationLookupError('%s has no task %r with driver "iis" (its IIS tasks: %s)'
                                        % (where, task, ', '.join(names) or 'none'))
        return task
    if len(names) != 1:
        raise OptionError('%s has %s: set task' % (
            where, 'no task with driver "iis"' if not names else 'several IIS tasks (%s)' % ', '.join(names)))
    return names[0]


def _job_allocations(client, nodes, job, task_group, node):
    stubs = job_allocations(client, job)
    filters = ''.join(' and %s %r' % (k, v) for k, v in (('task_group', task_group), ('node', node)) if v)
    missing = 'job %r has no running allocation%s in namespace %r (%d allocation(s) in all)' % (
        job, filters, client.namespace, len(stubs))
    try:
        node_ids = nodes.node_ids(node or None)
    except NodeLookupError as exc:
        if exc.ambiguous:
            raise
        raise AllocationLookupError('%s: %s' % (missing, exc)) from None
    selected = [s for s in stubs if is_running(s)
                and (not task_group or s.get('TaskGroup') == task_group)
                and (node_ids is None or s.get('NodeID') in node_ids)]
    if not selected:
        raise AllocationLookupError(missing)
    return sorted(selected, key=lambda s: (s.get('NodeName') or '', s['ID']))


def choose_via(params, node, api_url):
    """How a module with a ``via`` option reaches a node: ``'api'`` or ``'winrm'``. ``auto`` takes the
    Management API where the node advertises it (or ``api_url`` is set), else WinRM where
    ``winrm_user`` is set; it fails naming both otherwise."""
    via = params.get('via') or 'auto'
    name = node.get('Name') or node.get('ID')
    if via == 'winrm' or (via == 'auto' and not api_url and params.get('winrm_user')):
        return 'winrm'
    if not api_url:
        raise OptionError('node %r does not advertise a Management API (its IIS driver attribute %s is not true): it '
                          'runs a driver build without the API. Set winrm_user and winrm_password to act over WinRM '
                          '(via=auto or via=winrm), or set api_url' % (name, MANAGEMENT_API_ENABLED))
    return 'api'


def resolve_targets(client, params, require_api=True):
    """The targets named by the module's targeting options, in a stable order.

    With ``require_api=False`` a node that advertises no Management API is no error: its targets
    get ``api_url`` None (for modules that can do without the API, e.g. local screenshots). Modules
    with a ``via`` option get ``target.via`` (``choose_via``) instead.
    """
    nodes = NodeDirectory(client)
    if params.get('alloc_id') is not None:
        if not params['alloc_id']:
            raise OptionError('alloc_id is an empty list: name at least one allocation')
        stubs = list(dict((stub['ID'], stub) for stub in (resolve_allocation(client, alloc_id)
                                                          for alloc_id in params['alloc_id'])).values())
    else:
        stubs = _job_allocations(client, nodes, params['job'], params.get('task_group'), params.get('node'))
    targets = []
    for stub in stubs:
        alloc = read_allocation(client, stub['ID'])
        task = choose_task(alloc, params.get('task'))
        node = nodes.get(alloc['NodeID'])
        api_url = params.get('api_url') or management_api_url(node)
        if 'via' in params:
            target = Target(alloc, task, node, api_url)
            target.via = choose_via(params, node, api_url)
            targets.append(target)
            continue
        if not api_url and require_api:
            raise OptionError('node %r does not advertise a Management API (its IIS driver attribute %s is not '
                              'true): it runs a driver build without the API, or set api_url'
                              % (node.get('Name') or node.get('ID'), MANAGEMENT_API_ENABLED))
        targets.append(Target(alloc, task, node, api_url))
    return targets
