# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_agent_monitor: framed log lines into content or dest, the duration, the cap, the query."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from ansible_collections.nomad_iis.management.plugins.modules import nomad_agent_monitor
from ansible_collections.nomad_iis.management.plugins.modules.nomad_agent_monitor import ContentBuffer
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_agent_fakes import (
    NODE_ID,
    FakeAgent,
    query,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

LINES = [b'2026-01-01T10:00:00.000Z [INFO]  agent: line one\n',
         b'2026-01-01T10:00:00.100Z [WARN]  agent: line two \xc2\xb5s\n',
         b'2026-01-01T10:00:00.200Z [ERROR] agent: line three\n']


def frames(*lines):
    return b''.join(json.dumps({'Data': base64.b64encode(line).decode(), 'FileEvent': 'log'}).encode() for line in lines)


def split(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_log_lines_split_anywhere_are_returned_as_content(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=split(b'{}' + frames(*LINES) + b'{}', 7))
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=5))
    assert result['changed'] is False
    assert result['content'] == b''.join(LINES).decode()
    assert result['content_truncated'] is False
    assert result['size'] == len(b''.join(LINES))
    sent = query(server.requests[0])
    assert server.requests[0].path_only == '/v1/agent/monitor'
    assert sent == {'log_level': ['info'], 'log_json': ['false'], 'log_include_location': ['false'],
                    'namespace': ['default']}


def test_the_capture_stops_after_duration_while_heartbeats_arrive(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=[frames(LINES[0])] + [b'{}'] * 100, pause=0.1)
    started = time.monotonic()
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=1))
    assert 1 <= time.monotonic() - started < 5
    assert result['content'] == LINES[0].decode()


def test_the_content_is_capped_at_a_line_end(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=[frames(*LINES)] + [b'{}'] * 100, pause=0.1)
    limit = len(LINES[0]) + len(LINES[1]) + 5
    started = time.monotonic()
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=30, max_content_bytes=limit))
    assert time.monotonic() - started < 5  # stopped when the cap was reached
    assert result['content_truncated'] is True
    assert result['content'] == (LINES[0] + LINES[1]).decode()


def test_content_buffer_without_a_line_end_cuts_at_the_limit():
    buffer = ContentBuffer(10)
    buffer.write(b'0123456789abc')
    assert bytes(buffer.data) == b'0123456789' and buffer.full
    buffer = ContentBuffer(10)
    buffer.write(b'0123456789')
    assert not buffer.full


def test_options_are_sent_as_nomad_names_them(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, b'{}')
    run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=1, log_level='trace', log_json=True,
                                         log_include_location=True, node_id=NODE_ID))
    assert query(agent.requests_to(server, '/v1/agent/monitor')[0]) == {
        'log_level': ['trace'], 'log_json': ['true'], 'log_include_location': ['true'], 'node_id': [NODE_ID],
        'namespace': ['default']}


@pytest.mark.parametrize('node_id', ['win-node-1', NODE_ID[:8], NODE_ID.upper()])
def test_node_id_is_a_name_an_id_or_a_unique_prefix(server, run_module, node_id):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, b'{}')
    run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=1, node_id=node_id))
    assert query(agent.requests_to(server, '/v1/agent/monitor')[0])['node_id'] == [NODE_ID]


def test_an_unknown_node_fails_before_the_monitor_is_asked(server, run_module):
    agent = FakeAgent(server)
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=1, node_id='win-node-9'))
    assert result['failed'] and "no node is named 'win-node-9'" in result['msg']
    assert agent.requests_to(server, '/v1/agent/monitor') == []


def test_dest_is_written_through_a_temporary_file(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=split(frames(*LINES), 50))
    dest = str(tmp_path / 'agent.log')
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=5, dest=dest))
    assert result['changed'] is True
    assert 'content' not in result
    with open(dest, 'rb') as handle:
        assert handle.read() == b''.join(LINES)
    assert result['size'] == len(b''.join(LINES))
    assert os.listdir(str(tmp_path)) == ['agent.log']
    # The same log again: nothing to change.
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=5, dest=dest))
    assert result['changed'] is False


def test_check_mode_captures_but_does_not_write(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, frames(*LINES))
    dest = str(tmp_path / 'agent.log')
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=5, dest=dest), check_mode=True)
    assert result['changed'] is True
    assert os.listdir(str(tmp_path)) == []


def test_a_stream_cut_in_a_frame_fails_and_leaves_dest_alone(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=[frames(LINES[0]) + frames(LINES[1])[:20]])
    dest = tmp_path / 'agent.log'
    dest.write_bytes(b'old')
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=5, dest=str(dest)))
    assert result['failed']
    assert 'stream ended in the middle of a frame' in result['msg']
    assert dest.read_bytes() == b'old'
    assert os.listdir(str(tmp_path)) == ['agent.log']


def test_bad_input_fails_before_any_request(server, run_module, tmp_path):
    FakeAgent(server)
    for args, problem in ((dict(duration=0), 'duration must be 1 second or more, not 0'),
                          (dict(max_content_bytes=-1), 'max_content_bytes must be 1 or more, not -1'),
                          (dict(node_id=NODE_ID, server_id='leader'), 'parameters are mutually exclusive: node_id|server_id'),
                          (dict(dest=str(tmp_path)), 'is a directory'),
                          (dict(log_level='verbose'), 'value of log_level must be one of')):
        result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), **args))
        assert result['failed'] and problem in result['msg'], result['msg']
    assert server.requests == []


def test_a_denied_monitor_names_what_was_streamed(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(403, b'Permission denied')
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), server_id='leader'))
    assert result['failed'] and result['status'] == 403
    assert result['msg'].startswith("streaming the log of server 'leader' (/v1/agent/monitor) failed: 403 Permission denied")


def test_a_silent_stream_after_the_duration_ends_the_capture(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=[frames(LINES[0]), b'{}'], pause=3)
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=1, timeout=1))
    assert 'failed' not in result
    assert result['content'] == LINES[0].decode()


def test_a_silent_stream_before_the_duration_is_an_error(server, run_module):
    agent = FakeAgent(server)
    agent.monitor_reply = Reply(200, chunks=[frames(LINES[0]), b'{}'], pause=3)
    result = run_module(nomad_agent_monitor, dict(nomad_addr=server.url(), duration=10, timeout=1))
    assert result['failed']
    assert result['msg'] == ("streaming the agent's log (/v1/agent/monitor) failed: no answer from %s within 1 seconds"
                             % server.url())
