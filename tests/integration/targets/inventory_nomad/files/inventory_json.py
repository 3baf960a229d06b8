# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read `ansible-inventory --list` output and write it as plain JSON for the checks: the group
members (children resolved) and the host variables, with the `{"__ansible_unsafe": ...}` wrapping
that ansible-core 2.19 prints around strings from inventory plugins taken off.

    inventory_json.py LIST_OUTPUT DEST
"""

from __future__ import annotations

import json
import sys


def unwrap(value):
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((unwrap(key), unwrap(item)) for key, item in value.items())
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def members(listing, group, seen=None):
    seen = seen or set()
    entry = listing.get(group) or {}
    hosts = set(entry.get('hosts') or [])
    for child in entry.get('children') or []:
        if child not in seen:
            seen.add(child)
            hosts |= members(listing, child, seen)
    return hosts


def main(source, dest):
    with open(source, encoding='utf-8') as handle:
        listing = unwrap(json.load(handle))
    hostvars = listing.pop('_meta', {}).get('hostvars', {})
    groups = dict((group, sorted(members(listing, group))) for group in listing)
    with open(dest, 'w', encoding='utf-8') as handle:
        json.dump({'groups': groups, 'hostvars': hostvars, 'hosts': sorted(hostvars)}, handle, indent=1, sort_keys=True)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
