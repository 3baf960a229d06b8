# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Print, as a JSON list, what each file given is: size, sha256, and for a PNG its width and height.

    png_info.py FILE...

Independent of the module under test: it reads the PNG signature and IHDR chunk itself.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys

SIGNATURE = b'\x89PNG\r\n\x1a\n'


def info(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as handle:
        head = handle.read(24)
        handle.seek(0)
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
            size += len(chunk)
    is_png = head.startswith(SIGNATURE) and head[12:16] == b'IHDR'
    width, height = struct.unpack('>II', head[16:24]) if is_png else (None, None)
    return {'path': path, 'size': size, 'sha256': digest.hexdigest(), 'png': is_png, 'width': width, 'height': height}


if __name__ == '__main__':
    json.dump([info(path) for path in sys.argv[1:]], sys.stdout)
