# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write the role target's inventory and fake release zips from the sandbox's ready file.

    setup.py READY_FILE WORK_DIR NODE_TASKS

Inventory hosts are the sandbox's Nomad node names, with ansible_connection local; each gets a
Management API port of its own (the nodes share 127.0.0.1). The zips hold a nomad_iis.exe whose
content names its version, which node_tasks_sandbox.yml reads when it installs it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import zipfile

import yaml

VERSIONS = ('0.20.1', '0.21.0')
API_KEY = 'role-api-key-0123456789'
# win-c's Management API has a JWT secret and no key, so the role's smoke test mints a JWT there.
JWT_SECRET = 'role-jwt-secret-0123456789abcdef0123456789'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def main(ready_file, work, node_tasks):
    with open(ready_file, encoding='utf-8') as handle:
        ready = json.load(handle)
    for version in VERSIONS:
        with zipfile.ZipFile(os.path.join(work, 'nomad_iis_mgmt_api-%s.zip' % version), 'w') as archive:
            archive.writestr('nomad_iis.exe', 'MZ fake nomad_iis %s (Management API build)\n' % version)
    inventory = {'all': {
        'vars': {
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'sandbox_inspect_url': ready['inspect_url'],
            'sandbox_work_dir': work,
            'management_api_nomad_addr': ready['nomad_addr'],
            'management_api_node_tasks': node_tasks,
            'management_api_key': API_KEY,
            'management_api_ready_poll': 1,
            'management_api_ready_timeout': 30,
            'management_api_drain_timeout': 60,
        },
        'children': {'windows': {'hosts': {
            node['name']: {'management_api_port': free_port()} for node in ready['nodes']}}},
    }}
    inventory['all']['children']['windows']['hosts']['win-c'].update(management_api_key='',
                                                                     management_api_jwt_secret=JWT_SECRET)
    with open(os.path.join(work, 'inventory.yml'), 'w', encoding='utf-8') as handle:
        yaml.safe_dump(inventory, handle)


if __name__ == '__main__':
    main(*sys.argv[1:4])
