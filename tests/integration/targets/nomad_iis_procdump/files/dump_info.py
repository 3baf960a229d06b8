# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Print, as a JSON list, what each file given is: size, sha256 and its first four bytes in hex
(a core dump starts with the ELF magic 7f454c46).

    dump_info.py FILE...

Independent of the module under test.
"""

from __future__ import annotations

import hashlib
import json
import sys


def info(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as handle:
        magic = handle.read(4)
        handle.seek(0)
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
            size += len(chunk)
    return {'path': path, 'size': size, 'sha256': digest.hexdigest(), 'magic': magic.hex()}


if __name__ == '__main__':
    json.dump([info(path) for path in sys.argv[1:]], sys.stdout)
