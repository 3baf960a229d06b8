# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check the build context `ansible-builder create` wrote for examples/ee/execution-environment.yml,
and the requirements builder merges from the collection and that definition at build time.

    check_ee_context.py EE_FILE CONTEXT_DIR MERGED_PIP MERGED_BINDEP

Building the image needs a container engine and the network; this checks everything before that:
the Containerfile starts from the definition's base image and installs ansible-core and
ansible-runner, the build context holds the definition's requirement files, and the merged
requirements hold every optional feature's package (pywinrm, playwright, chromium).
"""

from __future__ import annotations

import os
import re
import sys

import yaml


def requirement_lines(path):
    with open(path, encoding='utf-8') as handle:
        return [line.split('#', 1)[0].strip() for line in handle if line.split('#', 1)[0].strip()]


def main(ee_file, context, merged_pip, merged_bindep):
    problems = []
    with open(ee_file, encoding='utf-8') as handle:
        definition = yaml.safe_load(handle)
    ee_dir = os.path.dirname(os.path.abspath(ee_file))
    with open(os.path.join(context, 'Containerfile'), encoding='utf-8') as handle:
        containerfile = handle.read()

    base = definition['images']['base_image']['name']
    if 'ARG EE_BASE_IMAGE="%s"' % base not in containerfile or 'FROM $EE_BASE_IMAGE AS base' not in containerfile:
        problems.append('the Containerfile does not start from the base image %s' % base)
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="(.*)"$', containerfile, re.M)
    if not refs or not re.search(r'\bansible-core\b', refs.group(1)) or 'ansible-runner' not in refs.group(1):
        problems.append('the Containerfile does not install ansible-core and ansible-runner: %s' % (refs and refs.group(0)))
    for step in definition.get('additional_build_steps', {}).get('append_final', []):
        if step not in containerfile:
            problems.append('the Containerfile lacks the step %r' % step)

    for kind in ('python', 'system', 'galaxy'):
        source = os.path.join(ee_dir, definition['dependencies'][kind])
        copied = os.path.join(context, '_build', os.path.basename(source))
        if not os.path.isfile(copied):
            problems.append('%s is not in the build context' % copied)
            continue
        with open(source, encoding='utf-8') as one, open(copied, encoding='utf-8') as other:
            if one.read() != other.read():
                problems.append('%s differs from %s' % (copied, source))
    with open(os.path.join(context, '_build', 'requirements.yml'), encoding='utf-8') as handle:
        galaxy = yaml.safe_load(handle)
    if 'nomad_iis.management' not in [c.get('name') for c in galaxy.get('collections', [])]:
        problems.append('requirements.yml does not install nomad_iis.management')

    merged = ' '.join(requirement_lines(merged_pip)) if os.path.exists(merged_pip) else ''
    for package in ('pywinrm', 'playwright'):
        if not re.search(r'\b%s\b' % package, merged):
            problems.append('the merged Python requirements lack %s: %r' % (package, merged))
    merged = ' '.join(requirement_lines(merged_bindep)) if os.path.exists(merged_bindep) else ''
    if 'chromium' not in merged:
        problems.append('the merged system requirements lack chromium: %r' % merged)

    for problem in problems:
        sys.stderr.write('execution environment: %s\n' % problem)
    if not problems:
        sys.stdout.write('execution environment: build context in %s checked (base image %s)\n' % (context, base))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:5]))
