# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Mark data from outside (Nomad's API) as unsafe, so that Ansible never renders it as a template.

Python versions supported: 3.11 and newer.

Node metadata is writable by anyone with ``node:write`` (``POST /v1/client/metadata``), so a value
such as ``{{ lookup('pipe', 'id') }}`` must stay a string. ansible-core 2.19 and newer never render
inventory data that a plugin did not mark as trusted; up to 2.18 every string is a template unless
it is wrapped with ``wrap_var``. ``wrap_var`` works on every supported ansible-core (from 2.19 it
only removes trust).

Only strings that contain ``{`` or ``}`` are wrapped: a template cannot be written without them,
and wrapping every string makes ``ansible-inventory --list`` on ansible-core 2.18 and older print
each one as ``{"__ansible_unsafe": ...}``, which AWX then shows in its host variables
(community.docker does the same, ``plugins/plugin_utils/_unsafe.py``, for the same reason).
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

from collections.abc import Mapping, Set

from ansible.utils.unsafe_proxy import wrap_var


def make_unsafe(value):
    """``value`` with every string that could be a template (keys of mappings included) wrapped
    unsafe; mappings become dicts, sets sets and other sequences lists."""
    if isinstance(value, str):
        return wrap_var(value) if '{' in value or '}' in value else value
    if isinstance(value, Mapping):
        return dict((make_unsafe(key), make_unsafe(item)) for key, item in value.items())
    if isinstance(value, Set):
        return set(make_unsafe(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [make_unsafe(item) for item in value]
    return value
