# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AWX credential types in extensions/awx/credential_types: valid by AWX's own rules
(awx/main/fields.py CredentialTypeInputField and CredentialTypeInjectorField, awx/main/constants.py
ENV_BLOCKLIST), and, rendered as AWX renders them when it runs a job (inject_credential in
awx/main/models/credential.py), giving exactly the environment variables the collection reads, with
empty inputs read as unset. The guide shows each type as it is shipped."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.nomad_iis.management.plugins.module_utils import _argspec

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TYPES_DIR = os.path.join(COLLECTION_ROOT, 'extensions', 'awx', 'credential_types')
GUIDE = os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'rst', 'guide_awx.rst')
TYPE_FILES = sorted(name for name in os.listdir(TYPES_DIR) if name.endswith('.yml'))

FIELD_KEYS = {'id', 'label', 'type', 'format', 'choices', 'help_text', 'multiline', 'secret', 'default'}
STRING_ONLY_KEYS = ('choices', 'multiline', 'format', 'secret')
ID_PATTERN = re.compile(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$')
FILE_TEMPLATE_PATTERN = re.compile(r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$')
ENV_BLOCKLIST = frozenset((
    'VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'INVENTORY_SOURCE_ID', 'INVENTORY_UPDATE_ID',
    'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES', 'CALLBACK_QUEUE', 'CALLBACK_CONNECTION',
    'CACHE', 'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS', 'AWX_HOST', 'PROJECT_REVISION', 'SUPERVISOR_CONFIG_PATH'))
# The WinRM options' variables, as the collection's contract names them; used only while _argspec
# has no option group that reads them.
WINRM_ENV = frozenset(('NOMAD_IIS_WINRM_USER', 'NOMAD_IIS_WINRM_PASSWORD', 'NOMAD_IIS_WINRM_SCHEME',
                       'NOMAD_IIS_WINRM_TRANSPORT'))


def load(name):
    with open(os.path.join(TYPES_DIR, name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def fallback_env_names():
    """Every environment variable an option of the collection falls back to: {name: fallback}."""
    found = {}
    for attribute in dir(_argspec):
        group = getattr(_argspec, attribute)
        if attribute.endswith('_OPTIONS') and isinstance(group, dict):
            for spec in group.values():
                fallback = spec.get('fallback')
                if fallback:
                    for env in fallback[1]:
                        found[env] = fallback
    return found


def read_env_names():
    names = set(fallback_env_names())
    if not names & WINRM_ENV:
        names |= WINRM_ENV
    return names


def render_as_awx_validates(injectors, field_ids):
    """CredentialTypeInjectorField.validate: every template renders with StrictUndefined over the
    declared inputs and the `tower.filename` names of the file injectors."""
    namespace = dict((field_id, 'EXAMPLE') for field_id in field_ids)
    files = [name.split('.', 1)[1] for name in injectors.get('file', {}) if '.' in name]
    tower_filename = type('Filenames', (), dict((name, 'EXAMPLE_FILENAME') for name in files))()
    namespace['tower'] = type('Tower', (), {'filename': 'EXAMPLE_FILENAME' if 'template' in injectors.get('file', {})
                                            else tower_filename})()
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind, entries in injectors.items():
        for key, template in entries.items():
            environment.from_string(template).render(namespace)


def inject(credential_type, inputs, tmp_path):
    """inject_credential: files from the file injectors, then the env injectors rendered over the
    inputs that are set (empty ones are left out) and `tower.filename.<name>`."""
    # An input left empty is not in the namespace: a template using it renders '' (AWX's undefined is not strict).
    environment = ImmutableSandboxedEnvironment()
    namespace = dict((key, value) for key, value in inputs.items() if value not in ('', None))
    for field in credential_type['inputs']['fields']:
        if field.get('type') == 'boolean':
            namespace.setdefault(field['id'], False)
    files = {}
    for name, template in credential_type['injectors'].get('file', {}).items():
        path = tmp_path / ('awx_file_' + name.replace('.', '_'))
        path.write_text(environment.from_string(template).render(namespace))
        files[name.split('.', 1)[1] if '.' in name else None] = str(path)
    namespace['tower'] = {'filename': files.get(None) or dict((k, v) for k, v in files.items() if k)}
    env = {}
    for name, template in credential_type['injectors'].get('env', {}).items():
        env[name] = environment.from_string(template).render(namespace)
    return env, files


def read_by_the_collection(env, monkeypatch):
    """What the collection's options take from these variables (AnsibleFallbackNotFound: unset)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    read = {}
    for name, fallback in fallback_env_names().items():
        if name in env:
            try:
                read[name] = fallback[0](*fallback[1])
            except AnsibleFallbackNotFound:
                read[name] = None
    return read


@pytest.mark.parametrize('name', TYPE_FILES)
def test_valid_by_awx_rules(name):
    credential_type = load(name)
    assert set(credential_type) == {'name', 'description', 'kind', 'inputs', 'injectors'}
    assert credential_type['kind'] in ('cloud', 'net')  # the only kinds of custom types
    inputs = credential_type['inputs']
    assert set(inputs) <= {'fields', 'required'}
    ids = []
    for field in inputs['fields']:
        assert set(field) <= FIELD_KEYS, field
        assert ID_PATTERN.match(field['id']) and field['id'] != 'tower', field
        assert isinstance(field['label'], str) and field['label']
        field_type = field.get('type', 'string')
        assert field_type in ('string', 'boolean')
        if field_type != 'string':
            assert not set(STRING_ONLY_KEYS) & set(field), field
        assert field.get('format') in (None, 'ssh_private_key', 'url')
        if 'choices' in field:
            assert field['choices'] and len(set(field['choices'])) == len(field['choices'])
            assert all(isinstance(choice, str) for choice in field['choices'])
        if 'default' in field:
            assert isinstance(field['default'], {'string': str, 'boolean': bool}[field_type])
        ids.append(field['id'])
    assert len(ids) == len(set(ids))
    assert set(inputs.get('required', [])) <= set(ids)
    injectors = credential_type['injectors']
    assert set(injectors) <= {'file', 'env', 'extra_vars'}
    files = list(injectors.get('file', {}))
    assert all(FILE_TEMPLATE_PATTERN.match(key) for key in files)
    assert not ('template' in files and len(files) > 1), 'single-file and multi-file syntax mixed'
    for env_name, template in injectors.get('env', {}).items():
        assert ID_PATTERN.match(env_name)
        assert not env_name.startswith('ANSIBLE_') and env_name not in ENV_BLOCKLIST, env_name
        assert isinstance(template, str) and template.isascii()
    render_as_awx_validates(injectors, ids)


@pytest.mark.parametrize('name', TYPE_FILES)
def test_injects_only_variables_the_collection_reads_and_no_extra_vars(name):
    injectors = load(name)['injectors']
    # Inventory syncs get no extra_vars from credentials; the collection reads environment variables.
    assert 'extra_vars' not in injectors
    assert set(injectors['env']) <= read_env_names()


def test_the_nomad_type_sets_every_variable_of_the_nomad_options():
    # An AWX inventory source takes one credential: this one must carry all the plugin reads.
    nomad = set(env for env, fallback in fallback_env_names().items()
                if any(env in (spec.get('fallback') or (None, ()))[1] for spec in _argspec.NOMAD_OPTIONS.values()))
    assert set(load('nomad.yml')['injectors']['env']) == nomad


def test_the_management_api_type_sets_every_variable_of_the_management_api_options():
    api = set(env for spec in _argspec.MANAGEMENT_API_OPTIONS.values() for env in (spec.get('fallback') or (None, ()))[1])
    assert set(load('nomad_iis_management_api.yml')['injectors']['env']) == api


def test_every_input_is_injected_and_secrets_are_secret():
    for name in TYPE_FILES:
        credential_type = load(name)
        templates = ' '.join(value for kind in credential_type['injectors'].values() for value in kind.values())
        for field in credential_type['inputs']['fields']:
            assert re.search(r'\b%s\b' % field['id'], templates), '%s: %s is never injected' % (name, field['id'])
            if re.search(r'token|password|key$', field['id']) and 'cert' not in field['id']:
                assert field.get('secret') is True, '%s: %s must be secret' % (name, field['id'])


def test_a_full_nomad_credential(tmp_path, monkeypatch):
    inputs = dict(nomad_addr='https://nomad.example.com:4646', nomad_token='t0k3n', nomad_namespace='prod',
                  nomad_region='eu', nomad_ca_cert='CA PEM', nomad_client_cert='CERT PEM', nomad_client_key='KEY PEM',
                  nomad_tls_server_name='server.global.nomad', nomad_skip_verify=False)
    env, files = inject(load('nomad.yml'), inputs, tmp_path)
    with open(env['NOMAD_CACERT']) as ca, open(env['NOMAD_CLIENT_KEY']) as key:
        assert (ca.read(), key.read()) == ('CA PEM', 'KEY PEM')
    read = read_by_the_collection(env, monkeypatch)
    assert read['NOMAD_ADDR'] == 'https://nomad.example.com:4646' and read['NOMAD_TOKEN'] == 't0k3n'
    assert (read['NOMAD_NAMESPACE'], read['NOMAD_REGION'], read['NOMAD_TLS_SERVER_NAME']) == ('prod', 'eu', 'server.global.nomad')
    assert read['NOMAD_CLIENT_CERT'] == files['cert']
    assert read['NOMAD_SKIP_VERIFY'] is True  # nomad_validate_certs: True (AWX renders False as "False")


def test_a_minimal_nomad_credential_leaves_the_rest_unset(tmp_path, monkeypatch):
    env, files = inject(load('nomad.yml'), dict(nomad_addr='http://10.0.0.5:4646'), tmp_path)
    read = read_by_the_collection(env, monkeypatch)
    assert read.pop('NOMAD_ADDR') == 'http://10.0.0.5:4646'
    # empty variables: the options' defaults apply; AWX renders the missing boolean as "False"
    assert read.pop('NOMAD_SKIP_VERIFY') is True
    assert set(read.values()) == {None}, read


def test_skip_verify(tmp_path, monkeypatch):
    env, files = inject(load('nomad.yml'), dict(nomad_addr='https://n:4646', nomad_skip_verify=True), tmp_path)
    assert env['NOMAD_SKIP_VERIFY'] == 'True'
    assert read_by_the_collection(env, monkeypatch)['NOMAD_SKIP_VERIFY'] is False


def test_management_api_and_winrm_credentials(tmp_path, monkeypatch):
    env, files = inject(load('nomad_iis_management_api.yml'), dict(api_key='k3y'), tmp_path)
    read = read_by_the_collection(env, monkeypatch)
    assert (read['NOMAD_IIS_API_KEY'], read['NOMAD_IIS_API_TOKEN'], read['NOMAD_IIS_API_URL']) == ('k3y', None, None)
    env, files = inject(load('nomad_iis_winrm.yml'), dict(winrm_user='CORP\\deploy', winrm_password='pw'), tmp_path)
    assert env == {'NOMAD_IIS_WINRM_USER': 'CORP\\deploy', 'NOMAD_IIS_WINRM_PASSWORD': 'pw',
                   'NOMAD_IIS_WINRM_TRANSPORT': '', 'NOMAD_IIS_WINRM_SCHEME': ''}


@pytest.mark.parametrize('name', TYPE_FILES)
def test_the_guide_shows_each_type_as_shipped(name):
    with open(GUIDE, encoding='utf-8') as handle:
        guide = handle.read()
    with open(os.path.join(TYPES_DIR, name), encoding='utf-8') as handle:
        shipped = yaml.safe_load(handle)
    blocks = re.findall(r'\.\. code-block:: yaml\n\s*:caption: extensions/awx/credential_types/%s\n\n((?:(?:   .*)?\n)+)'
                        % re.escape(name), guide)
    assert len(blocks) == 1, 'the guide must show %s once, with that caption' % name
    shown = yaml.safe_load(re.sub(r'(?m)^   ', '', blocks[0]))
    assert shown == shipped
