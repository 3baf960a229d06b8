# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_agent_info: what is gathered by default for each agent role, health 500s as data, redaction."""

from __future__ import annotations

import json

from ansible_collections.nomad_iis.management.plugins.modules import nomad_agent_info
from ansible_collections.nomad_iis.management.plugins.modules.nomad_agent_info import redact_plugin_args, redact_secrets
from ansible_collections.nomad_iis.management.tests.unit.plugins.modules.nomad_agent_fakes import (
    TOKEN,
    FakeAgent,
)


def paths(server):
    return [r.path_only for r in server.requests]


def test_default_on_a_server_and_client_reads_everything(server, run_module):
    FakeAgent(server)
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url()))
    assert result['changed'] is False
    assert result['gathered'] == ['self', 'members', 'servers', 'health']
    assert paths(server) == ['/v1/agent/self', '/v1/agent/members', '/v1/agent/servers', '/v1/agent/health']
    assert result['agent']['config']['NodeName'] == 'win-node-1'
    assert [m['Name'] for m in result['members']] == ['nomad-1.global', 'nomad-2.global', 'nomad-old.global']
    assert result['servers'] == ['10.0.0.5:4647']
    assert result['healthy'] is True


def test_default_on_a_client_only_agent_skips_members(server, run_module):
    FakeAgent(server, server_role=False)
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url()))
    assert result['gathered'] == ['self', 'servers', 'health']
    assert 'members' not in result
    assert result['health'] == {'client': {'ok': True, 'message': 'ok'}}


def test_default_on_a_server_only_agent_skips_the_server_list(server, run_module):
    FakeAgent(server, client=False)
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url()))
    assert result['gathered'] == ['self', 'members', 'health']
    assert '/v1/agent/servers' not in paths(server)


def test_asking_a_server_only_agent_for_its_server_list_explains_the_501(server, run_module):
    FakeAgent(server, client=False)
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url(), gather=['servers']))
    assert result['failed']
    assert result['msg'] == ("reading the agent's server list failed: 501 Invalid method from %s (only a client "
                             "agent has a server list: point nomad_addr at a Nomad client)" % server.url())


def test_an_unhealthy_agent_is_data(server, run_module):
    agent = FakeAgent(server)
    agent.health = (500, b'{"client":{"ok":false,"message":"no known servers"}}')
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url(), gather=['health']))
    assert 'failed' not in result
    assert result['health'] == {'client': {'ok': False, 'message': 'no known servers'}}
    assert result['healthy'] is False


def test_a_500_that_is_not_a_health_report_fails(server, run_module):
    agent = FakeAgent(server)
    for body in (b'rpc error: no leader', b'{"client": "broken"}', b'[]', b'{}'):
        agent.health = (500, body)
        result = run_module(nomad_agent_info, dict(nomad_addr=server.url(), gather=['health'], retries=0))
        assert result['failed'] and result['status'] == 500
        assert result['msg'].startswith("reading the agent's health failed: 500 ")


def test_secrets_in_the_configuration_are_redacted_and_the_token_never_shown(server, run_module):
    agent = FakeAgent(server)
    agent.secrets = {'Consuls': [{'Token': 'consul-secret', 'Address': '127.0.0.1:8500'}],
                     'Telemetry': {'CirconusAPIToken': 'circonus-secret'},
                     'Vaults': [{'Token': '<redacted>', 'Role': 'nomad'}],
                     'Echo': TOKEN}
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url(), nomad_token=TOKEN, gather=['self']))
    config = result['agent']['config']
    assert config['Consuls'] == [{'Token': '<redacted>', 'Address': '127.0.0.1:8500'}]
    assert config['Telemetry']['CirconusAPIToken'] == '<redacted>'
    assert config['Vaults'][0]['Token'] == '<redacted>'
    assert config['ACL']['TokenTTL'] == 30000000000
    assert config['Server']['EncryptKey'] == ''
    assert TOKEN not in json.dumps(result)
    assert server.requests[0].headers['X-Nomad-Token'] == TOKEN


def test_redact_secrets():
    value = {'a': {'SecretID': 'x', 'Password': 'y', 'KeyFile': '/etc/key.pem', 'Tokens': 'z',
                   'list': [{'EncryptKey': 'k'}], 'Token': 7}}
    assert redact_secrets(value) == {'a': {'SecretID': '<redacted>', 'Password': '<redacted>',
                                           'KeyFile': '/etc/key.pem', 'Tokens': 'z',
                                           'list': [{'EncryptKey': '<redacted>'}], 'Token': 7}}


def test_redact_plugin_args_in_every_form_the_driver_reads():
    args = ['--port=5003', '--management-api-port=5004', '--management-api-key=k1', '--Management-Api-Jwt-Secret=s1',
            '--management-api-key', 'k2', '/management-api-jwt-secret', 's2', '/management-api-key=k3',
            'management-api-key=k4', 'management-api-key', 'kept-as-a-bare-value', '--management-api-keyring=x']
    assert redact_plugin_args(args) == [
        '--port=5003', '--management-api-port=5004', '--management-api-key=<redacted>',
        '--Management-Api-Jwt-Secret=<redacted>', '--management-api-key', '<redacted>', '/management-api-jwt-secret',
        '<redacted>', '/management-api-key=<redacted>', 'management-api-key=<redacted>', 'management-api-key',
        'kept-as-a-bare-value', '--management-api-keyring=x']
    assert redact_plugin_args(['--management-api-key']) == ['--management-api-key']


def test_the_management_api_key_in_plugin_args_is_redacted(server, run_module):
    agent = FakeAgent(server)
    agent.secrets = {'PluginDir': 'C:\\ProgramData\\nomad\\plugins', 'Plugins': [
        {'Name': 'nomad_iis', 'Args': ['--management-api-port=5004', '--management-api-key=api-key-123',
                                       '--management-api-jwt-secret', 'jwt-secret-0123456789abcdef0123456789'],
         'Config': {'enabled': True}},
        {'Name': 'raw_exec', 'Args': None, 'Config': {'enabled': True}}]}
    result = run_module(nomad_agent_info, dict(nomad_addr=server.url(), gather=['self']))
    plugins = result['agent']['config']['Plugins']
    assert plugins[0]['Args'] == ['--management-api-port=5004', '--management-api-key=<redacted>',
                                  '--management-api-jwt-secret', '<redacted>']
    assert plugins[1] == {'Name': 'raw_exec', 'Args': None, 'Config': {'enabled': True}}
    text = json.dumps(result)
    assert 'api-key-123' not in text and 'jwt-secret-0123456789' not in text
