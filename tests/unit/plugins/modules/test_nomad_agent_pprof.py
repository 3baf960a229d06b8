# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_agent_pprof: profile names and parameters, the sampling time, idempotent dest, hints."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.nomad_iis.management.plugins.modules import nomad_agent_pprof
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_agent_fakes import (
    NODE_ID,
    FakeAgent,
    query,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

BINARY = {'Content-Type': 'application/octet-stream', 'Content-Disposition': 'attachment; filename="profile"'}


def test_cpu_is_nomads_profile_and_waits_for_the_sampling_time(server, run_module, tmp_path):
    agent = FakeAgent(server)
    body = os.urandom(3000)
    agent.pprof_replies['profile'] = Reply(200, body, headers=BINARY, delay=2)
    dest = str(tmp_path / 'cpu.pprof')
    result = run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='cpu', seconds=2, timeout=1, dest=dest))
    assert result['changed'] is True
    assert result['profile'] == 'profile'
    assert result['content_type'] == 'application/octet-stream'
    assert result['size'] == 3000 and result['sha256'] == hashlib.sha256(body).hexdigest()
    with open(dest, 'rb') as handle:
        assert handle.read() == body
    assert server.requests[0].path_only == '/v1/agent/pprof/profile'
    assert query(server.requests[0]) == {'seconds': ['2'], 'namespace': ['default']}


def test_a_slow_profile_that_is_not_sampled_keeps_the_read_timeout(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.pprof_replies['heap'] = Reply(200, b'heap', headers=BINARY, delay=2.5)
    result = run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='heap', timeout=1, retries=0,
                                                dest=str(tmp_path / 'heap')))
    assert result['failed']
    assert result['msg'] == ("downloading the 'heap' profile of the agent failed: no answer from %s within 1 seconds "
                             "(check nomad_addr)" % server.url())
    assert os.listdir(str(tmp_path)) == []


def test_parameters_are_sent_as_nomad_names_them(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.pprof_replies['heap'] = Reply(200, b'heap', headers=BINARY)
    agent.pprof_replies['goroutine'] = Reply(200, b'goroutine profile: total 1\n', headers={'Content-Type': 'text/plain; charset=utf-8'})
    run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='heap', gc=True, node_id=NODE_ID,
                                       dest=str(tmp_path / 'heap')))
    result = run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='goroutine', debug=2, server_id='leader',
                                                dest=str(tmp_path / 'goroutine')))
    heap, goroutine = [r for r in server.requests if r.path_only.startswith('/v1/agent/pprof/')]
    assert query(heap) == {'gc': ['1'], 'node_id': [NODE_ID], 'namespace': ['default']}
    assert query(goroutine) == {'debug': ['2'], 'server_id': ['leader'], 'namespace': ['default']}
    assert result['content_type'] == 'text/plain; charset=utf-8'


def test_node_id_is_a_name_or_a_unique_prefix(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.pprof_replies['heap'] = Reply(200, b'heap', headers=BINARY)
    run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='heap', node_id='win-node-1',
                                       dest=str(tmp_path / 'heap')))
    run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='heap', node_id=NODE_ID[:8],
                                       dest=str(tmp_path / 'heap')))
    assert [query(r)['node_id'] for r in agent.requests_to(server, '/v1/agent/pprof/heap')] == [[NODE_ID], [NODE_ID]]


def test_the_same_profile_leaves_dest_alone_and_check_mode_writes_nothing(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.pprof_replies['cmdline'] = Reply(200, b'nomad\x00agent', headers={'Content-Type': 'text/plain; charset=utf-8'})
    dest = tmp_path / 'cmdline'
    args = dict(nomad_addr=server.url(), profile='cmdline', dest=str(dest))
    result = run_module(nomad_agent_pprof, args, check_mode=True)
    assert result['changed'] is True and os.listdir(str(tmp_path)) == []
    assert run_module(nomad_agent_pprof, args)['changed'] is True
    mtime = os.stat(str(dest)).st_mtime_ns
    assert run_module(nomad_agent_pprof, args)['changed'] is False
    assert run_module(nomad_agent_pprof, args, check_mode=True)['changed'] is False
    assert os.stat(str(dest)).st_mtime_ns == mtime
    assert os.listdir(str(tmp_path)) == ['cmdline']


def test_a_cut_download_leaves_dest_alone(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.pprof_replies['heap'] = Reply(200, b'x' * 100, headers=BINARY, content_length=1000)
    dest = tmp_path / 'heap'
    dest.write_bytes(b'old profile')
    result = run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='heap', dest=str(dest)))
    assert result['failed']
    assert "downloading the 'heap' profile of the agent failed: the connection to" in result['msg']
    assert dest.read_bytes() == b'old profile'
    assert os.listdir(str(tmp_path)) == ['heap']


def test_a_403_explains_agent_write_and_enable_debug(server, run_module, tmp_path):
    agent = FakeAgent(server)
    agent.pprof_replies['heap'] = Reply(403, b'Permission denied')
    result = run_module(nomad_agent_pprof, dict(nomad_addr=server.url(), profile='heap', dest=str(tmp_path / 'heap')))
    assert result['failed'] and result['status'] == 403
    assert result['msg'].endswith('(profiling needs agent:write, and on an agent without ACLs the agent setting '
                                  'enable_debug = true)')


def test_bad_input_fails_before_any_request(server, run_module, tmp_path):
    FakeAgent(server)
    for args, problem in ((dict(seconds=0), 'seconds must be 1 or more, not 0'),
                          (dict(debug=-1), 'debug must be 0 or more, not -1'),
                          (dict(node_id=NODE_ID, server_id='leader'), 'parameters are mutually exclusive: node_id|server_id'),
                          (dict(dest=str(tmp_path / 'missing' / 'heap')), 'does not exist'),
                          (dict(profile='memory'), 'value of profile must be one of')):
        result = run_module(nomad_agent_pprof, dict(dict(nomad_addr=server.url(), profile='heap', dest=str(tmp_path / 'h')),
                                                    **args))
        assert result['failed'] and problem in result['msg'], result['msg']
    assert server.requests == []
    assert os.listdir(str(tmp_path)) == []
