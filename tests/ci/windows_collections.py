# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unpack ansible.windows and community.windows for the checks, from PyPI's ``ansible`` package.

    windows_collections.py [DEST]      prints DEST (default: build/windows-collections)

The role management_api runs its Windows steps with these two collections, and galaxy.yml
declares them, so ansible-lint must be able to resolve their modules. Galaxy is out of reach where
the checks run, but PyPI's ``ansible`` package (the community bundle) carries both under
``ansible_collections/``. Its wheel is fetched once with pip, without dependencies (its own
ansible-core must not replace the one under test), checked against the sha256 below, and the two
collections are unpacked into DEST/ansible_collections/, a directory for ANSIBLE_COLLECTIONS_PATH.

ansible 12.3.0 carries ansible.windows 3.3.0 and community.windows 3.1.0; both say
``requires_ansible: '>=2.16.0'`` in meta/runtime.yml, so they serve every ansible-core the
collection claims.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUNDLE = 'ansible==12.3.0'
WHEEL = 'ansible-12.3.0-py3-none-any.whl'
WHEEL_SHA256 = 'cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414'
COLLECTIONS = ('ansible_collections/ansible/windows/', 'ansible_collections/community/windows/')


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def unpack(dest):
    with tempfile.TemporaryDirectory(prefix='windows-collections-') as tmp:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--dest', tmp, BUNDLE],
                       check=True, stdout=subprocess.DEVNULL)
        wheel = os.path.join(tmp, WHEEL)
        actual = sha256(wheel)
        if actual != WHEEL_SHA256:
            raise SystemExit('%s has sha256 %s, not %s' % (WHEEL, actual, WHEEL_SHA256))
        staging = os.path.join(tmp, 'unpacked')
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(staging, [name for name in archive.namelist() if name.startswith(COLLECTIONS)])
        shutil.move(os.path.join(staging, 'ansible_collections'), os.path.join(dest, 'ansible_collections'))


def main(argv):
    dest = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(REPO, 'build', 'windows-collections'))
    os.makedirs(dest, exist_ok=True)
    # Parallel checks (integration runs two) share one copy: the first unpacks it, the others wait.
    with open(os.path.join(dest, '.lock'), 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(os.path.join(dest, 'ansible_collections', 'community', 'windows')):
            shutil.rmtree(os.path.join(dest, 'ansible_collections'), ignore_errors=True)
            unpack(dest)
    sys.stdout.write(dest + '\n')


if __name__ == '__main__':
    main(sys.argv)
