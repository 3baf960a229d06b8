#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_agent_join
short_description: Join a Nomad server agent to other servers' gossip pool
version_added: 0.1.0
description:
  - Asks the Nomad server agent at O(nomad_addr) to join the servers at O(addresses)
    (C(PUT /v1/agent/join)), as C(nomad server join) does.
  - A join is an action, not a state, so it is not idempotent as such. The module first reads the
    gossip pool (C(/v1/agent/members)) and sends no join when every address already belongs to a
    member whose status is C(alive). Otherwise it asks to join the addresses that do not; a
    member that has C(left) or C(failed) comes back with a join.
  - A join that joins none of the addresses fails with Nomad's error text. When only some of them
    could be joined, the module warns, naming the addresses that are not an alive member afterwards
    (Nomad itself reports no error as soon as one address was joined).
options:
  addresses:
    description:
      - Gossip (Serf) addresses of servers to join, as V(host:port), V(host), V([ipv6]:port) or
        V([ipv6]). Without a port, Nomad's default Serf port V(4648) is used.
      - A host name is resolved where the module runs to compare it with the members' addresses,
        and sent to Nomad as written.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
    details:
      - Predicted from the gossip members; whether Nomad could reach the addresses shows only
        when the join is sent.
  diff_mode:
    support: full
    details:
      - The member status of each address before and after (C(absent) when no member has it).
  idempotent:
    support: partial
    details:
      - Nothing is sent when every address already is an alive member. Otherwise a join is
        sent, and the same task succeeds without a change once the join took effect.
notes:
  - Only a server agent can join; a client-only agent answers 501.
  - Needs a token with C(agent:write) on clusters where Nomad checks joins; newer Nomad versions
    only warn about an anonymous join, and the module passes that warning on.
seealso:
  - module: nomad_iis.management.nomad_agent_force_leave
  - module: nomad_iis.management.nomad_agent_info
  - name: Nomad agent join API
    description: The endpoint this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/agent#join-agent
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the gossip pool
  nomad_iis.management.nomad_agent_info:
    gather: [members]
  delegate_to: localhost
  register: gossip

- name: Make sure the server joined every alive member (nothing is sent when it did)
  nomad_iis.management.nomad_agent_join:
    addresses: "{{ gossip.members | selectattr('Status', 'equalto', 'alive') | map(attribute='Addr') | list }}"
  delegate_to: localhost

- name: Join two servers on other hosts, on their default gossip port 4648
  nomad_iis.management.nomad_agent_join:
    nomad_addr: https://nomad-1.example.com:4646
    nomad_token: "{{ nomad_operator_token }}"
    addresses:
      - nomad-2.example.com
      - 10.0.0.7:4648
  delegate_to: localhost
  when: nomad_operator_token is defined
"""

RETURN = r"""
joined:
  description: The addresses the module asked Nomad to join; empty when every address was already an alive member.
  returned: success
  type: list
  elements: str
  sample: ["10.0.0.7:4648"]
num_joined:
  description: How many of RV(joined) Nomad joined (V(0) when nothing was sent).
  returned: success
  type: int
  sample: 1
members:
  description:
    - The gossip member of each address in O(addresses), after the join (in check mode, before it).
    - C(member) is null for an address that no member has.
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The address as given, with the default port filled in.
      type: str
      sample: 10.0.0.7:4648
    member:
      description: The member's name, address (C(ip:port)) and status, or null.
      type: dict
      sample: {name: nomad-3.global, address: "10.0.0.7:4648", status: alive}
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._agent import (
    SERF_PORT,
    SERVER_AGENT_HINT,
    comparable_address,
    member_address,
    member_summary,
    parse_host_port,
    read_members,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, OptionError, shorten
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule


class JoinError(NomadIisError):
    """Nomad answered the join, but joined none of the addresses."""


def wanted_addresses(entries):
    if not entries:
        raise OptionError('addresses must list at least one address to join')
    return list(dict.fromkeys(parse_host_port(entry, SERF_PORT, 'addresses') for entry in entries))


def members_by_address(members):
    return {member_address(member): member for member in members}


def is_alive(member):
    return member is not None and member.get('Status') == 'alive'


def join(nomad, addresses):
    """``PUT /v1/agent/join``; return Nomad's answer (``num_joined``, ``error``, ``warning``)."""
    action = 'joining %s' % ', '.join(addresses)
    answer = nomad.request_json('PUT', '/v1/agent/join', action=action, params=dict(address=addresses),
                                hints={501: SERVER_AGENT_HINT}) or {}
    if not answer.get('num_joined'):
        raise JoinError('%s failed: Nomad could join none of them: %s (answer from %s)'
                        % (action, shorten(answer.get('error') or 'no error text'), nomad.base_url))
    return answer


def join_members(module):
    wanted = wanted_addresses(module.params['addresses'])
    keys = [comparable_address(a.host, a.port) for a in wanted]
    nomad = module.nomad
    before = members_by_address(read_members(nomad))
    pending = [str(a) for a, key in zip(wanted, keys) if not is_alive(before.get(key))]
    result = dict(changed=bool(pending), joined=pending, num_joined=0)
    after = before
    if pending and not module.check_mode:
        answer = join(nomad, pending)
        result['num_joined'] = answer['num_joined']
        if answer.get('warning'):
            module.warn('Nomad: %s' % answer['warning'])
        after = members_by_address(read_members(nomad))
        missing = [str(a) for a, key in zip(wanted, keys) if str(a) in pending and not is_alive(after.get(key))]
        if missing:
            # Nomad reports no error when at least one address was joined.
            module.warn('Nomad joined %d of %d addresses; not an alive member afterwards: %s%s'
                        % (answer['num_joined'], len(pending), ', '.join(missing),
                           ' (%s)' % shorten(answer['error']) if answer.get('error') else ''))
    result['members'] = [dict(address=str(a), member=member_summary(after.get(key))) for a, key in zip(wanted, keys)]
    if module._diff:
        result['diff'] = dict(
            before={str(a): _status(before.get(key)) for a, key in zip(wanted, keys)},
            after={str(a): 'alive' if module.check_mode and str(a) in pending else _status(after.get(key))
                   for a, key in zip(wanted, keys)},
        )
    return result


def _status(member):
    return member.get('Status') if member is not None else 'absent'


def main():
    module = NomadModule(
        argument_spec=dict(
            addresses=dict(type='list', elements='str', required=True),
        ),
        supports_check_mode=True,
    )
    module.run(join_members)


if __name__ == '__main__':
    main()
