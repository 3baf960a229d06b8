#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_node
short_description: Drain a Nomad client node, and set its scheduling eligibility
version_added: 0.1.0
description:
  - Drains a Nomad client node (C(/v1/node/:id/drain)), as C(nomad node drain -enable) does, or
    cancels a drain; and makes a node eligible or ineligible for new allocations
    (C(/v1/node/:id/eligibility)), as C(nomad node eligibility) does.
  - With O(wait), waits until the drain is complete - Nomad has removed the node's drain strategy,
    its last drain is C(complete) and no allocation (no non-system one with O(ignore_system_jobs))
    is pending or running on the node - as C(nomad node drain) does by default.
  - Reads the node first and sends only what would change. A node that is ineligible and has no
    allocation left to move counts as drained, so O(drain=true) on it is no change; a drain in
    progress is updated only when O(drain_deadline) or O(ignore_system_jobs) differ from it.
  - A completed drain leaves the node ineligible. Use O(eligible=true) to put it back into service.
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
    support: full
    details:
      - The diff shows the node's C(SchedulingEligibility), whether it drains, its drain spec and
        the status of its last drain, before and after.
  idempotent:
    support: full
options:
  node:
    description:
      - The node, given as a node name, a full node ID or a unique prefix of one (see Notes).
    type: str
    required: true
  drain:
    description:
      - V(true) drains the node (which makes it ineligible); V(false) cancels a drain in progress.
      - Not set, the node's drain is left as it is.
    type: bool
  drain_deadline:
    description:
      - How long Nomad lets the allocations migrate before it stops the ones left, as a Nomad
        duration such as V(1h), V(30m) or V(90s).
      - V(0) means no deadline; a negative duration such as V(-1s) forces every allocation off at once.
      - Used with O(drain=true).
    type: str
    default: 1h
  ignore_system_jobs:
    description:
      - Leave the allocations of system jobs on the node. Used with O(drain=true).
    type: bool
    default: false
  drain_meta:
    description:
      - Metadata recorded with the drain (Nomad's C(LastDrain.Meta)), for example the reason.
      - Sent only when the module starts, updates or cancels a drain.
    type: dict
  eligible:
    description:
      - V(true) makes the node eligible for new allocations, V(false) ineligible.
      - Not set, the eligibility is left as Nomad makes it (a drain makes the node ineligible).
      - V(true) together with O(drain=true) is refused, as Nomad refuses an eligible draining node.
        With O(drain=false) the drain is cancelled and the node made eligible in one request.
    type: bool
  wait:
    description:
      - With O(drain=true), wait until the drain is complete (see the description), at most
        O(wait_timeout) seconds. A drain that is cancelled meanwhile, or still going on at the
        timeout, fails the module with the allocations that are left.
      - Not in check mode.
    type: bool
    default: false
  wait_timeout:
    description: How long O(wait) waits, in seconds.
    type: int
    default: 3600
notes:
  - Changing a node needs C(node:write); reading it, C(node:read).
  - Nomad migrates a service job's allocations according to the job's C(migrate) block, leaves batch
    allocations to finish until the deadline, and stops system allocations last.
  - When several nodes are drained one after the other, make the next ones ineligible first, so that
    allocations do not move onto a node that is drained next (Nomad's advice for C(nomad node drain)).
seealso:
  - module: nomad_iis.management.nomad_node_info
  - name: nomad node drain
    description: The Nomad CLI command that drains a node.
    link: https://developer.hashicorp.com/nomad/commands/node/drain
  - name: Nomad nodes API
    description: The endpoints this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/nodes
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Drain win-node-5 and wait until every allocation has left
  nomad_iis.management.nomad_node:
    node: win-node-5
    drain: true
    drain_deadline: 30m
    drain_meta:
      message: maintenance window
    wait: true
    wait_timeout: 2100
  delegate_to: localhost
  register: drained

- name: Show its last drain
  ansible.builtin.debug:
    msg: >-
      {{ drained.node.last_drain.status if drained.node.last_drain else 'never drained' }},
      {{ drained.node.eligibility }}

- name: Put it back into service
  nomad_iis.management.nomad_node:
    node: win-node-5
    eligible: true
  delegate_to: localhost

- name: Keep new allocations off it without moving the ones it has
  nomad_iis.management.nomad_node:
    node: win-node-5
    eligible: false
  delegate_to: localhost

- name: Make it eligible again
  nomad_iis.management.nomad_node:
    node: win-node-5
    eligible: true
  delegate_to: localhost
"""

RETURN = r"""
node:
  description:
    - The node after the change (in check mode, as it would be), with the fields
      M(nomad_iis.management.nomad_node_info) returns for each node.
  returned: success
  type: dict
  sample:
    id: 2d2b8b75-cf4b-418a-9757-5d911622abc0
    name: win-node-5
    status: ready
    eligibility: ineligible
    eligible: false
    drain: false
    drain_strategy: null
    last_drain: {status: complete, started_at: "2026-05-01T10:00:00Z", updated_at: "2026-05-01T10:02:13Z",
                 accessor_id: token:acls-disabled, meta: {message: maintenance window}}
actions:
  description:
    - What was sent (in check mode, would be sent), in order. V(drain) starts a drain, V(drain_update)
      changes the one in progress, V(drain_cancel) cancels it (also making the node eligible with
      O(eligible=true)), V(eligible) and V(ineligible) set the eligibility.
  returned: success
  type: list
  elements: str
  sample: [drain]
waited:
  description: Seconds spent waiting for the drain to complete.
  returned: when O(wait) waited
  type: float
  sample: 12.5
"""

import json
import time

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_node_state import (
    ELIGIBLE,
    INELIGIBLE,
    cancel_body,
    drain_body,
    drain_spec,
    drain_state,
    live_allocations,
    node_summary,
    parse_duration,
    read_node_allocations,
    wait_for_drain,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import NodeDirectory, describe_node

WRITE_HINT = {403: 'check nomad_token: changing a node needs node:write'}


def plan(node, allocations, params):
    """The requests to send, as ``[(action, path suffix, body)]``, from the node and the options."""
    drain, eligible = params['drain'], params['eligible']
    deadline = parse_duration(params['drain_deadline'])
    ignore_system = params['ignore_system_jobs']
    meta = dict((str(key), value if isinstance(value, str) else json.dumps(value))
                for key, value in (params['drain_meta'] or {}).items()) or None
    if drain is True and eligible is True:
        raise OptionError('eligible=true cannot go with drain=true: Nomad keeps a draining node ineligible. '
                          'Drain first, then make the node eligible in a later task')
    current = drain_spec(node.get('DrainStrategy'))
    eligibility = node.get('SchedulingEligibility')
    steps = []
    if drain is True:
        if current is None:
            drained = eligibility == INELIGIBLE and not live_allocations(allocations, ignore_system)
            if not drained:
                steps.append(('drain', 'drain', drain_body(deadline, ignore_system, meta)))
        elif current != (deadline, ignore_system):
            steps.append(('drain_update', 'drain', drain_body(deadline, ignore_system, meta)))
        return steps
    if drain is False and current is not None:
        # Cancelling leaves the node ineligible, or (MarkEligible) makes it eligible: nothing more to send.
        steps.append(('drain_cancel', 'drain', cancel_body(eligible is True, meta)))
        return steps
    if eligible is True and eligibility != ELIGIBLE:
        if current is not None and drain is None:
            raise OptionError('%s is draining, and Nomad refuses to make a draining node eligible: set drain=false '
                              'to cancel the drain (eligible=true then makes it eligible in the same request)'
                              % describe_node(node))
        steps.append(('eligible', 'eligibility', dict(Eligibility=ELIGIBLE)))
    elif eligible is False and eligibility != INELIGIBLE:
        steps.append(('ineligible', 'eligibility', dict(Eligibility=INELIGIBLE)))
    return steps


def predict(node, steps):
    """The node as Nomad would leave it after ``steps`` (for check mode)."""
    after = dict(node)
    for action, dummy, body in steps:
        if action in ('drain', 'drain_update'):
            spec = body['DrainSpec']
            after['DrainStrategy'] = dict(Deadline=spec['Deadline'], IgnoreSystemJobs=spec['IgnoreSystemJobs'],
                                          ForceDeadline=None, StartedAt=None)
            after['SchedulingEligibility'] = INELIGIBLE
            after['LastDrain'] = dict(node.get('LastDrain') or {}, Status='draining', Meta=body.get('Meta'))
        elif action == 'drain_cancel':
            after['DrainStrategy'] = None
            after['LastDrain'] = dict(node.get('LastDrain') or {}, Status='canceled')
            if body['MarkEligible']:
                after['SchedulingEligibility'] = ELIGIBLE
        else:
            after['SchedulingEligibility'] = body['Eligibility']
    return after


def change_node(module):
    nomad = module.nomad
    params = module.params
    if params['wait_timeout'] is not None and params['wait_timeout'] <= 0:
        raise OptionError('wait_timeout must be a positive number of seconds, not %r' % params['wait_timeout'])
    directory = NodeDirectory(nomad)
    stub = directory.resolve_one(params['node'])
    node_id = stub['ID']
    described = describe_node(stub)
    before = directory.get(node_id)
    allocations = read_node_allocations(nomad, node_id) if params['drain'] is True else []
    steps = plan(before, allocations, params)

    if module.check_mode:
        after = predict(before, steps)
    else:
        for action, suffix, body in steps:
            nomad.request_json('POST', '/v1/node/{}/' + suffix, node_id, body=body, idempotent=True, hints=WRITE_HINT,
                               action='%s of %s' % (DESCRIPTIONS[action], described))
        after = nomad.get_json('/v1/node/{}', node_id, action='reading %s' % described) if steps else before

    result = dict(changed=bool(steps), actions=[action for action, dummy, body in steps])
    draining = after.get('DrainStrategy') is not None
    if params['wait'] and params['drain'] is True and not module.check_mode and (steps or draining):
        started = time.monotonic()
        after = wait_for_drain(nomad, node_id, params['wait_timeout'], params['ignore_system_jobs'], describe=described)
        result['waited'] = round(time.monotonic() - started, 3)
    result['node'] = node_summary(after)
    if module._diff:  # pylint: disable=protected-access
        header = 'scheduling state of %s' % described
        result['diff'] = dict(before=drain_state(before), after=drain_state(after), before_header=header,
                              after_header=header)
    return result


DESCRIPTIONS = dict(
    drain='draining',
    drain_update='updating the drain',
    drain_cancel='cancelling the drain',
    eligible='making eligible',
    ineligible='making ineligible',
)


def main():
    module = NomadModule(
        argument_spec=dict(
            node=dict(type='str', required=True),
            drain=dict(type='bool'),
            drain_deadline=dict(type='str', default='1h'),
            ignore_system_jobs=dict(type='bool', default=False),
            drain_meta=dict(type='dict'),
            eligible=dict(type='bool'),
            wait=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=3600),
        ),
        supports_check_mode=True,
    )
    module.run(change_node)


if __name__ == '__main__':
    main()
