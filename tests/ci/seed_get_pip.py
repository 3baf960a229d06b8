# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Put get_pip_standin.py where the installed ansible-test looks for its cached get-pip script.

Run with the Python that has ansible-core installed. The file name carries the pip version that
this ansible-test release pins (``~/.ansible/test/cache/get_pip_24_2.py`` for ansible-core 2.19),
so it is read from ansible-test itself rather than written down here.
"""

from __future__ import annotations

import os
import shutil
import sys


def pinned_pip_version():
    # ansible-test's own answer for this Python (the same call it makes when bootstrapping a venv).
    from ansible_test._internal.python_requirements import get_venv_packages

    class PythonVersion:  # get_venv_packages() reads only .version
        version = '%d.%d' % sys.version_info[:2]

    return get_venv_packages(PythonVersion())['pip']


def main():
    version = pinned_pip_version()
    target = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % version.replace('.', '_'))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'get_pip_standin.py')
    shutil.copyfile(source, target)
    sys.stdout.write('seeded %s (pip %s) with %s\n' % (target, version, os.path.relpath(source)))


if __name__ == '__main__':
    main()
