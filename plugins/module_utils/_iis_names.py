# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The names the Nomad IIS driver gives a task's IIS objects, and which ``nomad-*`` objects are dangling.

Python versions supported: 3.11 and newer.

As the driver builds them (https://github.com/sevensolutions/nomad-iis,
``src/NomadIIS/Services/IisTaskHandle.cs``, ``BuildAppPoolName``/``BuildWebsiteName``):

- v0.15.0 and newer: one pool per pool the task's applications use, ``nomad-{alloc}-{task}`` for
  ``default`` and ``nomad-{alloc}-{task}-{pool}`` for the others; the site ``nomad-{alloc}-{task}``
  (or the task's ``target_website``). Pools no application uses are not made, not even ``default``.
- v0.5.0 to v0.14.x: one name for the pool and the site, ``nomad-{alloc}-{task}`` (``nomad-{alloc}``
  when that is longer than 64 characters).
- before v0.5.0: ``{alloc}-{task}``.

Characters IIS refuses in names (``\\ / " | < > : * ? ] [ + = ; , @ &``) and spaces become ``_``.
The names are confirmed against what appcmd lists (``DriverNames.confirm``), because a node's driver
version attribute may be missing or the allocation may predate an upgrade.

Dangling (the driver's rule, ``ManagementApiController.GetDebugInfo``): a pool or site whose name
starts with ``nomad-`` and that no live task owns. Without the Management API the owner is the
allocation ID in the name: the object is dangling unless an allocation with that ID is ``pending``
or ``running`` on the node; a ``nomad-`` name without an allocation ID is dangling.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError

PREFIX = 'nomad-'
DEFAULT_POOL = 'default'
NAME_MAX = 64
INVALID = re.compile(r'[\\/"|<>:*?\][+=;,@&\s]')
OWNER = re.compile(r'^nomad-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(-|$)')
LIVE_STATUSES = ('pending', 'running')
DRIVER_VERSION = 'driver.iis.version'
SCHEMES = ('per-pool', 'shared', 'legacy')


class IisNamesError(NomadIisError):
    """The task's IIS objects are not where the driver's naming says."""


def sanitize(name):
    return INVALID.sub('_', name)


def version_of(node):
    """The driver version a node reports (``driver.iis.version``) as a tuple, or None."""
    attributes = dict(((node.get('Drivers') or {}).get('iis') or {}).get('Attributes') or {})
    attributes.update(node.get('Attributes') or {})
    match = re.match(r'^v?(\d+)\.(\d+)(?:\.(\d+))?', str(attributes.get(DRIVER_VERSION) or ''))
    return tuple(int(part or 0) for part in match.groups()) if match else None


def scheme_of(version):
    if version is None or version >= (0, 15, 0):
        return 'per-pool'
    return 'shared' if version >= (0, 5, 0) else 'legacy'


def used_pools(config):
    """The logical pools the task's IIS uses, in the driver's order: the declared ``application_pool``
    blocks that an application uses, then used pools without a block (sorted)."""
    config = config or {}
    used = set((app.get('application_pool') or DEFAULT_POOL) for app in config.get('application') or [{}])
    declared = [p.get('name') or DEFAULT_POOL for p in (config.get('application_pool') or config.get('applicationPool') or [])]
    ordered = [name for name in declared if name in used]
    return ordered + sorted(used - set(ordered))


class DriverNames:
    """The IIS names of one task under one naming scheme: ``pools`` ``{logical: IIS name}`` and ``site``."""

    def __init__(self, alloc_id, task, config, scheme='per-pool'):
        config = config or {}
        self.scheme = scheme
        pools = used_pools(config)
        if scheme == 'per-pool':
            base = sanitize('%s%s-%s' % (PREFIX, alloc_id, task))
            self.pools = dict((p, base if p == DEFAULT_POOL else sanitize('%s-%s' % (base, p))) for p in pools)
            self.site = config.get('target_website') or base
        else:
            base = '%s%s-%s' % (PREFIX, alloc_id, task) if scheme == 'shared' else '%s-%s' % (alloc_id, task)
            base = sanitize(base)
            if scheme == 'shared' and len(base) > NAME_MAX:
                base = PREFIX + alloc_id
            self.pools = dict((p, base) for p in pools)
            self.site = config.get('target_website') or base

    def missing(self, pool_names, site_names=None):
        """The names of this scheme that IIS does not have."""
        lower = set(n.lower() for n in pool_names)
        missing = [n for n in self.pools.values() if n.lower() not in lower]
        if site_names is not None and self.site.lower() not in set(n.lower() for n in site_names):
            missing.append(self.site)
        return missing


def confirm(alloc_id, task, config, version, pool_names, site_names, label):
    """The ``DriverNames`` of the task whose objects IIS has: the scheme of ``version`` first, then
    the others. Raises ``IisNamesError`` naming what is missing and what IIS has of the allocation."""
    preferred = scheme_of(version)
    schemes = [preferred] + [s for s in SCHEMES if s != preferred]
    first = None
    for scheme in schemes:
        names = DriverNames(alloc_id, task, config, scheme)
        if not names.missing(pool_names, site_names):
            return names
        first = first or names
    related = sorted(n for n in list(pool_names) + list(site_names or []) if alloc_id.lower() in n.lower())
    raise IisNamesError('%s: IIS has no %s of the names the driver gives them (%s); objects of IIS that name the '
                        'allocation: %s' % (label, 'application pool or site', ', '.join(first.missing(pool_names, site_names)),
                                            ', '.join(sorted(set(related))) or 'none'))


def owner(name):
    """The allocation ID in a driver's object name, or None."""
    match = OWNER.match(name or '')
    return match.group(1) if match else None


def dangling_reason(name, live_alloc_ids):
    """Why ``name`` is dangling by the driver's rule, or None when it is not (see the module docstring)."""
    if not (name or '').startswith(PREFIX):
        return None
    alloc_id = owner(name)
    if alloc_id is None:
        return 'named nomad-* without an allocation ID, so no task can own it'
    if alloc_id in live_alloc_ids:
        return None
    return 'allocation %s is not pending or running on the node' % alloc_id


def keep_reason(name, live_alloc_ids):
    """Why ``name`` is never removed, or None when it is dangling."""
    if not (name or '').startswith(PREFIX):
        return 'not named nomad-*: not the driver\'s'
    alloc_id = owner(name)
    if alloc_id is not None and alloc_id in live_alloc_ids:
        return 'allocation %s is %s' % (alloc_id, live_alloc_ids[alloc_id])
    return None
