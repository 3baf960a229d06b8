#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_agent_monitor
short_description: Capture a Nomad agent's log for a few seconds
version_added: 0.1.0
description:
  - Streams the log of the Nomad agent at O(nomad_addr) (C(/v1/agent/monitor)), or of the client
    O(node_id) or the server O(server_id) through it, for O(duration) seconds, as C(nomad monitor)
    does.
  - The log is returned in RV(content), or written to O(dest).
  - The monitor shows what the agent logs while it runs, not what it logged before; start the
    module (for example with C(async)) before the tasks whose log lines you want.
options:
  log_level:
    description: The lowest level of the log lines to capture.
    type: str
    choices: [trace, debug, info, warn, error]
    default: info
  duration:
    description:
      - How many seconds to capture. The module returns about a second after that at most (the
        agent sends a heartbeat every second).
    type: int
    default: 5
  node_id:
    description:
      - A client node whose log to capture, through the agent at O(nomad_addr), given as a node name, a full
        node ID or a unique prefix of one (see Notes), sent to Nomad as the full ID.
      - Mutually exclusive with O(server_id).
    type: str
  server_id:
    description:
      - Name of a server (as C(nomad server members) shows it, or V(leader)) whose log to capture.
      - Mutually exclusive with O(node_id).
    type: str
  log_json:
    description: Capture the log lines in Nomad's JSON format, one JSON object per line.
    type: bool
    default: false
  log_include_location:
    description: Include the source file and line of each log line.
    type: bool
    default: false
  dest:
    description:
      - Local file to write the captured log to, instead of returning it in RV(content).
      - The log streams into a temporary file next to O(dest), which replaces O(dest) at the end;
        O(dest) is never left half-written.
    type: path
  max_content_bytes:
    description:
      - Without O(dest), the most bytes of log to return in RV(content). The capture stops early
        when it is reached, and RV(content_truncated) is set. Ignored with O(dest).
    type: int
    default: 1048576
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
      - The log is captured in check mode too, since that only reads; O(dest) is not written.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Without O(dest) the module only reads, and reports no change.
      - With O(dest) it reports a change whenever the captured log differs from the file's
        content, which is practically always.
notes:
  - Needs C(agent:read) on a cluster with ACLs.
seealso:
  - module: nomad_iis.management.nomad_agent_pprof
  - name: Nomad agent monitor API
    description: The endpoint this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/agent#stream-logs
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Capture two seconds of the agent's debug log
  nomad_iis.management.nomad_agent_monitor:
    log_level: debug
    duration: 2
  delegate_to: localhost
  register: agent_log

- name: Show the lines
  ansible.builtin.debug:
    var: agent_log.content.splitlines()

- name: Make a directory for the captured log
  ansible.builtin.file:
    path: /tmp/nomad_iis_examples
    state: directory
    mode: "0755"
  delegate_to: localhost

- name: Write three seconds of the log as JSON lines to a file
  nomad_iis.management.nomad_agent_monitor:
    log_level: info
    log_json: true
    duration: 3
    dest: /tmp/nomad_iis_examples/agent-log.jsonl
  delegate_to: localhost

- name: Find the node ID of the agent's client
  nomad_iis.management.nomad_agent_info:
    gather: [self]
  delegate_to: localhost
  register: agent

- name: Capture one second of that client's warnings and errors, with their source lines
  nomad_iis.management.nomad_agent_monitor:
    node_id: "{{ agent.agent.stats.client.node_id }}"
    log_level: warn
    log_include_location: true
    duration: 1
  delegate_to: localhost
"""

RETURN = r"""
content:
  description: The captured log lines, as text.
  returned: success, without O(dest)
  type: str
  sample: "2026-01-01T10:00:00.000Z [DEBUG] http: request complete: method=GET path=/v1/agent/self duration=1.2ms\n"
content_truncated:
  description: Whether RV(content) was cut at O(max_content_bytes) (at the last full line when there is one).
  returned: success, without O(dest)
  type: bool
  sample: false
size:
  description: Bytes of log captured (in RV(content), or written to O(dest)).
  returned: success
  type: int
  sample: 2048
dest:
  description: The file the log was written to.
  returned: success, with O(dest)
  type: str
  sample: /tmp/agent-log.jsonl
