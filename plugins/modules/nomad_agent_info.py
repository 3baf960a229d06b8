#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_agent_info
short_description: Read a Nomad agent's configuration, gossip members, server list and health
version_added: 0.1.0
description:
  - Reads what the Nomad agent at O(nomad_addr) reports about itself (C(/v1/agent/self)), the
    servers' gossip pool (C(/v1/agent/members)), a client's server list (C(/v1/agent/servers))
    and its health (C(/v1/agent/health)).
  - >-
    An unhealthy agent is data, not an error. Nomad answers its health check with status 500 and
    a JSON body such as C({"client": {"ok": false, "message": "no known servers"}}); the module
    returns that body in RV(health) and sets RV(healthy) to V(false).
options:
  gather:
    description:
      - What to read. V(self) returns RV(agent), V(members) RV(members), V(servers) RV(servers) and
        V(health) RV(health) and RV(healthy).
      - If not set, the module reads V(self) first and then what fits the agent's role. It reads
        V(health) always, V(members) on a server agent (on a client-only agent that list is the
        servers' gossip pool, so ask for it explicitly), and V(servers) on a client agent (a
        server-only agent has no server list and answers 501).
      - A value given here is read whatever the agent's role, and a failure fails the module.
    type: list
    elements: str
    choices: [self, members, servers, health]
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.info_module
  - nomad_iis.management.attributes.actiongroup_nomad
notes:
  - Needs C(agent:read) for V(self) and V(servers), and C(node:read) for V(members), on a cluster
    with ACLs. V(health) needs no token.
  - Nomad replaces the secrets in the agent's configuration (Consul and Vault tokens, the gossip
    key, the ACL replication token) with C(<redacted>). As a second line of defence the module
    does the same with any other non-empty value of a configuration key that ends in C(Token),
    C(Secret), C(SecretID), C(Password) or C(EncryptKey); O(nomad_token) is never returned.
  - Nomad does not redact plugin arguments, so C(/v1/agent/self) shows the Nomad IIS driver's
    Management API key and JWT secret when they are given as C(args) of its C(plugin "nomad_iis")
    block. The module replaces the values of C(--management-api-key) and
    C(--management-api-jwt-secret) in C(config.Plugins[].Args) with C(<redacted>), in every form
    the driver reads (C(--key=value), C(--key value), C(/key=value), C(/key value), C(key=value)).
    Anyone with C(agent:read) can still read them from Nomad itself.
seealso:
  - module: nomad_iis.management.nomad_agent_servers
  - module: nomad_iis.management.nomad_agent_join
  - module: nomad_iis.management.nomad_agent_force_leave
  - name: Nomad agent HTTP API
    description: The endpoints this module reads.
    link: https://developer.hashicorp.com/nomad/api-docs/agent
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read everything the agent reports about itself
  nomad_iis.management.nomad_agent_info:
  delegate_to: localhost
  register: agent

- name: Show the agent's version, its roles and whether it is healthy
  ansible.builtin.debug:
    msg: >-
      Nomad {{ agent.agent.config.Version.Version }},
      client {{ agent.agent.config.Client.Enabled }}, server {{ agent.agent.config.Server.Enabled }},
      healthy {{ agent.healthy }}

- name: Read only the health check, for a readiness gate (no token needed)
  nomad_iis.management.nomad_agent_info:
    gather: [health]
  delegate_to: localhost
  register: agent_health
  until: agent_health.healthy
  retries: 3
  delay: 1

- name: List the gossip members that are not alive
  nomad_iis.management.nomad_agent_info:
    gather: [members]
  delegate_to: localhost
  register: gossip

- name: Show them
  ansible.builtin.debug:
    msg: "{{ gossip.members | rejectattr('Status', 'equalto', 'alive') | map(attribute='Name') | list }}"
"""

RETURN = r"""
gathered:
  description: What was read, in the order it was read.
  returned: always
  type: list
  elements: str
  sample: [self, members, servers, health]
agent:
  description:
    - The agent's own description (C(/v1/agent/self)), as Nomad returns it, keys in Nomad's spelling.
    - C(config) is the agent's configuration with secrets replaced by C(<redacted>); C(member) is
      its gossip member (empty, with status C(none), on a client-only agent); C(stats) holds the
      C(client), C(runtime), C(nomad) and C(serf) sections, every value a string.
  returned: when V(self) was gathered
  type: dict
  sample:
    config:
      Region: global
      Datacenter: dc1
      NodeName: win-node-1
      Version: {Version: 1.10.5}
      Client: {Enabled: true}
      Server: {Enabled: false}
      ACL: {Enabled: true, ReplicationToken: <redacted>}
    member: {Name: "", Status: none}
    stats:
      client: {node_id: 9d5a3c4e-8f21-4b6a-9c0d-1e2f3a4b5c6d, known_servers: "10.0.0.5:4647"}
