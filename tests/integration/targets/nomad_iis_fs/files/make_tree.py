# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test data: ``make_tree.py DIR FILES TOTAL_BYTES`` writes FILES files of pseudo-random bytes
(incompressible, so zip parts are as large as they get) in nested folders below DIR;
``make_tree.py --text FILE BYTES`` writes one compressible text file."""

from __future__ import annotations

import os
import random
import sys


def tree(root, count, total):
    rng = random.Random(20261125)
    size = total // count
    for index in range(count):
        folder = os.path.join(root, 'd%02d' % (index % 50), 'e%d' % (index % 7))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, 'f%05d.bin' % index), 'wb') as handle:
            handle.write(rng.randbytes(size))


def text(path, size):
    line = b'All work and no play makes a deployment dull. 0123456789\n'
    with open(path, 'wb') as handle:
        for dummy in range(size // len(line)):
            handle.write(line)
        handle.write(line[:size % len(line)])


if __name__ == '__main__':
    if sys.argv[1] == '--text':
        text(sys.argv[2], int(sys.argv[3]))
    else:
        tree(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
