# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The management_api role's plugin block: roles/management_api/templates/nomad_iis.hcl.j2 rendered
with ansible-core's own templating from the role's defaults and vars, for several driver versions,
and parsed with pyhcl, an HCL1 parser (Nomad reads its agent config as HCL1). Keys are gated by
version as upstream's DriverConfig.cs at each tag; Windows paths keep their backslashes."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

hcl = pytest.importorskip('hcl')

try:  # ansible-core 2.19 templates only what is trusted; older versions template every string
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - ansible-core < 2.19
    def trust_as_template(value):
        return value

ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    'roles', 'management_api')
# A backslash in an HCL1 string must start one of Go's escapes; "C:\procdump.exe" is an
# "illegal char escape" for Nomad, though pyhcl lets it through.
ESCAPE = re.compile(r'\\(.)', re.DOTALL)
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((key, trusted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def role_file(*parts):
    with open(os.path.join(ROLE, *parts), encoding='utf-8') as handle:
        return handle.read()


def render(**overrides):
    """The rendered block, as the role's template lookup renders it, and what pyhcl makes of it."""
    variables = {}
    for name in ('defaults', 'vars'):
        variables.update(trusted(yaml.safe_load(role_file(name, 'main.yml'))))
    variables.update(inventory_hostname='win-node-1', role_path=ROLE, management_api_key='api-key-123')
    variables.update(trusted(overrides))
    templar = Templar(loader=DataLoader(), variables=variables)
    text = templar.template(trust_as_template(role_file('templates', 'nomad_iis.hcl.j2')),
                            preserve_trailing_newlines=True, escape_backslashes=False)
    return text, hcl.loads(text)['plugin']['nomad_iis']


def bad_escapes(quoted):
    """The characters after a backslash that are not one of Go's string escapes HCL1 takes."""
    return [match.group(1) for match in ESCAPE.finditer(quoted) if match.group(1) not in '\\"nrtu']


def assert_escapes_are_go_escapes(text):
    for quoted in QUOTED.findall(text):
        assert not bad_escapes(quoted), quoted


def test_the_default_block_for_the_newest_driver():
    text, plugin = render(management_api_version='0.20.1')
    assert plugin['args'] == ['--port=5003', '--management-api-port=5004', '--management-api-key=api-key-123']
    assert plugin['config'] == {
        'enabled': True,
        'fingerprint_interval': '30s',
        'directory_security': True,
        'allowed_apppool_identities': ['ApplicationPoolIdentity'],
        'placeholder_app_path': 'C:\\inetpub\\wwwroot',
        'procdump': {'binary_path': 'C:\\Program Files\\Sysinternals\\ProcDump\\procdump64.exe', 'accept_eula': False},
    }
    assert 'placeholder_app_path = "C:\\\\inetpub\\\\wwwroot"' in text
    assert_escapes_are_go_escapes(text)
    # HCL1 needs no commas between attributes, and upstream's examples with them confuse HCL2 tools.
    assert not re.search(r'^\s+\w+ = .*,$', text, re.MULTILINE)


@pytest.mark.parametrize('version, present, absent', [
    ('0.11.0', {'placeholder_app_path', 'procdump', 'udp_logger_port'},
     {'allowed_apppool_identities', 'allowed_apppool_users'}),
    ('0.15.0', {'udp_logger_port', 'procdump'}, {'allowed_apppool_identities'}),
    ('0.16.0', {'procdump'}, {'udp_logger_port', 'allowed_apppool_identities'}),
    ('0.17.0', {'placeholder_app_path'}, {'udp_logger_port', 'allowed_apppool_identities', 'allowed_apppool_users'}),
    ('0.18.0', {'allowed_apppool_identities', 'allowed_apppool_users'}, {'udp_logger_port'}),
    ('0.20.1', {'allowed_apppool_identities', 'allowed_apppool_users'}, {'udp_logger_port'}),
])
def test_keys_are_gated_by_the_driver_version(version, present, absent):
    text, plugin = render(management_api_version=version, management_api_allowed_apppool_users=['CONTOSO\\WebApp'])
    keys = set(plugin['config'])
    assert present <= keys, (version, keys)
    assert not absent & keys, (version, keys)
    if 'allowed_apppool_users' in keys:
        assert plugin['config']['allowed_apppool_users'] == ['CONTOSO\\WebApp']
    assert_escapes_are_go_escapes(text)


def test_the_identities_are_written_even_when_they_are_upstreams_default():
    # Crossing 0.18.0 turns on an allow-list; writing it keeps what the operator chose visible.
    dummy, plugin = render(management_api_version='0.18.0')
    assert plugin['config']['allowed_apppool_identities'] == ['ApplicationPoolIdentity']
    dummy, plugin = render(management_api_version='0.18.0',
                           management_api_allowed_apppool_identities=['ApplicationPoolIdentity', 'NetworkService'])
    assert plugin['config']['allowed_apppool_identities'] == ['ApplicationPoolIdentity', 'NetworkService']


def test_windows_paths_and_quotes_survive():
    path = 'D:\\Sites\\new\\table\\u'
    text, plugin = render(management_api_version='0.20.1', management_api_placeholder_app_path=path,
                          management_api_procdump_binary_path='C:\\procdump.exe', management_api_procdump_accept_eula=True,
                          management_api_allowed_target_websites=['Default Web Site', 'Say "hi"'])
    assert plugin['config']['placeholder_app_path'] == path
    assert plugin['config']['procdump'] == {'binary_path': 'C:\\procdump.exe', 'accept_eula': True}
    assert plugin['config']['allowed_target_websites'] == ['Default Web Site', 'Say "hi"']
    assert 'binary_path = "C:\\\\procdump.exe"' in text
    assert_escapes_are_go_escapes(text)


def test_a_backslash_before_a_quote_decodes_as_go_decodes_it():
    # pyhcl mis-reads \\\" (an escaped backslash, then an escaped quote); Go's strconv.Unquote, which
    # HCL1 uses, reads these escapes as JSON does.
    value = 'C:\\odd\\"dir"'
    text, dummy = render(management_api_version='0.20.1', management_api_placeholder_app_path=value)
    (quoted,) = [q for q in QUOTED.findall(text) if 'odd' in q]
    assert json.loads('"%s"' % quoted) == value


def test_args_follow_the_port_and_credentials():
    dummy, plugin = render(management_api_version='0.20.1', management_api_key='',
                           management_api_jwt_secret='0123456789abcdef0123456789abcdef', management_api_port=6004,
                           management_api_grpc_port=6003)
    assert plugin['args'] == ['--port=6003', '--management-api-port=6004',
                              '--management-api-jwt-secret=0123456789abcdef0123456789abcdef']
    dummy, plugin = render(management_api_version='0.20.1', management_api_port=0)
    assert plugin['args'] == ['--port=5003']


def test_the_bad_escape_check_catches_what_nomad_refuses():
    assert bad_escapes('C:\\procdump.exe') == ['p']
    assert bad_escapes('C:\\\\procdump.exe \\"x\\" \\n') == []
