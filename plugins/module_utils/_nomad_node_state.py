# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A node's scheduling state (eligibility and drain), how to change it, and how modules describe a node.

Python versions supported: 3.11 and newer.

Nomad's node API (``nomad/node_endpoint.go`` UpdateDrain and UpdateEligibility; the
``api/nodes.go`` drain monitors; https://developer.hashicorp.com/nomad/api-docs/nodes):

- ``POST /v1/node/:id/drain`` with ``{"DrainSpec": {"Deadline": <ns>, "IgnoreSystemJobs": bool},
  "Meta": {...}}`` starts (or updates) a drain and makes the node ineligible; ``{"DrainSpec": null,
  "MarkEligible": bool}`` cancels it. ``Deadline`` is a Go ``time.Duration``: integer nanoseconds,
  ``0`` for no deadline, negative to force every allocation off at once.
- ``POST /v1/node/:id/eligibility`` with ``{"Eligibility": "eligible" | "ineligible"}``; Nomad
  refuses ``eligible`` while the node drains (a 500).
- A drain is complete when the node's ``DrainStrategy`` is gone, ``LastDrain.Status`` is
  ``complete`` and no allocation (no non-system one, with ``IgnoreSystemJobs``) is pending or running
  on the node, which is what ``nomad node drain`` waits for. The node then stays ineligible.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re
import time

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import management_api_url

ELIGIBLE = 'eligible'
INELIGIBLE = 'ineligible'
LIVE_CLIENT_STATUSES = ('pending', 'running')
SYSTEM_JOB = 'system'
# Longest blocking query while waiting; Nomad caps `wait` at 300 s.
MAX_BLOCKING_WAIT = 60

_UNITS = {'ns': 1, 'us': 1000, 'µs': 1000, 'μs': 1000, 'ms': 1000 ** 2, 's': 1000 ** 3, 'm': 60 * 1000 ** 3,
          'h': 3600 * 1000 ** 3}
_DURATION_PART = re.compile(r'(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)')


class DrainError(NomadIisError):
    """A drain that was cancelled, or did not finish in time."""


def parse_duration(value, option='drain_deadline'):
    """Go's ``time.ParseDuration`` (``1h30m``, ``90s``, ``-1s``; ``0`` alone needs no unit), in
    integer nanoseconds. A plain number is taken as seconds."""
    if isinstance(value, bool):
        raise OptionError('%s must be a duration such as 1h, 30m or 90s, not %r' % (option, value))
    if isinstance(value, (int, float)):
        return int(value * 1000 ** 3)
    text = str(value).strip()
    sign = -1 if text.startswith('-') else 1
    body = text[1:] if text[:1] in '+-' else text
    if body == '0':
        return 0
    if re.fullmatch(r'\d+', body):
        return sign * int(body) * 1000 ** 3
    total, position = 0, 0
    while body and position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not body or position != len(body):
        raise OptionError('%s must be a duration such as 1h, 30m or 90s (Go syntax; 0 for no deadline, '
                          'a negative one to force the drain), not %r' % (option, value))
    return sign * int(round(total))


def drain_spec(strategy):
    """``(Deadline in ns, IgnoreSystemJobs)`` of a node's ``DrainStrategy`` (None when not draining).

    Nomad embeds ``DrainSpec`` in ``DrainStrategy``, so its fields sit at the top level; a nested
    ``DrainSpec`` is read too."""
    if not strategy:
        return None
    spec = strategy.get('DrainSpec') if isinstance(strategy.get('DrainSpec'), dict) else strategy
    return int(spec.get('Deadline') or 0), bool(spec.get('IgnoreSystemJobs'))


def live_allocations(allocations, ignore_system_jobs=False):
    """The allocations a drain still has to move: pending or running, system jobs left out when ignored."""
    live = []
    for alloc in allocations or []:
        if alloc.get('ClientStatus') not in LIVE_CLIENT_STATUSES:
            continue
        job_type = alloc.get('JobType') or (alloc.get('Job') or {}).get('Type')
        if ignore_system_jobs and job_type == SYSTEM_JOB:
            continue
        live.append(alloc)
    return live


def drain_state(node):
    """The part of a node a drain or eligibility change touches, for diffs."""
    spec = drain_spec(node.get('DrainStrategy'))
    return dict(
        SchedulingEligibility=node.get('SchedulingEligibility'),
        Drain=spec is not None,
        DrainSpec=dict(Deadline=spec[0], IgnoreSystemJobs=spec[1]) if spec else None,
        LastDrainStatus=(node.get('LastDrain') or {}).get('Status'),
    )


def drain_body(deadline_ns, ignore_system_jobs, meta=None):
    body = dict(DrainSpec=dict(Deadline=deadline_ns, IgnoreSystemJobs=ignore_system_jobs))
    if meta:
        body['Meta'] = meta
    return body


def cancel_body(mark_eligible, meta=None):
    body = dict(DrainSpec=None, MarkEligible=bool(mark_eligible))
    if meta:
        body['Meta'] = meta
    return body


def _seconds(ns):
    seconds = ns / 1000 ** 3
    return int(seconds) if seconds == int(seconds) else seconds


