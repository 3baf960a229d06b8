# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Copy the collection to build/ansible_collections/nomad_iis/management for ansible-test.

ansible-test needs the collection at a path ending in ansible_collections/<namespace>/<name>/.
A symlink to the repository root is not enough: ansible-test (and the pytest it runs for units)
takes paths from os.getcwd(), which resolves symlinks, and then finds no ansible_collections
directory above the real path. So the files are copied: those git knows about, tracked or new
but not ignored, which is the file list ansible-test itself would use in a git checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# STAGE_DIR lets concurrent runs (e.g. several developers' checks) stage into their own directories.
DEST = os.path.join(os.environ.get('STAGE_DIR') or os.path.join(REPO, 'build'), 'ansible_collections', 'nomad_iis',
                    'management')


def git_files():
    listing = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                             cwd=REPO, check=True, stdout=subprocess.PIPE).stdout
    return [name for name in listing.decode('utf-8').split('\0') if name]


def main():
    if os.path.islink(DEST):
        os.unlink(DEST)
    elif os.path.isdir(DEST):
        shutil.rmtree(DEST)
    copied = 0
    for name in git_files():
        source, target = os.path.join(REPO, name), os.path.join(DEST, name)
        if not os.path.lexists(source):
            continue  # deleted in the work tree, not yet in the index
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
        copied += 1
    sys.stdout.write('staged %d files in %s\n' % (copied, os.path.relpath(DEST, REPO)))


if __name__ == '__main__':
    main()
