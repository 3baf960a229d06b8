# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The IIS objects of a node and which of them the driver left dangling.

Python versions supported: 3.11 and newer.

An object is a candidate when the driver's rule says it is dangling (``_iis_names``): by the
Management API's debug view (``isDangling``) where the node has it, else by its name and the
node's allocations in Nomad. Either way each candidate is then checked with Nomad: an object whose
allocation is ``pending`` or ``running`` is kept, and an answer other than "no such allocation" for
its allocation stops everything (``NomadUnsure``): nothing is removed on a guess, for example when
an ACL token hides a namespace.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import Appcmd
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NomadIisError, NotFound
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_names import (
    LIVE_STATUSES,
    DriverNames,
    dangling_reason,
    keep_reason,
    owner,
    scheme_of,
    version_of,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import IIS_DRIVER, iis_tasks
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import read_allocation, task_config

POOL = 'pool'
SITE = 'site'


class NomadUnsure(NomadIisError):
    """Nomad could not say whether an object's allocation lives: nothing is removed."""


def live_allocations(nomad, node):
    """``{alloc ID: client status}`` of the node's pending and running allocations, and the full
    allocations themselves; fails (``NomadUnsure``) when Nomad cannot be asked."""
    name = node.get('Name') or node.get('ID')
    try:
        allocs = nomad.get_json('/v1/node/{}/allocations', node['ID'],
                                action="listing the allocations of node '%s'" % name) or []
    except ApiError as exc:
        raise NomadUnsure('%s; nothing was removed, since without Nomad no object can be told dangling' % exc) from None
    live = [a for a in allocs if a.get('ClientStatus') in LIVE_STATUSES]
    return dict((a['ID'], a['ClientStatus']) for a in live), live


def confirm_dead(nomad, alloc_id, node_id, name):
    """None when ``alloc_id`` is unknown to Nomad or neither pending nor running on the node, else
    why the object is kept; raises ``NomadUnsure`` when Nomad does not answer clearly."""
    try:
        alloc = read_allocation(nomad, alloc_id)
    except NotFound:
        return None
    except ApiError as exc:
        raise NomadUnsure('%s; Nomad cannot tell whether %r is dangling, so nothing was removed (the token needs '
                          'read-job in every namespace and node:read)' % (exc, name)) from None
    if alloc.get('NodeID') == node_id and alloc.get('ClientStatus') in LIVE_STATUSES:
        return 'allocation %s is %s' % (alloc_id, alloc['ClientStatus'])
    return None


def classify(nomad, node, names, kind, live, api_view=None):
    """``(dangling, kept)``: lists of ``{type, name, reason}`` for the objects ``names`` of ``kind``.

    ``api_view`` (``{name: is_dangling}`` from the debug view) decides candidates where given; else the
    rule on names and ``live`` (``{alloc ID: status}``) does."""
    dangling, kept = [], []
    for name in names:
        reason = keep_reason(name, live)
        if reason is None and api_view is not None and not api_view.get(name, False):
            reason = 'a task handle of the driver owns it'
        if reason is None:
            alloc_id = owner(name)
            reason = confirm_dead(nomad, alloc_id, node['ID'], name) if alloc_id else None
        if reason is None:
            dangling.append(dict(type=kind, name=name, reason=dangling_reason(name, live) or 'the driver says dangling'))
        else:
            kept.append(dict(type=kind, name=name, reason=reason))
    return dangling, kept


def winrm_objects(appcmd):
    """``(pool names, site names)`` of the node's IIS."""
    action = 'listing the IIS objects of the node'
    return list(appcmd.pools(action)), list(appcmd.sites(action))


def winrm_debug_view(module, node):
    """The Management API's debug view (snake case) of a node, built from appcmd and Nomad."""
    appcmd = Appcmd(module.shell_for(node).run)
    pools, sites = winrm_objects(appcmd)
    live, allocs = live_allocations(module.nomad, node)
    scheme = scheme_of(version_of(node))
    handles = []
    for alloc in allocs:
        if alloc.get('Job') is None:
            alloc = read_allocation(module.nomad, alloc['ID'])
        for task in iis_tasks(alloc):
            names = DriverNames(alloc['ID'], task, task_config(alloc, task), scheme)
            handles.append(dict(task_id=None, app_pool_names=list(names.pools.values()), alloc_id=alloc['ID'],
                                namespace=alloc.get('Namespace'), job_id=alloc.get('JobID'), job_name=alloc.get('JobID'),
                                task_name=task, task_group_name=alloc.get('TaskGroup'), is_recovered=None))
    pool_view = [dict(name=n, is_dangling=dangling_reason(n, live) is not None) for n in pools]
    site_view = [dict(name=n, is_dangling=dangling_reason(n, live) is not None) for n in sites]
    return dict(iis_handle_count=len(handles), iis_handles=handles,
                dangling_iis_app_pools=sum(p['is_dangling'] for p in pool_view),
                dangling_iis_websites=sum(s['is_dangling'] for s in site_view),
                iis_app_pools=pool_view, iis_websites=site_view)


def has_iis_driver(stub):
    return bool(((stub.get('Drivers') or {}).get(IIS_DRIVER) or {}).get('Detected'))
