# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap its sanity venvs.

ansible-test creates each sanity test's virtual environment without pip and runs
``~/.ansible/test/cache/get_pip_<version>.py <pip install arguments>`` in it, downloading that
script from a host this build environment cannot reach. seed_get_pip.py copies this file there
instead: it installs pip with the standard library's ensurepip and then lets that pip install what
ansible-test asked for (the pinned pip itself) from the package index that is reachable.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that are not pip install options.
GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check'] + args, check=True)


if __name__ == '__main__':
    main()
