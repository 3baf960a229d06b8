# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run ``ansible-test integration`` against two sandboxes and stop them afterwards.

    run_integration.py COLLECTION_ROOT -- ansible-test integration ...

``plain``: HTTP, no ACLs (the default for targets). ``secure``: HTTPS with mutual TLS and ACLs.
Both serve tests/ci/integration_cluster.yml with the inspection endpoint on, on free ports. What
targets need to know (addresses, tokens, certificates, allocation and node IDs) goes into the
staged collection's tests/integration/integration_config.yml, which ansible-test passes to every
target as extra vars. The sandboxes are stopped by PID whatever happens, so none outlives the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, 'integration_cluster.yml')
API_KEY = 'integration-api-key'
JWT_SECRET = 'integration-jwt-secret-0123456789abcdef'
READY_TIMEOUT = 120


def start_sandbox(workdir, name, extra_args):
    ready = os.path.join(workdir, name + '.json')
    command = [sys.executable, '-m', 'nomad_iis_sandbox', 'serve', '--config', CLUSTER, '--state-dir', os.path.join(workdir, name),
               '--ready-file', ready, '--nomad-port', '0', '--api-port', '0', '--api-key', API_KEY,
               '--jwt-secret', JWT_SECRET, '--inspect'] + extra_args
    log = open(os.path.join(workdir, name + '.log'), 'wb')  # pylint: disable=consider-using-with
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
    return process, ready, log


def wait_ready(process, ready, log_path):
    deadline = time.monotonic() + READY_TIMEOUT
    while not os.path.exists(ready):
        if process.poll() is not None or time.monotonic() > deadline:
            with open(log_path, encoding='utf-8', errors='replace') as handle:
                raise RuntimeError('sandbox did not start:\n' + handle.read())
        time.sleep(0.1)
    with open(ready, encoding='utf-8') as handle:
        return json.load(handle)


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def integration_vars(plain, secure):
    def facts(info):
        return {
            'nomad_addr': info['nomad_addr'],
            'nomad_token': info['nomad_token'],
            'inspect_url': info['inspect_url'],
            'api_key': API_KEY,
            'jwt_secret': JWT_SECRET,
            'nodes': info['nodes'],
            'allocs': info['allocs'],
            'tls': info.get('tls'),
        }
    with open(CLUSTER, encoding='utf-8') as handle:
        cluster = yaml.safe_load(handle)
    return {
        'sandbox': facts(plain),
        'sandbox_secure': facts(secure),
        'sandbox_tokens': {t['name']: t['secret_id'] for t in cluster['acl']['tokens']},
    }


def main(argv):
    collection_root, command = argv[1], argv[argv.index('--') + 1:]
    workdir = tempfile.mkdtemp(prefix='nomad-iis-integration-')
    started = []
    try:
        for name, extra in (('plain', []), ('secure', ['--acl', '--tls-dir', os.path.join(workdir, 'tls')])):
            process, ready, log = start_sandbox(workdir, name, extra)
            started.append((process, log))
            info = wait_ready(process, ready, log.name)
            if name == 'plain':
                plain = info
            else:
                secure = info
        config = os.path.join(collection_root, 'tests', 'integration', 'integration_config.yml')
        with open(config, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(integration_vars(plain, secure), handle)
        return subprocess.call(command, cwd=collection_root)
    finally:
        for process, log in started:
            stop(process)
            log.close()
        sys.stdout.write('sandbox logs: %s\n' % workdir)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
