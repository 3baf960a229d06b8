#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_client_meta
short_description: Set and unset dynamic metadata of a Nomad client node
version_added: 0.1.0
description:
  - Sets and unsets the dynamic metadata of a Nomad client node through C(/v1/client/metadata),
    as C(nomad node meta apply) does. Dynamic metadata outlives restarts of the client and is
    merged into the node's metadata (C(Meta)) over the static metadata from the agent's configuration.
  - Reads the node's metadata first and sends only the keys whose value would change, so a run
    with nothing to change makes no write.
  - Keys are checked with Nomad's rule before anything is sent.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the node's metadata (C(Meta)) before and after.
  idempotent:
    support: full
options:
  meta:
    description:
      - The metadata keys to set or unset, and their values.
      - With O(state=present), a key with a string value is set to it, and a key with the value
        V(null) (C(~) in YAML) is unset.
      - With O(state=absent), every listed key is unset and the values are ignored.
      - Keys are dotted identifiers, as Nomad requires. Each part between dots starts with a
        letter or C(_) and goes on with letters, digits, C(_) or C(-). For example V(rack),
        V(my-key), V(team.owner). Other keys, such as V(1st) or V(a..b), are refused before any
        request.
      - Nomad stores strings only. Booleans are sent as V(true) or V(false), and numbers as
        Python writes them. Quote values that YAML would read as numbers, such as V('1.10'),
        to keep them as written. Lists and dictionaries are refused.
      - Keys that are not listed are left alone; an empty dictionary changes nothing.
    type: dict
    required: true
  state:
    description:
      - V(present) sets the keys to their values (a V(null) value unsets its key).
      - V(absent) unsets the keys.
      - Unsetting a key that the node does not have is not a change. Unsetting a key of the
        static metadata hides it from C(Meta) (Nomad keeps a V(null) entry in the dynamic
        metadata for it) until it is set again.
    type: str
    choices: [present, absent]
    default: present
  node_id:
    description:
      - The node whose metadata to change, given as a node name, a full node ID or a unique prefix of one
        (see Notes).
      - If not set, the node of the Nomad agent at O(nomad_addr), which must then be a client agent.
    type: str
notes:
  - Reading needs the ACL capability C(node:read) and changing needs C(node:write).
  - A key is unchanged when the node's metadata (C(Meta)) already shows the wanted value, whether
    that value comes from the static or the dynamic metadata. Setting a static key to its static
    value is therefore no change, unless the key was unset before.
  - Nomad passes changed metadata on to the servers within about ten seconds, so C(/v1/node/:node_id)
    and scheduling may lag behind the result of this module.
seealso:
  - name: Nomad client metadata API
    description: The C(/v1/client/metadata) endpoint.
    link: https://developer.hashicorp.com/nomad/api-docs/client#update-dynamic-node-metadata
  - name: nomad node meta apply
    description: The Nomad CLI command that does the same.
    link: https://developer.hashicorp.com/nomad/docs/commands/node/meta/apply
"""

EXAMPLES = r"""
- name: Mark the node of the local Nomad agent as the canary of its rack
  nomad_iis.management.nomad_client_meta:
    meta:
      iis.canary: "true"
      iis.release: "2026-04"
  delegate_to: localhost

- name: Set metadata on another node, given by name
  nomad_iis.management.nomad_client_meta:
    node_id: win-node-2
    meta:
      iis.maintenance_window: sunday-0200
  delegate_to: localhost

- name: Unset one key and set another in the same request
  nomad_iis.management.nomad_client_meta:
    node_id: win-node-2
    meta:
      iis.maintenance_window: ~
      iis.patched: "true"
  delegate_to: localhost

- name: Unset the keys the examples above set (values are ignored)
  nomad_iis.management.nomad_client_meta:
    node_id: "{{ item }}"
    meta:
      iis.canary:
      iis.release:
      iis.patched:
    state: absent
  loop:
    - win-node-1
    - win-node-2
  delegate_to: localhost

- name: Read a node's metadata without changing it
  nomad_iis.management.nomad_client_meta:
    node_id: win-node-1
    meta: {}
  register: node_meta
  delegate_to: localhost

- name: Show where the rack comes from
  ansible.builtin.debug:
    msg: "rack {{ node_meta.meta.rack | default('unset') }} (static: {{ node_meta.static.rack | default('none') }})"
"""

RETURN = r"""
meta:
  description:
    - The node's metadata after the change (in check mode, as it would be), as Nomad registers
      it. The static metadata merged with the dynamic metadata, without the unset keys.
  returned: success
  type: dict
  sample: {"rack": "r1", "iis.canary": "true", "connect.log_level": "info"}
dynamic:
  description:
    - The node's dynamic metadata after the change (in check mode, as it would be).
    - A V(null) value marks a static key that was unset.
  returned: success
  type: dict
  sample: {"iis.canary": "true", "rack": null}
