# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Nomad's allocations as modules look them up: by ID prefix, by job, by node; their tasks and ports.

Python versions supported: 3.11 and newer.

Resolving an ``alloc_id`` option (a full allocation ID or a unique prefix): Nomad's client
endpoints take full IDs only (a short one gets a 500, "UUID must be 36 characters"), so prefixes
are resolved first through ``GET /v1/allocations?prefix=``. That endpoint needs an even number of
hex digits (it decodes the prefix as hex bytes, hyphens ignored): an odd prefix is sent without its
last digit and the answer filtered here, as the Nomad CLI does; a 1-digit prefix is refused, as the
CLI refuses it. Non-hex input is refused before any request. The prefix is sent in the canonical
8-4-4-4-12 layout, which both Nomad's hex-prefix index and a plain string-prefix match accept.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import AllocationLookupError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import join_host_port
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import FILTER_HINTS

ALL_NAMESPACES = '*'
# Nomad's client statuses (AllocListStub.ClientStatus).
CLIENT_STATUSES = ('pending', 'running', 'complete', 'failed', 'lost', 'unknown')
TERMINAL_CLIENT_STATUSES = ('complete', 'failed', 'lost')
UUID_HEX_DIGITS = 32
# Where the hyphens go in a canonical UUID, counted in hex digits before them.
_HYPHENS_AFTER = (8, 12, 16, 20)
# Candidates listed in an "ambiguous" message; the rest are counted.
MAX_CANDIDATES_SHOWN = 10

_ALLOC_ID_CHARS = re.compile(r'^[0-9a-f-]+$')


