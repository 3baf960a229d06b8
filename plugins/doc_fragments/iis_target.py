# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Which allocations and task a nomad_iis_* module acts on; argument spec:
    # plugins/module_utils/_argspec.py IIS_TARGET_OPTIONS.
    DOCUMENTATION = r"""
options:
  alloc_id:
    description:
      - The allocation, as its full ID or a unique prefix of it (at least 2 characters), or a list of
        them to act on several allocations (for example one batch of a rolling deployment), as with
        O(job).
      - A prefix is looked up in O(nomad_namespace); an odd-length prefix works too, although Nomad's
        API itself only takes even-length ones.
      - Exactly one of O(alloc_id) and O(job) is required.
    type: list
    elements: str
  job:
    description:
      - Act on every running allocation of this job (in O(nomad_namespace)), narrowed by O(task_group)
        and O(node). The module returns one entry per allocation in RV(allocations).
    type: str
  task_group:
    description:
      - With O(job), only allocations of this task group.
    type: str
  node:
    description:
      - With O(job), only allocations on this node, given as a node name, a full node ID or a unique prefix of
        one (see Notes).
    type: str
  task:
    description:
      - The task (with C(driver = "iis")) in the allocation.
      - May be left out when the allocation has exactly one IIS task.
    type: str
  max_parallel:
    description:
      - How many of the matching allocations the module works on at a time, as Nomad's own
        C(update { max_parallel }) bounds a deployment; V(0) means all of them at once.
      - Each allocation is finished (for example its pools are back and waited for) before the
        next one starts in its place, so this is also how many allocations are out of service at
        a time when the module stops their pools.
      - Results keep the order of the allocations whatever finishes first. After a failure no
        other allocation is started; those under way finish.
    type: int
    default: 1
notes:
  - When several allocations match, the module acts on each (O(max_parallel) at a time) and returns
    one entry per allocation in RV(allocations). When one fails, the result still lists the allocations already
    handled and the one that failed (with C(failed=true)), so that what was done is never lost.
  - "The module runs on the controller (or any host with Python) and talks to Nomad's HTTP API and to
    the Nomad IIS driver's Management API over HTTP; use it with C(hosts: localhost) or
    C(delegate_to: localhost)."
"""
