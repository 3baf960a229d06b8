# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The doc fragments document exactly the shared argument specs: names, types, defaults, env vars."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.nomad_iis.management.plugins.doc_fragments import (
    attributes,
    connection,
    iis_target,
    management_api,
    nodes,
    nomad,
    winrm,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import (
    CONNECTION_OPTIONS,
    IIS_TARGET_OPTIONS,
    MANAGEMENT_API_OPTIONS,
    NOMAD_OPTIONS,
    VIA_OPTIONS,
    WINRM_OPTIONS,
)

PAIRS = [
    pytest.param(nomad, NOMAD_OPTIONS, id='nomad'),
    pytest.param(management_api, MANAGEMENT_API_OPTIONS, id='management_api'),
    pytest.param(connection, CONNECTION_OPTIONS, id='connection'),
    pytest.param(iis_target, IIS_TARGET_OPTIONS, id='iis_target'),
    pytest.param(winrm, WINRM_OPTIONS, id='winrm'),
]


def options_of(fragment):
    return yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)['options']


def env_names(option):
    fallback = option.get('fallback')
    return list(fallback[1]) if fallback else []


@pytest.mark.parametrize('fragment, spec', PAIRS)
def test_same_options(fragment, spec):
    assert sorted(options_of(fragment)) == sorted(spec)


@pytest.mark.parametrize('fragment, spec', PAIRS)
def test_types_and_defaults_match(fragment, spec):
    for name, doc in options_of(fragment).items():
        assert doc['type'] == spec[name]['type'], name
        assert doc.get('default') == spec[name].get('default'), name


@pytest.mark.parametrize('fragment, spec', PAIRS)
def test_descriptions_are_plain_strings_naming_the_env_vars(fragment, spec):
    for name, doc in options_of(fragment).items():
        description = doc['description']
        lines = description if isinstance(description, list) else [description]
        # A stray "key: value" in a YAML list item turns a line into a mapping.
        assert all(isinstance(line, str) for line in lines), name
        for env in env_names(spec[name]):
            assert 'E(%s)' % env in ' '.join(lines), '%s must document %s' % (name, env)


@pytest.mark.parametrize('fragment, spec', PAIRS)
def test_secrets_say_they_are_never_shown(fragment, spec):
    for name, option in spec.items():
        if option.get('no_log'):
            assert 'Never returned or shown in messages.' in options_of(fragment)[name]['description'], name


def test_the_via_section_documents_via():
    doc = yaml.safe_load(winrm.ModuleDocFragment.VIA)
    assert sorted(doc['options']) == sorted(VIA_OPTIONS)
    assert doc['options']['via']['choices'] == VIA_OPTIONS['via']['choices']
    assert doc['options']['via']['default'] == VIA_OPTIONS['via']['default']
    assert doc['requirements'] == ['pywinrm (only when acting over WinRM)']


def test_the_node_rule_is_documented_once():
    doc = yaml.safe_load(nodes.ModuleDocFragment.DOCUMENTATION)
    assert doc['options'] == {} and 'unique prefix of a node ID' in doc['notes'][0]


def test_attribute_fragments_parse():
    for name in ('DOCUMENTATION', 'INFO_MODULE', 'ACTIONGROUP_NOMAD', 'ACTIONGROUP_NOMAD_IIS'):
        doc = yaml.safe_load(getattr(attributes.ModuleDocFragment, name))
        assert doc['options'] == {} and doc['attributes'], name


@pytest.mark.parametrize('fragment, group', [('ACTIONGROUP_NOMAD', 'nomad'), ('ACTIONGROUP_NOMAD_IIS', 'nomad_iis')])
def test_action_group_fragments_name_their_group(fragment, group):
    action_group = yaml.safe_load(getattr(attributes.ModuleDocFragment, fragment))['attributes']['action_group']
    assert action_group['membership'] == ['nomad_iis.management.' + group]
    assert 'group/nomad_iis.management.%s' % group in action_group['description']
