# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared options: task argument > environment variable > default, through AnsibleModule's own validator."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import (
    CONNECTION_OPTIONS,
    IIS_TARGET_OPTIONS,
    MANAGEMENT_API_OPTIONS,
    NOMAD_OPTIONS,
    VIA_OPTIONS,
    WINRM_OPTIONS,
    nomad_argument_spec,
    nomad_iis_argument_spec,
    nomad_iis_nodes_argument_spec,
    nomad_iis_winrm_argument_spec,
    parse_go_bool,
)

# option, environment variable, a value, default
ENV_BACKED = [
    ('nomad_addr', 'NOMAD_ADDR', 'https://nomad.example.com:4646', 'http://127.0.0.1:4646'),
    ('nomad_token', 'NOMAD_TOKEN', '4a3c-secret', None),
    ('nomad_namespace', 'NOMAD_NAMESPACE', 'web', 'default'),
    ('nomad_region', 'NOMAD_REGION', 'europe', None),
    ('nomad_ca_cert', 'NOMAD_CACERT', '/etc/nomad/ca.pem', None),
    ('nomad_client_cert', 'NOMAD_CLIENT_CERT', '/etc/nomad/cli.pem', None),
    ('nomad_client_key', 'NOMAD_CLIENT_KEY', '/etc/nomad/cli-key.pem', None),
    ('nomad_tls_server_name', 'NOMAD_TLS_SERVER_NAME', 'server.global.nomad', None),
    ('api_url', 'NOMAD_IIS_API_URL', 'http://10.0.0.5:5004', None),
    ('api_key', 'NOMAD_IIS_API_KEY', 'k3y', None),
    ('api_token', 'NOMAD_IIS_API_TOKEN', 'eyJhbGciOi.jwt', None),
]

GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True']
GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False']
GO_INVALID = ['', 'yes', 'no', 'on', 'y', 'tRUE', ' true', 'true ', '2', '-1']


def validate(params, spec=None):
    result = ArgumentSpecValidator(spec or nomad_iis_argument_spec()).validate(params)
    assert not result.error_messages
    return result


@pytest.mark.parametrize('option, env, value, default', ENV_BACKED)
def test_default_when_neither_argument_nor_environment(option, env, value, default):
    assert validate({}).validated_parameters[option] == default


@pytest.mark.parametrize('option, env, value, default', ENV_BACKED)
def test_environment_beats_default(monkeypatch, option, env, value, default):
    monkeypatch.setenv(env, value)
    assert validate({}).validated_parameters[option] == value


@pytest.mark.parametrize('option, env, value, default', ENV_BACKED)
def test_argument_beats_environment(monkeypatch, option, env, value, default):
    monkeypatch.setenv(env, value)
    assert validate({option: value + 'x'}).validated_parameters[option] == value + 'x'


@pytest.mark.parametrize('option, env, value, default', ENV_BACKED)
def test_empty_environment_variable_counts_as_unset(monkeypatch, option, env, value, default):
    # As in Nomad's Go client: NOMAD_TOKEN= means no token, not an empty one.
    monkeypatch.setenv(env, '')
    assert validate({}).validated_parameters[option] == default


@pytest.mark.parametrize('option, env, value', [
    ('nomad_token', 'NOMAD_TOKEN', 'tok-from-env'),
    ('api_key', 'NOMAD_IIS_API_KEY', 'key-from-env'),
    ('api_token', 'NOMAD_IIS_API_TOKEN', 'jwt-from-env'),
])
def test_secrets_from_the_environment_are_no_log_values(monkeypatch, option, env, value):
    monkeypatch.setenv(env, value)
    assert value in validate({})._no_log_values


def test_secret_options_are_no_log():
    spec = nomad_iis_argument_spec()
    secrets = [name for name, option in spec.items() if option.get('no_log')]
    assert secrets == ['nomad_token', 'api_key', 'api_token', 'winrm_password']


@pytest.mark.parametrize('value', GO_TRUE)
def test_skip_verify_true_disables_validation(monkeypatch, value):
    monkeypatch.setenv('NOMAD_SKIP_VERIFY', value)
    assert validate({}).validated_parameters['nomad_validate_certs'] is False


