# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The application pools of an IIS task as the Management API reports them, and what a 403 means.

Python versions supported: 3.11 and newer.

``GET .../status`` answers (v0.15.0 and newer) ``{"defaultApplicationPool": Pool|null,
"applicationPools": [Pool...]}`` with ``Pool = {"name", "status", "isWorkerProcessRunning"}`` and
``status`` one of IIS's object states ``Starting``, ``Started``, ``Stopping``, ``Stopped`` and
``Unknown``. Older drivers answered ``{"applicationPool": {"status", "isWorkerProcessRunning"}}``
for their single pool, which is the pool ``default``.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import contextlib

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError

# Capabilities of the Management API's JWTs (an api_key grants all of them).
STATUS = 'Status'
APP_POOL_LIFECYCLE = 'AppPoolLifecycle'
DEBUG = 'Debug'


def pool_entry(pool, default_name=None):
    return dict(name=pool.get('name') or default_name, status=pool.get('status'),
                worker_process_running=bool(pool.get('isWorkerProcessRunning')))


def pools_of(status):
    """The pools of a status answer as ``[{name, status, worker_process_running}]``, in the driver's order."""
    status = status or {}
    if 'applicationPools' in status:
        return [pool_entry(p) for p in status['applicationPools'] or []]
    if status.get('applicationPool'):  # drivers before v0.15.0: one pool, the default one
        return [pool_entry(status['applicationPool'], 'default')]
    return []


def read_pools(client, target):
    """The pools of ``target``'s task, read from its Management API ``client``."""
    with needs_capability(STATUS):
        return pools_of(client.status(target.alloc_id, target.task,
                                      'reading the application pool status of %s' % target.label))


def describe_pools(pools):
    """``'default' is Stopping, 'api' is Stopped`` for messages."""
    return ', '.join("'%s' is %s" % (p['name'], p['status']) for p in pools) or 'the task has no application pool'


@contextlib.contextmanager
def needs_capability(capability):
    """Add the JWT capability a request needs to the message of a 403 answer."""
    try:
        yield
    except ApiError as exc:
        if exc.status != 403:
            raise
        raise ApiError('%s (this request needs the %s capability)' % (exc, capability), status=exc.status,
                       body=exc.body, url=exc.url, method=exc.method, attempts=exc.attempts) from None