static:
  description: The node's static metadata, from the agent's configuration. This module never changes it.
  returned: success
  type: dict
  sample: {"rack": "r1", "connect.log_level": "info"}
changes:
  description:
    - The keys that were sent (in check mode, would be sent), with their new values. V(null) means unset.
    - Empty when nothing had to change.
  returned: success
  type: dict
  sample: {"iis.canary": "true", "iis.maintenance_window": null}
node_id:
  description: The full ID of the node, or V(null) when O(node_id) was not set (the node of the agent at O(nomad_addr)).
  returned: success
  type: str
  sample: 4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d
node_name:
  description: The name of the node, or V(null) when O(node_id) was not set.
  returned: success
  type: str
  sample: win-node-1
"""

import unicodedata

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import node_target

METADATA_PATH = '/v1/client/metadata'

# hclsyntax.ValidIdentifier, which Nomad applies to each dot-separated part of a key:
# (ID_Start | '_') (ID_Continue | '-')*, with ID_Start/ID_Continue taken by Unicode category.
_ID_START = frozenset(('Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Nl'))
_ID_CONTINUE = _ID_START | frozenset(('Mn', 'Mc', 'Nd', 'Pc'))


def key_problem(key):
    """Why Nomad would refuse the metadata key ``key``, or None when it is valid."""
    if not key:
        return 'it is empty'
    for part in key.split('.'):
        if not part:
            return 'empty part: a leading, trailing or doubled "."'
        first = part[0]
        if first != '_' and unicodedata.category(first) not in _ID_START:
            return 'part %r starts with %r' % (part, first)
        for char in part[1:]:
            if char not in '_-' and unicodedata.category(char) not in _ID_CONTINUE:
                return 'part %r contains %r' % (part, char)
    return None


def check_keys(keys):
    """Raise ``OptionError`` naming every key Nomad would refuse."""
    problems = ['%r (%s)' % (key, key_problem(key)) for key in keys if key_problem(key)]
    if problems:
        raise OptionError(
            'invalid metadata key%s: %s. Each dot-separated part of a key must start with a letter '
            'or "_" and contain only letters, digits, "_" and "-"'
            % ('s' if len(problems) > 1 else '', '; '.join(problems)))


def meta_value(key, value):
    """The string Nomad should store for ``value`` (None unsets): strings as they are, booleans as
    ``true``/``false``, numbers as Python writes them; anything else is refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    raise OptionError('the value of metadata key %r must be a string (or null to unset it), not a %s'
                      % (key, type(value).__name__))


def wanted_meta(meta, state):
    """``{key: string or None}`` from the ``meta`` and ``state`` options (None: unset the key)."""
    check_keys(list(meta))
    if state == 'absent':
        return dict.fromkeys(meta)
    return dict((key, meta_value(key, value)) for key, value in meta.items())


def changed_keys(current_meta, wanted):
    """The part of ``wanted`` that differs from the node's ``Meta``: a value to set that Meta does
    not show, or a key to unset that Meta has."""
    changes = {}
    for key, value in wanted.items():
        if value is None:
            if key in current_meta:
                changes[key] = None
        elif current_meta.get(key) != value:
            changes[key] = value
    return changes


def apply_changes(current, changes):
    """What Nomad's client makes of ``changes`` (a ``/v1/client/metadata`` answer as input and
    output): the keys are merged into Dynamic; an unset key leaves Meta, and stays in Dynamic as
    null only when it is static, so that the removal outlives a restart."""
    meta = dict(current.get('Meta') or {})
    dynamic = dict(current.get('Dynamic') or {})
    static = dict(current.get('Static') or {})
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
            if key in static:
                dynamic[key] = None
            else:
                dynamic.pop(key, None)
        else:
            meta[key] = value
            dynamic[key] = value
    return {'Meta': meta, 'Dynamic': dynamic, 'Static': static}


def apply_meta(module):
    wanted = wanted_meta(module.params['meta'], module.params['state'])
    nomad = module.nomad
    node = node_target(nomad, module.params['node_id'])

    current = nomad.get_json(METADATA_PATH, action='reading the metadata of %s' % node, params=node.params) or {}
    changes = changed_keys(current.get('Meta') or {}, wanted)
    if not changes:
        after = current
    elif module.check_mode:
        after = apply_changes(current, changes)
    else:
        after = nomad.request_json(
            'POST', METADATA_PATH, action='changing the metadata keys %s of %s' % (', '.join(sorted(changes)), node),
            params=node.params, body={'Meta': changes}, idempotent=True) or {}

    result = dict(
        changed=bool(changes),
        changes=changes,
        meta=after.get('Meta') or {},
        dynamic=after.get('Dynamic') or {},
        static=after.get('Static') or {},
        **node.result()
    )
    if module._diff:
        header = 'metadata of %s' % node
        result['diff'] = dict(before=current.get('Meta') or {}, after=result['meta'],
                              before_header=header, after_header=header)
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            meta=dict(type='dict', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            node_id=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    module.run(apply_meta)


if __name__ == '__main__':
    main()
