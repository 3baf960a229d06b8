# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection requires no package in an execution environment, names exactly what its
optional features need, and examples/ee installs exactly those. (ansible-builder itself checks
the example's schema and build context in `tests/ci/collection.sh ee`.)"""

from __future__ import annotations

import os
import re

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(COLLECTION_ROOT, 'examples', 'ee')


def read(*path):
    with open(os.path.join(COLLECTION_ROOT, *path), encoding='utf-8') as handle:
        return handle.read()


def active_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]


def commented_requirements(text):
    """The commented-out requirement lines: `# name...` with a version or a bindep selector."""
    return [line.lstrip('# ').strip() for line in text.splitlines()
            if re.match(r'^#\s*[A-Za-z0-9_.-]+\s*(>=|==|~=|<|\[)', line)]


def collection_meta():
    return yaml.safe_load(read('meta', 'execution-environment.yml'))


@pytest.mark.parametrize('kind, example', [('python', 'requirements.txt'), ('system', 'bindep.txt')])
def test_nothing_required_and_the_optional_packages_named_exactly(kind, example):
    text = read(collection_meta()['dependencies'][kind])
    assert active_lines(text) == []
    with open(os.path.join(EXAMPLE, example), encoding='utf-8') as handle:
        assert commented_requirements(text) == active_lines(handle.read())


def test_the_example_execution_environment():
    with open(os.path.join(EXAMPLE, 'execution-environment.yml'), encoding='utf-8') as handle:
        definition = yaml.safe_load(handle)
    assert definition['version'] == 3
    dependencies = definition['dependencies']
    for kind in ('python', 'system', 'galaxy'):
        assert os.path.isfile(os.path.join(EXAMPLE, dependencies[kind])), kind
    assert dependencies['ansible_core']['package_pip'].startswith('ansible-core>=2.16')
    with open(os.path.join(EXAMPLE, dependencies['galaxy']), encoding='utf-8') as handle:
        assert [c['name'] for c in yaml.safe_load(handle)['collections']] == ['nomad_iis.management']
    with open(os.path.join(EXAMPLE, dependencies['python']), encoding='utf-8') as handle:
        packages = [re.split(r'[<>=~\[ ]', line)[0] for line in active_lines(handle.read())]
    assert packages == ['pywinrm', 'playwright']
