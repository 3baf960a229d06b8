# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run the project's sandbox (``python -m nomad_iis_sandbox serve``) for tests that need the real
Management API behaviour; stopped by PID when the context ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

READY_TIMEOUT = 60


@contextlib.contextmanager
def running_sandbox(*args):
    workdir = tempfile.mkdtemp(prefix='nomad-iis-unit-')
    ready = os.path.join(workdir, 'ready.json')
    with open(os.path.join(workdir, 'sandbox.log'), 'wb') as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, '-m', 'nomad_iis_sandbox', 'serve', '--nomad-port', '0', '--api-port', '0',
             '--inspect', '--ready-file', ready] + list(args), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not os.path.exists(ready):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('the sandbox did not start; see %s' % log.name)
                time.sleep(0.05)
            with open(ready, encoding='utf-8') as handle:
                yield json.load(handle)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def inspect_state(info, alloc_id):
    with urllib.request.urlopen('%s/state?alloc=%s' % (info['inspect_url'], alloc_id), timeout=30) as response:
        return json.load(response)['allocs'][alloc_id]