class AllocIdPrefix:
    """A validated ``alloc_id``: ``hex`` is what IDs must start with (hyphens removed), ``query`` is
    the even-length canonical prefix to send to ``/v1/allocations?prefix=``."""

    def __init__(self, alloc_id):
        self.text = alloc_id
        value = (alloc_id or '').strip().lower()
        if not value:
            raise OptionError('alloc_id must not be empty')
        if not _ALLOC_ID_CHARS.match(value):
            raise OptionError('alloc_id %r is not an allocation ID or a prefix of one: only hexadecimal digits '
                              'and "-" are allowed' % alloc_id)
        self.hex = value.replace('-', '')
        if len(self.hex) > UUID_HEX_DIGITS:
            raise OptionError('alloc_id %r is longer than an allocation ID (%d hexadecimal digits)'
                              % (alloc_id, UUID_HEX_DIGITS))
        if len(self.hex) < 2:
            raise OptionError('alloc_id %r is too short: give at least 2 characters of the allocation ID' % alloc_id)
        self.query = canonical_prefix(self.hex[:len(self.hex) // 2 * 2])

    @property
    def is_full_id(self):
        return len(self.hex) == UUID_HEX_DIGITS

    def matches(self, alloc_id):
        return alloc_id.replace('-', '').lower().startswith(self.hex)


def canonical_prefix(hex_digits):
    """Insert hyphens where a canonical UUID has them: ``8f3a21bc12`` -> ``8f3a21bc-12``."""
    parts = []
    start = 0
    for end in _HYPHENS_AFTER + (UUID_HEX_DIGITS,):
        if start >= len(hex_digits):
            break
        parts.append(hex_digits[start:end])
        start = end
    return '-'.join(parts)


def describe_allocation(stub):
    """One line about an allocation for messages: ID, job, group, node and status."""
    return '%s (job %r, group %r, node %r, %s)' % (
        stub.get('ID'), stub.get('JobID'), stub.get('TaskGroup'),
        stub.get('NodeName') or stub.get('NodeID'), stub.get('ClientStatus'))


def find_allocations(client, alloc_id, namespace=None):
    """All allocation stubs whose ID starts with ``alloc_id``, in ``namespace`` (default: the
    client's; ``*`` for every namespace the token may read)."""
    prefix = AllocIdPrefix(alloc_id)
    namespace = namespace or client.namespace
    stubs = client.get_json('/v1/allocations', action="looking up allocation %r in namespace %r" % (alloc_id, namespace),
                            params=dict(prefix=prefix.query, namespace=namespace))
    return [stub for stub in stubs or [] if prefix.matches(stub.get('ID', ''))]


def resolve_allocation(client, alloc_id, namespace=None):
    """The one allocation stub (``AllocListStub``) that ``alloc_id`` names.

    Raises ``OptionError`` for an ``alloc_id`` that cannot be an ID or prefix, and
    ``AllocationLookupError`` when nothing matches or the prefix is ambiguous.
    """
    namespace = namespace or client.namespace
    matches = find_allocations(client, alloc_id, namespace)
    where = 'in every namespace' if namespace == ALL_NAMESPACES else 'in namespace %r' % namespace
    if not matches:
        message = 'no allocation ID starts with %r %s' % (alloc_id, where)
        if namespace != ALL_NAMESPACES:
            message += " (set nomad_namespace to '*' to search every namespace)"
        raise AllocationLookupError(message)
    if len(matches) > 1:
        shown = [describe_allocation(stub) for stub in matches[:MAX_CANDIDATES_SHOWN]]
        if len(matches) > MAX_CANDIDATES_SHOWN:
            shown.append('and %d more' % (len(matches) - MAX_CANDIDATES_SHOWN))
        raise AllocationLookupError(
            'alloc_id %r is ambiguous %s: it matches %d allocations: %s. Give more characters of the ID'
            % (alloc_id, where, len(matches), '; '.join(shown)),
            candidates=matches)
    return matches[0]


# -- Reading and listing --------------------------------------------------------------------------

def read_allocation(client, alloc_id):
    """The full allocation (``/v1/allocation/:id``; ``alloc_id`` must be a full ID)."""
    return client.get_json('/v1/allocation/{}', alloc_id, action='reading allocation %s' % alloc_id)


def job_allocations(client, job, namespace=None):
    """The allocation stubs of ``job`` in ``namespace`` (default: the client's). Nomad answers an
    unknown job with an empty list, not an error."""
    namespace = namespace or client.namespace
    return client.get_json('/v1/job/{}/allocations', job,
                           action='listing the allocations of job %r in namespace %r' % (job, namespace),
                           params=dict(namespace=namespace)) or []


def list_allocations(client, namespace=None, resources=False, filter_expression=None):
    """Every allocation stub in ``namespace`` (``*``: every namespace the token may read); with
    ``resources`` the stubs carry ``AllocatedResources`` (ports), which saves reading each one.
    ``filter_expression`` is a Nomad filter expression, evaluated by Nomad on each full allocation."""
    namespace = namespace or client.namespace
    where = 'in every namespace' if namespace == ALL_NAMESPACES else 'in namespace %r' % namespace
    params = dict(namespace=namespace, resources=resources or None)
    if not filter_expression:
        return client.get_json('/v1/allocations', action='listing the allocations %s' % where, params=params) or []
    params['filter'] = filter_expression
    return client.get_json('/v1/allocations', action='listing the allocations %s matching filter %r' % (where, filter_expression),
                           params=params, hints=FILTER_HINTS) or []


def read_job(client, job, namespace=None):
    """The job (``/v1/job/:id``, ``read-job``) in ``namespace`` (default: the client's)."""
    namespace = namespace or client.namespace
    return client.get_json('/v1/job/{}', job, action='reading job %r in namespace %r' % (job, namespace),
                           params=dict(namespace=namespace))


def node_allocations(client, node):
    """The allocation stubs of ``node`` (a ``NodeTarget``; ``/v1/node/:id/allocations``), any namespace."""
    return client.get_json('/v1/node/{}/allocations', node.id, action='listing the allocations of %s' % node) or []


def filter_allocations(stubs, job=None, task_group=None, node_ids=None, statuses=None):
    """The stubs that match every filter given (None: no filter). ``node_ids`` and ``statuses``
    are collections of accepted values."""
    return [
        stub for stub in stubs
        if (job is None or stub.get('JobID') == job)
        and (task_group is None or stub.get('TaskGroup') == task_group)
        and (node_ids is None or stub.get('NodeID') in node_ids)
        and (statuses is None or stub.get('ClientStatus') in statuses)
    ]


def is_running(stub):
    """Whether an allocation runs and is meant to (what ``job`` acts on)."""
    return stub.get('ClientStatus') == 'running' and stub.get('DesiredStatus') == 'run'


def is_terminal(alloc):
    """Whether the client is done with an allocation (complete, failed or lost)."""
    return alloc.get('ClientStatus') in TERMINAL_CLIENT_STATUSES


def allocation_summary(alloc):
    """The allocation fields the client modules return, from an ``AllocListStub`` or ``Allocation``."""
    return dict(
        alloc_id=alloc.get('ID'),
        job=alloc.get('JobID'),
        namespace=alloc.get('Namespace'),
        task_group=alloc.get('TaskGroup'),
        node_id=alloc.get('NodeID'),
        node_name=alloc.get('NodeName'),
        client_status=alloc.get('ClientStatus'),
    )


# -- Tasks and ports ------------------------------------------------------------------------------

def group_tasks(alloc):
    """The task definitions (``Name``, ``Driver``, ``Config``...) of the allocation's task group,
    from the job that a full allocation embeds."""
    for group in (alloc.get('Job') or {}).get('TaskGroups') or []:
        if group.get('Name') == alloc.get('TaskGroup'):
            return group.get('Tasks') or []
    return []


def task_config(alloc, task):
    """The driver ``config`` block of ``task`` in a full allocation ({} when it has none)."""
    for candidate in group_tasks(alloc):
        if candidate.get('Name') == task:
            return candidate.get('Config') or {}
    return {}


def allocated_ports(alloc, task=None):
    """``{label: (host IP, port)}`` of what Nomad allocated, from ``AllocatedResources``.

    Nomad fills ``Shared.Ports`` (group ``network`` blocks, with the host IP each port is bound to);
    older jobs with task-level ``network`` blocks have ``ReservedPorts``/``DynamicPorts`` in the
    networks of ``Shared`` or of each task instead (of ``task`` only, when given). Shared ports come
    first. An allocation without ports gives ``{}``.
    """
    resources = alloc.get('AllocatedResources') or {}
    shared = resources.get('Shared') or {}
    found = {}
    for port in shared.get('Ports') or []:
        found.setdefault(port.get('Label'), (port.get('HostIP'), port.get('Value')))
    networks = list(shared.get('Networks') or [])
    tasks = resources.get('Tasks') or {}
    for name in sorted(tasks) if task is None else [task]:
        networks.extend((tasks.get(name) or {}).get('Networks') or [])
    for network in networks:
        for port in (network.get('ReservedPorts') or []) + (network.get('DynamicPorts') or []):
            found.setdefault(port.get('Label'), (network.get('IP'), port.get('Value')))
    return found


def allocation_ports(alloc):
    """``{label: "host:port"}`` of an allocation's ports (see ``allocated_ports``)."""
    return dict((label, join_host_port(host, port)) for label, (host, port) in allocated_ports(alloc).items())
