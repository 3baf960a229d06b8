# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The management_api role's interface: every variable declared in meta/argument_specs.yml, named with
the role's prefix, mirrored with the same default in defaults/main.yml (ansible-core validates with
the spec but takes values from defaults), secrets no_log; and ansible-core's validator refuses
wrong types with the spec's message, without the secret's value."""

from __future__ import annotations

import os

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    'roles', 'management_api')
SECRETS = {'management_api_key', 'management_api_jwt_secret', 'management_api_nomad_token'}


def load(*parts):
    with open(os.path.join(ROLE, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def options():
    return load('meta', 'argument_specs.yml')['argument_specs']['main']['options']


def validator():
    spec = {}
    for name, option in options().items():
        spec[name] = dict((key, value) for key, value in option.items() if key not in ('description',))
    return ArgumentSpecValidator(spec)


def test_defaults_mirror_the_spec():
    defaults = load('defaults', 'main.yml')
    required = set(name for name, option in options().items() if option.get('required'))
    assert required == {'management_api_version'}
    assert set(defaults) == set(options()) - required
    for name, value in defaults.items():
        assert options()[name].get('default') == value, name


def test_every_variable_has_the_role_prefix_a_type_and_a_description():
    for name, option in options().items():
        assert name.startswith('management_api_'), name
        assert option.get('type') in ('str', 'int', 'bool', 'list', 'path'), name
        assert option.get('description'), name
        if option['type'] == 'list':
            assert option.get('elements') == 'str', name


def test_secrets_are_no_log():
    assert set(name for name, option in options().items() if option.get('no_log')) == SECRETS


def test_wrong_types_fail_with_the_specs_message():
    result = validator().validate(dict(management_api_version='0.20.1', management_api_port='not-a-port',
                                       management_api_drain='maybe', management_api_key='key-value-123'))
    messages = ' '.join(str(error) for error in result.errors)
    assert "argument 'management_api_port' is of type" in messages and 'unable to convert to int' in messages
    assert "argument 'management_api_drain' is of type" in messages and 'unable to convert to bool' in messages
    assert 'key-value-123' not in messages


def test_the_version_is_required_and_secrets_are_registered_as_no_log_values():
    result = validator().validate(dict(management_api_jwt_secret='a-jwt-secret-0123456789abcdef0123456789'))
    assert 'missing required arguments: management_api_version' in ' '.join(str(e) for e in result.errors)
    assert 'a-jwt-secret-0123456789abcdef0123456789' in result._no_log_values  # pylint: disable=protected-access
