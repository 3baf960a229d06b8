# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which IIS tasks a ``nomad_iis_*`` module acts on, and where their Management API is.

Python versions supported: 3.11 and newer.

``alloc_id`` (full ID or unique prefix) names one allocation; ``job`` names every running
allocation of a job, narrowed by ``task_group`` and ``node`` (name or ID). ``task`` may be left
out when the allocation has exactly one task with ``driver = "iis"``. The Management API URL is
``api_url`` when given, otherwise the node's HTTP address with the port the driver advertises in
the node attribute ``driver.iis.management_api_port``.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._allocations import resolve_allocation
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import AllocationLookupError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._targets import (
    MANAGEMENT_API_ENABLED,
    NodeDirectory,
    job_allocations,
    management_api_url,
    read_allocation,
)

IIS_DRIVER = 'iis'

TARGET_OPTIONS = dict(
    alloc_id=dict(type='str'),
    job=dict(type='str'),
    task_group=dict(type='str'),
    node=dict(type='str'),
    task=dict(type='str'),
)
TARGET_MUTUALLY_EXCLUSIVE = [('alloc_id', 'job')]
TARGET_REQUIRED_ONE_OF = [('alloc_id', 'job')]


class Target:
    """One IIS task of one allocation, and the Management API that serves it."""

    def __init__(self, alloc, task, node, api_url):
        self.alloc_id = alloc['ID']
        self.job = alloc.get('JobID')
        self.namespace = alloc.get('Namespace')
        self.task_group = alloc.get('TaskGroup')
        self.node_id = alloc.get('NodeID')
        self.node_name = alloc.get('NodeName') or node.get('Name')
        self.task = task
        self.api_url = api_url

    @property
    def label(self):
        """How messages name it: ``allocation 8f3a21bc… task 'app'``."""
        return "allocation %s task '%s'" % (self.alloc_id[:8], self.task)

    def result(self, **module_specific):
        """The per-allocation entry every nomad_iis_* module returns."""
        entry = dict(alloc_id=self.alloc_id, node_id=self.node_id, node_name=self.node_name, task=self.task,
                     api_url=self.api_url)
        entry.update(module_specific)
        return entry


def _iis_tasks(alloc):
    for group in (alloc.get('Job') or {}).get('TaskGroups') or []:
        if group.get('Name') == alloc.get('TaskGroup'):
            return [t['Name'] for t in group.get('Tasks') or [] if t.get('Driver') == IIS_DRIVER]
    return []


def _choose_task(alloc, task):
    iis_tasks = _iis_tasks(alloc)
    where = 'allocation %s of job %r' % (alloc['ID'][:8], alloc.get('JobID'))
    if task:
        if task not in iis_tasks:
            raise AllocationLookupError('%s has no task %r with driver "iis" (its IIS tasks: %s)'
                                        % (where, task, ', '.join(iis_tasks) or 'none'))
        return task
    if len(iis_tasks) != 1:
        raise OptionError('%s has %s: set task' % (
            where, 'no task with driver "iis"' if not iis_tasks else 'several IIS tasks (%s)' % ', '.join(iis_tasks)))
    return iis_tasks[0]


def _job_allocations(client, job, task_group, node):
    stubs = job_allocations(client, job)
    running = [s for s in stubs if s.get('ClientStatus') == 'running' and s.get('DesiredStatus') == 'run']
    selected = [s for s in running
                if (not task_group or s.get('TaskGroup') == task_group)
                and (not node or node in (s.get('NodeName'), s.get('NodeID')))]
    if not selected:
        filters = ''.join(' and %s %r' % (k, v) for k, v in (('task_group', task_group), ('node', node)) if v)
        raise AllocationLookupError('job %r has no running allocation%s in namespace %r (%d allocation(s) in all)'
                                    % (job, filters, client.namespace, len(stubs)))
    return sorted(selected, key=lambda s: (s.get('NodeName') or '', s['ID']))


def resolve_targets(client, params, require_api=True):
    """The targets named by the module's targeting options, in a stable order.

    With ``require_api=False`` a node that advertises no Management API is no error: its targets
    get ``api_url`` None (for modules that can do without the API, e.g. local screenshots).
    """
    if params.get('alloc_id'):
        stubs = [resolve_allocation(client, params['alloc_id'])]
    else:
        stubs = _job_allocations(client, params['job'], params.get('task_group'), params.get('node'))
    nodes = NodeDirectory(client)
    targets = []
    for stub in stubs:
        alloc = read_allocation(client, stub['ID'])
        task = _choose_task(alloc, params.get('task'))
        node = nodes.get(alloc['NodeID'])
        api_url = params.get('api_url') or management_api_url(node)
        if not api_url and require_api:
            raise OptionError('node %r does not advertise a Management API (its IIS driver attribute %s is not '
                              'true): it runs a driver build without the API, or set api_url'
                              % (node.get('Name') or node.get('ID'), MANAGEMENT_API_ENABLED))
        targets.append(Target(alloc, task, node, api_url))
    return targets