members:
  description: The servers' gossip members, as Nomad returns them.
  returned: when V(members) was gathered
  type: list
  elements: dict
  sample:
    - Name: nomad-1.global
      Addr: 10.0.0.5
      Port: 4648
      Status: alive
      Tags: {role: nomad, region: global, dc: dc1, port: "4647"}
servers:
  description: The client's server list, C(ip:port) of each server's RPC address, sorted.
  returned: when V(servers) was gathered
  type: list
  elements: str
  sample: ["10.0.0.5:4647", "10.0.0.6:4647"]
health:
  description:
    - The agent's health check, with an entry for each role it has (C(client), C(server)).
    - Returned as Nomad sends it, also when Nomad answers with status 500 because a part is not ok.
  returned: when V(health) was gathered
  type: dict
  sample: {client: {ok: false, message: no known servers}}
healthy:
  description: Whether every entry of RV(health) is ok.
  returned: when V(health) was gathered
  type: bool
  sample: false
"""

import json
import re

from ansible_collections.nomad_iis.management.plugins.module_utils._agent import read_members, read_servers
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule

REDACTED = '<redacted>'
SECRET_KEY = re.compile(r'(Token|Secret|SecretID|Password|EncryptKey)$', re.IGNORECASE)
# Plugin options whose values are secrets (the Nomad IIS driver's Management API credentials).
SECRET_PLUGIN_OPTIONS = frozenset(('management-api-key', 'management-api-jwt-secret'))


def redact_secrets(value):
    """A copy of ``value`` in which every non-empty string under a secret-looking key is ``<redacted>``."""
    if isinstance(value, dict):
        return {key: REDACTED if _is_secret(key, item) else redact_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    return value


def _is_secret(key, value):
    return isinstance(value, str) and value not in ('', REDACTED) and bool(SECRET_KEY.search(str(key)))


def redact_plugin_args(args):
    """A copy of a plugin's ``args`` with the values of secret options replaced, in every form
    ASP.NET Core's command-line configuration reads (``--key=value``, ``--key value``,
    ``/key=value``, ``/key value``, ``key=value``; keys case-insensitive)."""
    out = []
    redact_next = False
    for arg in args:
        if redact_next:
            out.append(REDACTED)
            redact_next = False
            continue
        if not isinstance(arg, str):
            out.append(arg)
            continue
        prefix = '--' if arg.startswith('--') else ('/' if arg.startswith('/') else '')
        key, equals, dummy = arg[len(prefix):].partition('=')
        if key.lower() in SECRET_PLUGIN_OPTIONS:
            if equals:
                arg = '%s%s=%s' % (prefix, key, REDACTED)
            elif prefix:
                redact_next = True
        out.append(arg)
    return out


def read_self(nomad):
    agent = redact_secrets(nomad.get_json('/v1/agent/self', action="reading the agent's own description (/v1/agent/self)") or {})
    for plugin in (agent.get('config') or {}).get('Plugins') or []:
        if isinstance(plugin, dict) and isinstance(plugin.get('Args'), list):
            plugin['Args'] = redact_plugin_args(plugin['Args'])
    return agent


def read_health(nomad):
    """The health check's body; an unhealthy agent answers 500 with the same JSON body."""
    try:
        return nomad.get_json('/v1/agent/health', action="reading the agent's health") or {}
    except ApiError as exc:
        health = _health_body(exc.body) if exc.status == 500 else None
        if health is None:
            raise
        return health


def _health_body(text):
    try:
        body = json.loads(text or '')
    except ValueError:
        return None
    if isinstance(body, dict) and body and all(isinstance(part, dict) and 'ok' in part for part in body.values()):
        return body
    return None


def default_gather(agent):
    """What to read after ``self`` when the user did not choose: what the agent's roles answer."""
    config = agent.get('config') or {}
    gather = []
    if (config.get('Server') or {}).get('Enabled'):
        gather.append('members')
    if (config.get('Client') or {}).get('Enabled'):
        gather.append('servers')
    return gather + ['health']


def gather_info(module):
    nomad = module.nomad
    result = dict(changed=False, gathered=[])
    wanted = module.params['gather']
    if wanted is None:
        result['agent'] = read_self(nomad)
        result['gathered'].append('self')
        wanted = default_gather(result['agent'])
    for item in dict.fromkeys(wanted):  # in order, once each
        if item == 'self':
            result['agent'] = read_self(nomad)
        elif item == 'members':
            result['members'] = read_members(nomad)
        elif item == 'servers':
            result['servers'] = read_servers(nomad)
        else:
            result['health'] = read_health(nomad)
            result['healthy'] = all(part.get('ok') is True for part in result['health'].values())
        result['gathered'].append(item)
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            gather=dict(type='list', elements='str', choices=['self', 'members', 'servers', 'health']),
        ),
        supports_check_mode=True,
    )
    module.run(gather_info)


if __name__ == '__main__':
    main()
