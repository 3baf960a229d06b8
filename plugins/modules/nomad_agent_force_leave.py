#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_agent_force_leave
short_description: Force a member out of the Nomad servers' gossip pool
version_added: 0.1.0
description:
  - Asks the Nomad server agent at O(nomad_addr) to mark the gossip member O(node) as C(left)
    (C(PUT /v1/agent/force-leave)), as C(nomad server force-leave) does; with O(prune), to forget
    it entirely.
  - The module reads the gossip pool (C(/v1/agent/members)) first and sends nothing when the
    member already has status C(left) (with O(prune), when no member has that name).
  - Without O(prune), a name that no member has is not an error, as Nomad ignores it too. Nothing
    is sent, and the module warns, since the name may be misspelt.
options:
  node:
    description:
      - The member's name as C(/v1/agent/members) and C(nomad server members) show it, usually
        C(<node name>.<region>) such as V(nomad-3.global). Matched exactly.
    type: str
    required: true
  prune:
    description:
      - Also remove the member from the member list, instead of keeping it with status C(left).
      - A pruned member cannot be brought back with a join from this side; the server itself has
        to rejoin.
    type: bool
    default: false
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
    details:
      - Predicted from the gossip members.
  diff_mode:
    support: full
    details:
      - The member's status before and after (C(absent) when pruned or unknown).
  idempotent:
    support: full
notes:
  - Only a server agent can do this; a client-only agent answers 501.
  - Needs C(agent:write) on a cluster with ACLs.
  - Force-leave is meant for members that failed. A running agent answers the gossip with its own
    status, so an alive member may stay or come back C(alive); the module then warns and returns
    the status it found afterwards in RV(member).
seealso:
  - module: nomad_iis.management.nomad_agent_join
  - module: nomad_iis.management.nomad_agent_info
  - name: Nomad agent force-leave API
    description: The endpoint this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/agent#force-leave-agent
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Make sure a decommissioned server is marked as left (nothing is sent when it is)
  nomad_iis.management.nomad_agent_force_leave:
    node: nomad-old.global
  delegate_to: localhost

- name: Forget a server that was replaced, with a token that may write the agent's settings
  nomad_iis.management.nomad_agent_force_leave:
    nomad_addr: https://nomad-1.example.com:4646
    nomad_token: "{{ nomad_operator_token }}"
    node: nomad-3.global
    prune: true
  delegate_to: localhost
  when: nomad_operator_token is defined
"""

RETURN = r"""
member:
  description:
    - The member after the module ran (in check mode, before), or null when no member has the name.
  returned: success
  type: dict
  contains:
    name:
      description: The member's name.
      type: str
      sample: nomad-old.global
    address:
      description: Its gossip address, C(ip:port).
      type: str
      sample: 10.0.0.7:4648
    status:
      description: Its status, such as C(alive), C(failed) or C(left).
      type: str
      sample: left
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._agent import (
    SERVER_AGENT_HINT,
    member_summary,
    read_members,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule


def find_member(nomad, name):
    return next((m for m in read_members(nomad) if m.get('Name') == name), None)


def needs_force_leave(member, prune):
    if member is None:
        return False
    return prune or member.get('Status') != 'left'


def force_leave(module):
    name, prune = module.params['node'], module.params['prune']
    if not name or not name.strip():
        raise OptionError('node must name a gossip member, such as nomad-3.global')
    nomad = module.nomad
    before = find_member(nomad, name)
    changed = needs_force_leave(before, prune)
    after = before
    if before is None and not prune:
        module.warn("no gossip member is named %r; nothing to do (the names are shown by "
                    "'nomad server members')" % name)
    if changed and not module.check_mode:
        action = 'forcing gossip member %r to leave%s' % (name, ' and pruning it' if prune else '')
        nomad.request_json('PUT', '/v1/agent/force-leave', action=action, params=dict(node=name, prune=prune or None),
                           hints={501: SERVER_AGENT_HINT})
        after = find_member(nomad, name)
        if needs_force_leave(after, prune):
            module.warn('gossip member %r is still %s after the force-leave: a running agent refutes it'
                        % (name, 'in the member list' if prune else after.get('Status')))
    result = dict(changed=changed, member=member_summary(after))
    if module._diff:
        predicted = None if prune else dict(member_summary(before) or {}, status='left')
        result['diff'] = dict(
            before=dict(member=member_summary(before)),
            after=dict(member=predicted if changed and module.check_mode else member_summary(after)),
        )
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            node=dict(type='str', required=True),
            prune=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run(force_leave)


if __name__ == '__main__':
    main()
