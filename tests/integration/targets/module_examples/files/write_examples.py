# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write each module's EXAMPLES (as ansible-doc shows them) to DIR/<module>.yml, one task file each.

    write_examples.py DIR SCRATCH

The examples keep their files in /tmp/nomad_iis_examples; SCRATCH takes its place, so that runs on
several ansible-core versions at once do not share (and remove) one another's files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

COLLECTION = 'nomad_iis.management'
EXAMPLES_SCRATCH = '/tmp/nomad_iis_examples'


def ansible_doc(*args):
    return json.loads(subprocess.run(['ansible-doc', '--json', *args], check=True, stdout=subprocess.PIPE).stdout)


def main(directory, scratch):
    modules = sorted(ansible_doc('--list', '-t', 'module', COLLECTION))
    if not modules:
        raise SystemExit('no modules found in ' + COLLECTION)
    docs = ansible_doc('-t', 'module', *modules)
    for module in modules:
        examples = yaml.safe_load(docs[module]['examples'] or '') or []
        if not examples:
            raise SystemExit('%s has no EXAMPLES' % module)
        text = yaml.safe_dump(examples, sort_keys=False).replace(EXAMPLES_SCRATCH, scratch)
        with open(os.path.join(directory, module.rsplit('.', 1)[1] + '.yml'), 'w', encoding='utf-8') as handle:
            handle.write(text)
    sys.stdout.write('\n'.join(modules) + '\n')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
