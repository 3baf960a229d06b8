# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The application pools of an IIS task as the Management API reports them.

Python versions supported: 3.11 and newer.

``GET .../status`` answers (v0.15.0 and newer) ``{"defaultApplicationPool": Pool|null,
"applicationPools": [Pool...]}`` with ``Pool = {"name", "status", "isWorkerProcessRunning"}`` and
``status`` one of IIS's object states ``Starting``, ``Started``, ``Stopping``, ``Stopped`` and
``Unknown`` (a number in some builds, which is mapped to its name). Older drivers answered
``{"applicationPool": {"status", "isWorkerProcessRunning"}}`` for their single pool, which is the
pool ``default``.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

STARTING = 'Starting'
STARTED = 'Started'
STOPPING = 'Stopping'
STOPPED = 'Stopped'
# IIS's ObjectState enumeration, in the order of its values.
OBJECT_STATES = (STARTING, STARTED, STOPPING, STOPPED, 'Unknown')


def state_name(value):
    """An IIS object state as its name, whether the driver sent the name or the number."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(OBJECT_STATES):
        return OBJECT_STATES[value]
    return value if value is None else str(value)


def pool_entry(pool, default_name=None):
    return dict(name=pool.get('name') or default_name, status=state_name(pool.get('status')),
                worker_process_running=bool(pool.get('isWorkerProcessRunning')))


def pools_of(status):
    """The pools of a status answer as ``[{name, status, worker_process_running}]``, in the driver's order."""
    status = status or {}
    if 'applicationPools' in status:
        return [pool_entry(p) for p in status['applicationPools'] or []]
    if status.get('applicationPool'):  # drivers before v0.15.0: one pool, the default one
        return [pool_entry(status['applicationPool'], 'default')]
    return []


def read_pools(client, target, action=None):
    """The pools of ``target``'s task, read from its Management API ``client``."""
    return pools_of(client.status(target.alloc_id, target.task,
                                  action or 'reading the application pool status of %s' % target.label))


def find_pool(pools, name):
    """The pool called ``name`` in a ``pools_of`` list, or None."""
    return next((pool for pool in pools if pool['name'] == name), None)


def describe_pools(pools):
    """``'default' is Stopping, 'api' is Stopped`` for messages."""
    return ', '.join("'%s' is %s" % (p['name'], p['status']) for p in pools) or 'the task has no application pool'
