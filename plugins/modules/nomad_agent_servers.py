#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_agent_servers
short_description: Set the list of servers a Nomad client talks to
version_added: 0.1.0
description:
  - Sets the server list of the Nomad client agent at O(nomad_addr) (C(PUT /v1/agent/servers)),
    when it differs from the list the agent has.
  - The list is compared as a set. Nomad keeps the list sorted, with every server as the C(ip:port)
    of its RPC address, so the module compares each entry of O(servers) with the port defaulted to
    V(4647) and a host name resolved where the module runs. A name that does not resolve there is
    compared as written, so it always counts as a change; Nomad resolves it on the agent.
  - The agent keeps the list in memory only. Its configuration file (C(client.servers)) or the
    servers it learns from Consul decide what it uses after a restart.
options:
  servers:
    description:
      - The servers' RPC addresses, as V(host:port), V(host), V([ipv6]:port) or V([ipv6]). Without a
        port, Nomad's default RPC port V(4647) is used.
      - Order and duplicates do not matter. At least one is needed.
      - Nomad accepts the list when at least one address resolves on the agent and silently drops the
        others; the module then warns and returns what the agent kept in RV(servers).
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
  diff_mode:
    support: full
    details:
      - The server list before and after, sorted.
  idempotent:
    support: full
notes:
  - Needs C(agent:read) to read the list and C(agent:write) to set it, on a cluster with ACLs.
  - Only a client agent has a server list; a server-only agent answers 501.
seealso:
  - module: nomad_iis.management.nomad_agent_info
  - name: Nomad agent servers API
    description: The endpoint this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/agent#update-servers
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the client's current server list
  nomad_iis.management.nomad_agent_info:
    gather: [servers]
  delegate_to: localhost
  register: current

- name: Set the server list to what it is (nothing changes; the port defaults to 4647)
  nomad_iis.management.nomad_agent_servers:
    servers: "{{ current.servers | map('regex_replace', ':4647$', '') | list }}"
  delegate_to: localhost
  register: servers

- name: Point a client at three servers, with a token that may write the agent's settings
  nomad_iis.management.nomad_agent_servers:
    nomad_addr: https://win-node-1.example.com:4646
    nomad_token: "{{ nomad_operator_token }}"
    servers:
      - nomad-1.example.com
      - nomad-2.example.com:4647
      - 10.0.0.7:4647
  delegate_to: localhost
  when: nomad_operator_token is defined
"""

RETURN = r"""
servers:
  description:
    - The agent's server list after the module ran, sorted, as Nomad reports it (C(ip:port)).
    - In check mode, the list the agent would have.
  returned: success
  type: list
  elements: str
  sample: ["10.0.0.5:4647", "10.0.0.6:4647", "10.0.0.7:4647"]
"""

import ipaddress

from ansible_collections.nomad_iis.management.plugins.module_utils._agent import (
    CLIENT_AGENT_HINT,
    RPC_PORT,
    comparable_address,
    parse_host_port,
    read_servers,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule


def wanted_servers(entries):
    """The ``servers`` option as addresses to send, in order and once each; refuse bad ones first."""
    if not entries:
        raise OptionError('servers must list at least one address: a client cannot be left without servers')
    addresses = [parse_host_port(entry, RPC_PORT, 'servers') for entry in entries]
    return list(dict.fromkeys(addresses))


def as_set(addresses):
    """Addresses spelled as Nomad spells them, sorted and once each."""
    return sorted({comparable_address(a.host, a.port) for a in addresses})


def is_ip_address(address):
    host = address.rsplit(':', 1)[0].strip('[]')
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def current_set(servers):
    """Nomad's list, spelled as ``as_set`` spells it, sorted and once each."""
    return sorted({_spelled(server) for server in servers})


def _spelled(server):
    try:
        address = parse_host_port(server, RPC_PORT, 'the agent')
    except OptionError:
        return server  # compared as Nomad sent it
    return comparable_address(address.host, address.port)


def set_servers(module):
    wanted = wanted_servers(module.params['servers'])
    desired = as_set(wanted)
    nomad = module.nomad
    before = current_set(read_servers(nomad))
    result = dict(changed=before != desired, servers=before)
    if result['changed']:
        after = desired
        if not module.check_mode:
            addresses = [str(a) for a in wanted]
            nomad.request_json('PUT', '/v1/agent/servers', params=dict(address=addresses), idempotent=True,
                               action="setting the agent's server list to %s" % ', '.join(addresses),
                               hints={501: CLIENT_AGENT_HINT})
            after = current_set(read_servers(nomad))
            # A name that did not resolve here is not in Nomad's spelling: only IPs can be checked.
            dropped = [address for address in desired if address not in after and is_ip_address(address)]
            if dropped:
                module.warn('the agent did not keep %s: Nomad drops addresses that it cannot resolve'
                            % ', '.join(dropped))
        result['servers'] = after
    if module._diff:
        result['diff'] = dict(before=dict(servers=before), after=dict(servers=result['servers']))
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            servers=dict(type='list', elements='str', required=True),
        ),
        supports_check_mode=True,
    )
    module.run(set_servers)


if __name__ == '__main__':
    main()
