#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_agent_pprof
short_description: Download a Go runtime profile of a Nomad agent
version_added: 0.1.0
description:
  - Downloads a profile of the Nomad agent at O(nomad_addr), or of the client O(node_id) or the
    server O(server_id) through it (C(/v1/agent/pprof/<name>)), into the local file O(dest), for
    C(go tool pprof) or a support case.
  - The profile streams into a temporary file next to O(dest), which replaces O(dest) only when
    its content differs; O(dest) is never left half-written.
options:
  profile:
    description:
      - The profile. V(cpu) samples the CPU for O(seconds) (Nomad's C(profile)), V(trace) records an
        execution trace for O(seconds), V(cmdline) is the agent's command line, and the others are
        the Go runtime's profiles of the same name.
    type: str
    required: true
    choices: [cpu, goroutine, heap, allocs, block, mutex, threadcreate, cmdline, trace]
  seconds:
    description:
      - How many seconds V(cpu) and V(trace) sample; Nomad's default is V(1). Other profiles ignore it.
      - The module waits up to O(timeout) plus this many seconds for the profile to start arriving.
    type: int
  debug:
    description:
      - The Go profile's C(debug) level. V(0) (Nomad's default) is the binary protobuf format for
        C(go tool pprof); V(1) and V(2) are text, V(2) with full goroutine stacks for V(goroutine).
    type: int
  gc:
    description: Run a garbage collection before taking a V(heap) profile.
    type: bool
    default: false
  node_id:
    description:
      - A client node to profile, through the agent at O(nomad_addr), given as a node name, a full node ID or
        a unique prefix of one (see Notes), sent to Nomad as the full ID.
      - B(On a client-only agent, a request without O(node_id) is forwarded to a server, and the
        profile is the server's, not the client's.) Give the client's own node ID (C(agent.stats.client.node_id) from
        M(nomad_iis.management.nomad_agent_info)) to profile the client itself.
      - Mutually exclusive with O(server_id).
    type: str
  server_id:
    description:
      - Name of a server (as C(nomad server members) shows it, or V(leader)) to profile.
      - Mutually exclusive with O(node_id).
    type: str
  dest:
    description: Local file to write the profile to. Its directory must exist.
    type: path
    required: true
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
    details:
      - The profile is downloaded in check mode too, since that only reads, and compared with
        O(dest); O(dest) is not written.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - O(dest) is replaced only when the new profile differs from it. Most profiles differ every
        time; V(cmdline) does not.
notes:
  - Needs C(agent:write) on a cluster with ACLs. Without ACLs, the agent must run with
    C(enable_debug = true), or it answers 403.
seealso:
  - module: nomad_iis.management.nomad_agent_monitor
  - name: Nomad agent pprof API
    description: The endpoints this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/agent#agent-runtime-profiles
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Make a directory for the profiles
  ansible.builtin.file:
    path: /tmp/nomad_iis_examples
    state: directory
    mode: "0755"
  delegate_to: localhost

- name: Take a 2-second CPU profile of the agent
  nomad_iis.management.nomad_agent_pprof:
    profile: cpu
    seconds: 2
    dest: /tmp/nomad_iis_examples/nomad-cpu.pprof
  delegate_to: localhost
  register: cpu_profile

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ cpu_profile.size }} bytes, sha256 {{ cpu_profile.sha256 }}, {{ cpu_profile.content_type }}"

- name: Dump every goroutine's stack as text
  nomad_iis.management.nomad_agent_pprof:
    profile: goroutine
    debug: 2
    dest: /tmp/nomad_iis_examples/nomad-goroutines.txt
  delegate_to: localhost

- name: Find the node ID of the agent's client
  nomad_iis.management.nomad_agent_info:
    gather: [self]
  delegate_to: localhost
  register: agent

- name: Take a heap profile of the client itself (without node_id a client-only agent profiles a server)
  nomad_iis.management.nomad_agent_pprof:
    profile: heap
    gc: true
    node_id: "{{ agent.agent.stats.client.node_id }}"
    dest: /tmp/nomad_iis_examples/nomad-client-heap.pprof
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The file the profile was written to.
  returned: success
  type: str
  sample: /tmp/nomad-cpu.pprof
size:
  description: Size of the profile in bytes.
  returned: success
  type: int
  sample: 18234
sha256:
  description: SHA-256 of the profile.
  returned: success
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
content_type:
  description: The C(Content-Type) Nomad sent, C(application/octet-stream) for binary profiles, C(text/plain) for text.
  returned: success
  type: str
  sample: application/octet-stream
profile:
  description: The profile's name in Nomad's API (V(cpu) is C(profile)).
  returned: success
  type: str
  sample: profile
"""

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import MAX_SECONDS, check_at_most
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import NodeDirectory

# The module's profile names that Nomad spells differently.
API_NAMES = dict(cpu='profile')
SAMPLED = ('cpu', 'trace')
DEBUG_HINT = ('profiling needs agent:write, and on an agent without ACLs the agent setting '
              'enable_debug = true')


def pprof_query(params, node_id):
    return dict(
        seconds=params['seconds'],
        debug=params['debug'],
        gc=1 if params['gc'] else None,
        node_id=node_id,
        server_id=params['server_id'],
    )


def describe_target(params):
    if params['node_id']:
        return "client node '%s'" % params['node_id']
    if params['server_id']:
        return "server '%s'" % params['server_id']
    return 'the agent'


def read_timeout(params):
    """Sampled profiles answer only after sampling: give the read the sampling time on top."""
    if params['profile'] not in SAMPLED:
        return None
    return params['timeout'] + (params['seconds'] or 1)


def download_profile(module):
    params = module.params
    if params['seconds'] is not None and params['seconds'] < 1:
        raise OptionError('seconds must be 1 or more, not %d' % params['seconds'])
    check_at_most(params, 'seconds', MAX_SECONDS, ' seconds')
    if params['debug'] is not None and params['debug'] < 0:
        raise OptionError('debug must be 0 or more, not %d' % params['debug'])
    local = module.local_dest(params['dest'], make_parents=False).require_file().file()
    nomad = module.nomad
    node_id = None
    if params['node_id'] is not None:
        node_id = NodeDirectory(nomad).resolve_one(params['node_id'], 'node_id')['ID']
    name = API_NAMES.get(params['profile'], params['profile'])
    action = "downloading the '%s' profile of %s" % (name, describe_target(params))
    before = local.state()
    with nomad.open('GET', '/v1/agent/pprof/{}', name, action=action, params=pprof_query(params, node_id),
                    timeout=read_timeout(params), hints={403: DEBUG_HINT}) as answer:
        content_type = answer.headers.get('Content-Type')
        with local.writer() as writer:
            for chunk in answer:
                writer.write(chunk)
            written = local.keep(writer, before)
    return dict(changed=written.changed, dest=params['dest'], size=written.size, sha256=written.sha256,
                content_type=content_type, profile=name)


def main():
    module = NomadModule(
        argument_spec=dict(
            profile=dict(type='str', required=True,
                         choices=['cpu', 'goroutine', 'heap', 'allocs', 'block', 'mutex', 'threadcreate', 'cmdline',
                                  'trace']),
            seconds=dict(type='int'),
            debug=dict(type='int'),
            gc=dict(type='bool', default=False),
            node_id=dict(type='str'),
            server_id=dict(type='str'),
            dest=dict(type='path', required=True),
        ),
        mutually_exclusive=[('node_id', 'server_id')],
        supports_check_mode=True,
    )
    module.run(download_profile)


if __name__ == '__main__':
    main()
