# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write each module's EXAMPLES (as ansible-doc shows them) to DIR/<module>.yml, one task file each.

    write_examples.py DIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

COLLECTION = 'nomad_iis.management'


def ansible_doc(*args):
    return json.loads(subprocess.run(['ansible-doc', '--json', *args], check=True, stdout=subprocess.PIPE).stdout)


def main(directory):
    modules = sorted(ansible_doc('--list', '-t', 'module', COLLECTION))
    if not modules:
        raise SystemExit('no modules found in ' + COLLECTION)
    docs = ansible_doc('-t', 'module', *modules)
    for module in modules:
        examples = yaml.safe_load(docs[module]['examples'] or '') or []
        if not examples:
            raise SystemExit('%s has no EXAMPLES' % module)
        with open(os.path.join(directory, module.rsplit('.', 1)[1] + '.yml'), 'w', encoding='utf-8') as handle:
            yaml.safe_dump(examples, handle, sort_keys=False)
    sys.stdout.write('\n'.join(modules) + '\n')


if __name__ == '__main__':
    main(sys.argv[1])