def node_summary(node):
    """A full node (``/v1/node/:id``) as modules return it: identity, status, eligibility, drain,
    drivers, attributes, meta, and the Management API URL its iis driver advertises."""
    spec = drain_spec(node.get('DrainStrategy'))
    strategy = node.get('DrainStrategy') or {}
    last = node.get('LastDrain')
    drivers = {}
    for name, info in (node.get('Drivers') or {}).items():
        info = info or {}
        drivers[name] = dict(
            detected=bool(info.get('Detected')),
            healthy=bool(info.get('Healthy')),
            health_description=info.get('HealthDescription') or '',
            attributes=dict(info.get('Attributes') or {}),
            update_time=info.get('UpdateTime'),
        )
    attributes = dict(node.get('Attributes') or {})
    return dict(
        id=node.get('ID'),
        name=node.get('Name'),
        datacenter=node.get('Datacenter'),
        node_class=node.get('NodeClass') or '',
        node_pool=node.get('NodePool') or 'default',
        status=node.get('Status'),
        status_description=node.get('StatusDescription') or '',
        http_addr=node.get('HTTPAddr'),
        tls_enabled=bool(node.get('TLSEnabled')),
        version=attributes.get('nomad.version'),
        eligibility=node.get('SchedulingEligibility'),
        eligible=node.get('SchedulingEligibility') == ELIGIBLE,
        drain=spec is not None,
        drain_strategy=None if spec is None else dict(
            deadline_seconds=_seconds(spec[0]),
            ignore_system_jobs=spec[1],
            force_deadline=strategy.get('ForceDeadline'),
            started_at=strategy.get('StartedAt'),
        ),
        last_drain=None if not last else dict(
            status=last.get('Status'),
            started_at=last.get('StartedAt'),
            updated_at=last.get('UpdatedAt'),
            accessor_id=last.get('AccessorID') or '',
            meta=dict(last.get('Meta') or {}),
        ),
        drivers=drivers,
        attributes=attributes,
        meta=dict(node.get('Meta') or {}),
        management_api_url=management_api_url(node),
        create_index=node.get('CreateIndex'),
        modify_index=node.get('ModifyIndex'),
    )


def read_node(client, node_id, index=None, wait=None):
    """``(node, X-Nomad-Index)``; with ``index``, a blocking query that returns when the node
    changes or after ``wait`` seconds."""
    params = {}
    if index:
        params = dict(index=index, wait='%ds' % max(1, int(wait or MAX_BLOCKING_WAIT)))
    timeout = (wait or 0) + client.timeout if index else None
    action = 'reading node %s' % node_id
    with client.open('GET', '/v1/node/{}', node_id, action=action, params=params, timeout=timeout) as answer:
        node = answer.json() or {}
        try:
            new_index = int(answer.headers.get('X-Nomad-Index') or 0)
        except ValueError:
            new_index = 0
    return node, new_index


def read_node_allocations(client, node_id):
    return client.get_json('/v1/node/{}/allocations', node_id,
                           action='listing the allocations of node %s' % node_id) or []


def wait_for_drain(client, node_id, timeout, ignore_system_jobs=False, poll=1.0, clock=time.monotonic,
                   sleep=time.sleep, describe=None):
    """Wait until the drain of ``node_id`` is complete (see the module docstring); return the node.

    Reads the node with blocking queries, and the node's allocations once its drain strategy is
    gone. Raises ``DrainError`` when the drain is cancelled or ``timeout`` seconds pass."""
    describe = describe or ('node %s' % node_id)
    deadline = clock() + timeout
    index = None
    while True:
        remaining = deadline - clock()
        node, new_index = read_node(client, node_id, index, min(MAX_BLOCKING_WAIT, max(1, remaining)))
        last = (node.get('LastDrain') or {}).get('Status')
        left = []
        if node.get('DrainStrategy') is None:
            if last == 'canceled':
                raise DrainError('the drain of %s was cancelled before it completed' % describe)
            left = live_allocations(read_node_allocations(client, node_id), ignore_system_jobs)
            if not left:
                return node
        if clock() >= deadline:
            if node.get('DrainStrategy') is not None:
                left = live_allocations(read_node_allocations(client, node_id), ignore_system_jobs)
            raise DrainError('the drain of %s did not complete within %s seconds: %s' % (
                describe, timeout, describe_left(left) if left else 'Nomad still reports it draining'))
        if node.get('DrainStrategy') is None or not new_index:
            # Allocations still stopping (their changes do not touch the node), or no index to block on.
            sleep(min(poll, max(0, deadline - clock())))
            index = None
        else:
            index = new_index


def describe_left(allocations):
    shown = ['%s (%s, %s)' % (a.get('ID'), a.get('Name') or a.get('JobID'), a.get('ClientStatus'))
             for a in allocations[:5]]
    more = ' and %d more' % (len(allocations) - 5) if len(allocations) > 5 else ''
    return '%d allocation%s still on the node: %s%s' % (
        len(allocations), '' if len(allocations) == 1 else 's', ', '.join(shown), more)