sha256:
  description: SHA-256 of the captured log written to O(dest).
  returned: success, with O(dest)
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

import time

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import MAX_SECONDS, check_at_most
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    OptionError,
    StreamDecodeError,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import NodeDirectory
from ansible_collections.nomad_iis.management.plugins.module_utils._stream_frames import StreamFrameDecoder


class ContentBuffer:
    """Log bytes kept in memory up to ``limit``; ``full`` once more arrived than fit."""

    def __init__(self, limit):
        self.limit = limit
        self.data = bytearray()
        self.full = False

    def write(self, chunk):
        if self.full:
            return
        self.data += chunk
        if len(self.data) > self.limit:
            cut = self.data.rfind(b'\n', 0, self.limit + 1) + 1 or self.limit
            del self.data[cut:]
            self.full = True


def monitor_query(params, node_id):
    return dict(
        log_level=params['log_level'],
        log_json=params['log_json'],
        log_include_location=params['log_include_location'],
        node_id=node_id,
        server_id=params['server_id'],
    )


def describe_target(params):
    if params['node_id']:
        return "the log of client node '%s'" % params['node_id']
    if params['server_id']:
        return "the log of server '%s'" % params['server_id']
    return "the agent's log"


def stream_log(nomad, params, node_id, sink):
    """Write the monitor's log lines into ``sink`` for ``duration`` seconds, or until it is full."""
    action = 'streaming %s (/v1/agent/monitor)' % describe_target(params)
    deadline = time.monotonic() + params['duration']
    decoder = StreamFrameDecoder()
    try:
        with nomad.open('GET', '/v1/agent/monitor', action=action, params=monitor_query(params, node_id)) as answer:
            try:
                for chunk in answer:
                    for frame in decoder.feed(chunk):
                        sink.write(frame.data)
                    # Heartbeats arrive every second, so this is checked at least that often.
                    if time.monotonic() >= deadline or getattr(sink, 'full', False):
                        return
            except ApiConnectionError:
                # A read that timed out after the deadline (heartbeats held back by a buffering
                # proxy) ends the capture; before the deadline it is an error.
                if time.monotonic() < deadline:
                    raise
                return
        decoder.close()
    except StreamDecodeError as exc:
        raise StreamDecodeError('%s failed: %s (from %s)' % (action, exc, nomad.base_url)) from None


def capture(module):
    params = module.params
    if params['duration'] < 1:
        raise OptionError('duration must be 1 second or more, not %d' % params['duration'])
    check_at_most(params, 'duration', MAX_SECONDS, ' seconds')
    if params['max_content_bytes'] < 1:
        raise OptionError('max_content_bytes must be 1 or more, not %d' % params['max_content_bytes'])
    local = None
    if params['dest'] is not None:
        local = module.local_dest(params['dest'], make_parents=False).require_file().file()
    node_id = None
    if params['node_id'] is not None:
        node_id = NodeDirectory(module.nomad).resolve_one(params['node_id'], 'node_id')['ID']
    if local is None:
        buffer = ContentBuffer(params['max_content_bytes'])
        stream_log(module.nomad, params, node_id, buffer)
        return dict(changed=False, content=buffer.data.decode('utf-8', 'replace'),
                    content_truncated=buffer.full, size=len(buffer.data))
    before = local.state()
    with local.writer() as writer:
        stream_log(module.nomad, params, node_id, writer)
        written = local.keep(writer, before)
    return dict(changed=written.changed, dest=params['dest'], size=written.size, sha256=written.sha256)


def main():
    module = NomadModule(
        argument_spec=dict(
            log_level=dict(type='str', default='info', choices=['trace', 'debug', 'info', 'warn', 'error']),
            duration=dict(type='int', default=5),
            node_id=dict(type='str'),
            server_id=dict(type='str'),
            log_json=dict(type='bool', default=False),
            log_include_location=dict(type='bool', default=False),
            dest=dict(type='path'),
            max_content_bytes=dict(type='int', default=1048576),
        ),
        mutually_exclusive=[('node_id', 'server_id')],
        supports_check_mode=True,
    )
    module.run(capture)


if __name__ == '__main__':
    main()
