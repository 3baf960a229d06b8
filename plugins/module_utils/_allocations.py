# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Resolve an ``alloc_id`` option (a full allocation ID or a unique prefix) to one allocation.

Python versions supported: 3.11 and newer.

Nomad's client endpoints take full IDs only (a short one gets a 500, "UUID must be 36
characters"), so prefixes are resolved first through ``GET /v1/allocations?prefix=``. That
endpoint needs an even number of hex digits (it decodes the prefix as hex bytes, hyphens ignored):
an odd prefix is sent without its last digit and the answer filtered here, as the Nomad CLI does;
a 1-digit prefix is refused, as the CLI refuses it. Non-hex input is refused before any request.
The prefix is sent in the canonical 8-4-4-4-12 layout, which both Nomad's hex-prefix index and a
plain string-prefix match accept.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import AllocationLookupError, OptionError

ALL_NAMESPACES = '*'
UUID_HEX_DIGITS = 32
# Where the hyphens go in a canonical UUID, counted in hex digits before them.
_HYPHENS_AFTER = (8, 12, 16, 20)
# Candidates listed in an "ambiguous" message; the rest are counted.
MAX_CANDIDATES_SHOWN = 10

_ALLOC_ID_CHARS = re.compile(r'^[0-9a-f-]+$')


class AllocIdPrefix:
    """A validated ``alloc_id``: ``hex`` is what IDs must start with (hyphens removed), ``query`` is
    the even-length canonical prefix to send to ``/v1/allocations?prefix=``."""

    def __init__(self, alloc_id):
        self.text = alloc_id
        value = (alloc_id or '').strip().lower()
        if not value:
            raise OptionError('alloc_id must not be empty')
        if not _ALLOC_ID_CHARS.match(value):
            raise OptionError('alloc_id %r is not an allocation ID or a prefix of one: only hexadecimal digits '
                              'and "-" are allowed' % alloc_id)
        self.hex = value.replace('-', '')
        if len(self.hex) > UUID_HEX_DIGITS:
            raise OptionError('alloc_id %r is longer than an allocation ID (%d hexadecimal digits)'
                              % (alloc_id, UUID_HEX_DIGITS))
        if len(self.hex) < 2:
            raise OptionError('alloc_id %r is too short: give at least 2 characters of the allocation ID' % alloc_id)
        self.query = canonical_prefix(self.hex[:len(self.hex) // 2 * 2])

    @property
    def is_full_id(self):
        return len(self.hex) == UUID_HEX_DIGITS

    def matches(self, alloc_id):
        return alloc_id.replace('-', '').lower().startswith(self.hex)


def canonical_prefix(hex_digits):
    """Insert hyphens where a canonical UUID has them: ``8f3a21bc12`` -> ``8f3a21bc-12``."""
    parts = []
    start = 0
    for end in _HYPHENS_AFTER + (UUID_HEX_DIGITS,):
        if start >= len(hex_digits):
            break
        parts.append(hex_digits[start:end])
        start = end
    return '-'.join(parts)


def describe_allocation(stub):
    """One line about an allocation for messages: ID, job, group, node and status."""
    return '%s (job %r, group %r, node %r, %s)' % (
        stub.get('ID'), stub.get('JobID'), stub.get('TaskGroup'),
        stub.get('NodeName') or stub.get('NodeID'), stub.get('ClientStatus'))


def find_allocations(client, alloc_id, namespace=None):
    """All allocation stubs whose ID starts with ``alloc_id``, in ``namespace`` (default: the
    client's; ``*`` for every namespace the token may read)."""
    prefix = AllocIdPrefix(alloc_id)
    namespace = namespace or client.namespace
    stubs = client.get_json('/v1/allocations', "looking up allocation %r in namespace %r" % (alloc_id, namespace),
                            params=dict(prefix=prefix.query, namespace=namespace))
    return [stub for stub in stubs or [] if prefix.matches(stub.get('ID', ''))]


def resolve_allocation(client, alloc_id, namespace=None):
    """The one allocation stub (``AllocListStub``) that ``alloc_id`` names.

    Raises ``OptionError`` for an ``alloc_id`` that cannot be an ID or prefix, and
    ``AllocationLookupError`` when nothing matches or the prefix is ambiguous.
    """
    namespace = namespace or client.namespace
    matches = find_allocations(client, alloc_id, namespace)
    where = 'in every namespace' if namespace == ALL_NAMESPACES else 'in namespace %r' % namespace
    if not matches:
        message = 'no allocation ID starts with %r %s' % (alloc_id, where)
        if namespace != ALL_NAMESPACES:
            message += " (set nomad_namespace to '*' to search every namespace)"
        raise AllocationLookupError(message)
    if len(matches) > 1:
        shown = [describe_allocation(stub) for stub in matches[:MAX_CANDIDATES_SHOWN]]
        if len(matches) > MAX_CANDIDATES_SHOWN:
            shown.append('and %d more' % (len(matches) - MAX_CANDIDATES_SHOWN))
        raise AllocationLookupError(
            'alloc_id %r is ambiguous %s: it matches %d allocations: %s. Give more characters of the ID'
            % (alloc_id, where, len(matches), '; '.join(shown)),
            candidates=matches)
    return matches[0]