@pytest.mark.parametrize('value', GO_FALSE)
def test_skip_verify_false_keeps_validation(monkeypatch, value):
    monkeypatch.setenv('NOMAD_SKIP_VERIFY', value)
    assert validate({}).validated_parameters['nomad_validate_certs'] is True


@pytest.mark.parametrize('value', GO_INVALID)
def test_unparsable_skip_verify_is_ignored(monkeypatch, value):
    monkeypatch.setenv('NOMAD_SKIP_VERIFY', value)
    assert validate({}).validated_parameters['nomad_validate_certs'] is True


@pytest.mark.parametrize('argument', [True, False])
def test_validate_certs_argument_beats_skip_verify(monkeypatch, argument):
    monkeypatch.setenv('NOMAD_SKIP_VERIFY', 'true' if argument else 'false')
    assert validate({'nomad_validate_certs': argument}).validated_parameters['nomad_validate_certs'] is argument


def test_validate_certs_default():
    assert validate({}).validated_parameters['nomad_validate_certs'] is True


@pytest.mark.parametrize('value, expected', [(v, True) for v in GO_TRUE] + [(v, False) for v in GO_FALSE]
                         + [(v, None) for v in GO_INVALID + [None]])
def test_parse_go_bool(value, expected):
    assert parse_go_bool(value) is expected


def test_timeout_and_retries_defaults():
    params = validate({}).validated_parameters
    assert (params['timeout'], params['retries']) == (30, 3)


def test_nomad_argument_spec_groups():
    assert set(nomad_argument_spec()) == set(NOMAD_OPTIONS) | set(CONNECTION_OPTIONS)
    # Every nomad_iis_* module accepts the WinRM options, so that module_defaults of the group can set them.
    assert set(nomad_iis_argument_spec()) == (set(NOMAD_OPTIONS) | set(MANAGEMENT_API_OPTIONS) | set(IIS_TARGET_OPTIONS)
                                              | set(WINRM_OPTIONS) | set(CONNECTION_OPTIONS))
    assert set(nomad_iis_winrm_argument_spec()) == set(nomad_iis_argument_spec()) | set(VIA_OPTIONS)
    assert set(nomad_iis_nodes_argument_spec()) == set(nomad_iis_winrm_argument_spec()) - set(IIS_TARGET_OPTIONS)


def test_the_winrm_password_is_no_log_also_from_the_environment(monkeypatch):
    monkeypatch.setenv('NOMAD_IIS_WINRM_PASSWORD', 'S3cret-pass')
    monkeypatch.setenv('NOMAD_IIS_WINRM_USER', 'admin')
    result = ArgumentSpecValidator(nomad_iis_winrm_argument_spec()).validate({'job': 'web'})
    assert result.validated_parameters['winrm_password'] == 'S3cret-pass'
    assert result.validated_parameters['winrm_user'] == 'admin'
    assert 'S3cret-pass' in result._no_log_values  # pylint: disable=protected-access
    assert result.validated_parameters['via'] == 'auto'
    assert result.validated_parameters['winrm_scheme'] == 'https'
    assert result.validated_parameters['winrm_transport'] == 'ntlm'


def test_module_options_are_added():
    spec = nomad_argument_spec(meta=dict(type='dict'), state=dict(type='str', default='present'))
    assert spec['meta'] == dict(type='dict') and spec['state']['default'] == 'present'
    result = ArgumentSpecValidator(spec).validate({'meta': {'a': 'b'}})
    assert result.validated_parameters['meta'] == {'a': 'b'}


def test_module_options_must_not_redeclare_shared_ones():
    with pytest.raises(ValueError, match='re-declare shared options: nomad_token, timeout'):
        nomad_iis_argument_spec(timeout=dict(type='int'), nomad_token=dict(type='str'))


def test_builders_return_independent_copies():
    spec = nomad_argument_spec()
    spec['nomad_addr']['default'] = 'changed'
    assert nomad_argument_spec()['nomad_addr']['default'] == 'http://127.0.0.1:4646'
