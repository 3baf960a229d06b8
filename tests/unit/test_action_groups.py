# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every module is in its action group (nomad_* -> nomad, nomad_iis_* -> nomad_iis) and says so in its docs."""

from __future__ import annotations

import ast
import os

import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES_DIR = os.path.join(COLLECTION_ROOT, 'plugins', 'modules')


def module_names():
    if not os.path.isdir(MODULES_DIR):
        return []
    return sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith('.py') and name != '__init__.py')


def expected_group(module):
    if module.startswith('nomad_iis_'):
        return 'nomad_iis'
    if module.startswith('nomad_'):
        return 'nomad'
    return None


def action_groups():
    with open(os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml')) as handle:
        return yaml.safe_load(handle)['action_groups']


def documentation_of(module):
    with open(os.path.join(MODULES_DIR, module + '.py')) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'DOCUMENTATION' for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError('%s has no DOCUMENTATION' % module)


def test_groups_exist_and_are_sorted():
    groups = action_groups()
    assert set(groups) == {'nomad', 'nomad_iis'}
    for members in groups.values():
        assert members == sorted(members)


def test_requires_ansible():
    with open(os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml')) as handle:
        assert yaml.safe_load(handle)['requires_ansible'] == '>=2.16.0'


def test_every_group_member_is_a_module_of_that_group():
    modules = set(module_names())
    for group, members in action_groups().items():
        for member in members:
            assert member in modules, '%s is in group %s but there is no such module' % (member, group)
            assert expected_group(member) == group, '%s belongs in group %s' % (member, expected_group(member))


def test_every_module_is_in_its_group_and_documents_it():
    # One test over all modules (not parametrized): with no modules yet it must pass, not be skipped.
    for module in module_names():
        group = expected_group(module)
        assert group, '%s: module names start with nomad_ or nomad_iis_' % module
        assert module in action_groups()[group], '%s is missing from action group %s in meta/runtime.yml' % (module, group)
        fragments = documentation_of(module).get('extends_documentation_fragment', [])
        fragment = 'nomad_iis.management.attributes.actiongroup_' + group
        assert fragment in fragments, '%s must extend %s' % (module, fragment)
