#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_alloc_fs_info
short_description: List, stat and read files in a Nomad allocation's directory
version_added: 0.1.0
description:
  - Looks at a path in an allocation's directory through Nomad's client file-system API, as
    C(nomad alloc fs) does.
  - Always returns the path's status (RV(stat)). For a directory it also lists its entries
    (RV(files)), recursively with O(recurse). For a file it can read a bounded range of bytes
    (O(read_bytes) from O(offset)).
  - A path that does not exist is not an error; RV(exists) is V(false).
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.info_module
  - nomad_iis.management.attributes.actiongroup_nomad
options:
  alloc_id:
    description:
      - The allocation's full ID, or a unique prefix of it (at least 2 characters), looked up in
        O(nomad_namespace) (V(*) for every namespace).
    type: str
    required: true
  path:
    description:
      - The path, relative to the allocation directory, such as V(alloc/logs) or
        V(app/local/web.config). V(/) is the allocation directory.
      - The allocation directory holds C(alloc/), which the tasks share (with C(data), C(logs) and C(tmp)),
        and one directory per task (with C(local), C(secrets), C(tmp) and C(private)).
      - C(..) segments may not lead out of the allocation directory.
    type: str
    default: /
  recurse:
    description:
      - For a directory, also list the entries of its subdirectories (symbolic links to
        directories are listed but not followed).
    type: bool
    default: false
  depth:
    description:
      - With O(recurse), how many levels to list; V(1) lists only the directory's own entries.
      - Without it, O(recurse) lists the whole tree.
    type: int
  read_bytes:
    description:
      - For a file, read at most this many bytes from O(offset) and return them in RV(content).
      - Content that is valid UTF-8 is returned as text; anything else as base64, with
        RV(content_base64) set. A multi-byte character cut off by the limit is left for the next
        read, so O(offset) + RV(bytes_read) is where the next read starts (RV(next_offset)).
    type: int
  offset:
    description:
      - With O(read_bytes), the byte offset in the file to start reading at.
    type: int
    default: 0
notes:
  - The token needs the C(read-fs) capability in the allocation's namespace (and C(read-job) to
    resolve O(alloc_id)).
  - Nomad does not let anyone read files under a task's C(secrets/) or C(private/) directory.
seealso:
  - module: nomad_iis.management.nomad_alloc_fetch
  - module: nomad_iis.management.nomad_alloc_info
  - name: Nomad client file-system API
    description: The endpoints this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/client#list-files
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find an allocation of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
    status: running
  register: web

- name: List the allocation's shared log directory
  nomad_iis.management.nomad_alloc_fs_info:
    alloc_id: "{{ web.allocations[0].id }}"
    path: alloc/logs
  register: logs

- name: Show the log files and their sizes
  ansible.builtin.debug:
    msg: "{{ logs.files | items2dict(key_name='name', value_name='size') }}"

- name: List the task directory two levels deep
  nomad_iis.management.nomad_alloc_fs_info:
    alloc_id: "{{ web.allocations[0].id }}"
    path: app
    recurse: true
    depth: 2

- name: Read the first 4 KiB of a file
  nomad_iis.management.nomad_alloc_fs_info:
    alloc_id: "{{ web.allocations[0].id }}"
    path: app/local/iisstart.htm
    read_bytes: 4096
  register: page

- name: Does the task have a web.config?
  nomad_iis.management.nomad_alloc_fs_info:
    alloc_id: "{{ web.allocations[0].id }}"
    path: app/local/web.config
  register: web_config

- name: Say so
  ansible.builtin.debug:
    msg: "web.config {{ 'exists' if web_config.exists else 'is missing' }}"
"""

RETURN = r"""
alloc_id:
  description: The full ID of the allocation.
  returned: success
  type: str
  sample: 8f3a21bc-5d2e-4c8b-9a01-0123456789ab
path:
  description: The path, normalized (relative to the allocation directory, V('') for the directory itself).
  returned: success
  type: str
  sample: app/local/web.config
exists:
  description: Whether the path exists.
  returned: success
  type: bool
  sample: true
stat:
  description: The path's status; absent when RV(exists) is V(false).
  returned: when the path exists
  type: dict
  contains:
    path:
      description: The path, as in RV(path).
      type: str
    name:
      description: The file name (for the allocation directory itself, the allocation ID).
      type: str
    is_dir:
      description: Whether it is a directory.
      type: bool
    size:
      description: Size in bytes.
      type: int
    mode:
      description: The mode as Go prints it, such as C(-rw-r--r--), C(drwxrwxrwx), C(Lrwxrwxrwx).
      type: str
    mod_time:
      description: The modification time, RFC 3339 with up to nanoseconds.
      type: str
    content_type:
      description: The type Nomad sniffs from the first 512 bytes.
      type: str
  sample:
    path: app/local/web.config
    name: web.config
    is_dir: false
    size: 1210
    mode: -rw-r--r--
    mod_time: '2026-11-25T08:40:27.123456789Z'
    content_type: text/xml; charset=utf-8
files:
  description:
    - The entries of the directory, and with O(recurse) of its subdirectories (each directory is
      followed by its contents), each with the keys of RV(stat) except C(content_type).
  returned: when the path is a directory
  type: list
  elements: dict
  sample:
    - {path: alloc/logs/app.stdout.0, name: app.stdout.0, is_dir: false, size: 1840, mode: -rw-r--r--,
       mod_time: '2026-11-25T08:41:02.5Z'}
content:
  description: The bytes read, as text, or base64 when RV(content_base64) is V(true).
  returned: when O(read_bytes) is set and the path is a file
  type: str
  sample: "<configuration>\n"
content_base64:
  description: Whether RV(content) is base64 (the bytes were not valid UTF-8).
  returned: when O(read_bytes) is set and the path is a file
  type: bool
  sample: false
bytes_read:
  description: How many bytes of the file RV(content) holds.
  returned: when O(read_bytes) is set and the path is a file
  type: int
  sample: 16
next_offset:
  description: Where the next read should start, O(offset) + RV(bytes_read).
  returned: when O(read_bytes) is set and the path is a file
  type: int
  sample: 16
eof:
  description: Whether the read reached the end of the file (as large as RV(stat.size) says).
  returned: when O(read_bytes) is set and the path is a file
  type: bool
  sample: false
"""

import base64
import codecs

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import (
    AllocFs,
    describe_info,
    missing_path,
    normalize_path,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import MAX_INT64, check_at_most
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import resolve_allocation


def decode_content(data, at_end):
    """``(content, bytes_covered, is_base64)`` of bytes read from a file.

    UTF-8 text comes back as text. When the read stopped before the end of the file (``at_end``
    false), an incomplete character at the very end is left out, so the next read starts with it;
    anything else that is not UTF-8 comes back as base64, all of it.
    """
    decoder = codecs.getincrementaldecoder('utf-8')()
    try:
        text = decoder.decode(data, final=at_end)
    except UnicodeDecodeError:
        text = None
    if text is not None:
        pending = len(decoder.getstate()[0])
        if not pending or text:
            return text, len(data) - pending, False
    return base64.b64encode(data).decode('ascii'), len(data), True


def validate(params):
    if params['depth'] is not None:
        if not params['recurse']:
            raise OptionError('depth is only used with recurse=true')
        if params['depth'] < 1:
            raise OptionError('depth must be 1 or more, not %d' % params['depth'])
    if params['read_bytes'] is not None and params['read_bytes'] < 1:
        raise OptionError('read_bytes must be 1 or more, not %d' % params['read_bytes'])
    if params['offset'] < 0:
        raise OptionError('offset must be 0 or more, not %d' % params['offset'])
    for name in ('read_bytes', 'offset'):  # Nomad takes them as int64
        check_at_most(params, name, MAX_INT64)
    return normalize_path(params['path'])


def read_range(fs, path, size, offset, read_bytes):
    data = b''.join(fs.read(path, offset, read_bytes))
    content, covered, is_base64 = decode_content(data, at_end=offset + len(data) >= size)
    return dict(content=content, content_base64=is_base64, bytes_read=covered, next_offset=offset + covered,
                eof=offset + covered >= size)


def run(module):
    params = module.params
    path = validate(params)
    alloc = resolve_allocation(module.nomad, params['alloc_id'])
    fs = AllocFs(module.nomad, alloc)
    result = dict(changed=False, alloc_id=fs.alloc_id, path=path)
    try:
        info = fs.stat(path)
    except ApiError as exc:
        if not missing_path(exc):
            raise
        return dict(result, exists=False)
    result.update(exists=True, stat=describe_info(path, info))
    if info.get('IsDir'):
        if params['read_bytes'] is not None:
            raise OptionError('read_bytes needs a file, but %r in allocation %s is a directory' % (path or '/', fs.alloc_id))
        depth = (params['depth'] if params['recurse'] else 1)
        result['files'] = [describe_info(relative, entry) for relative, entry in fs.walk(path, depth)]
    elif params['read_bytes'] is not None:
        result.update(read_range(fs, path, info.get('Size') or 0, params['offset'], params['read_bytes']))
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            alloc_id=dict(type='str', required=True),
            path=dict(type='str', default='/'),
            recurse=dict(type='bool', default=False),
            depth=dict(type='int'),
            read_bytes=dict(type='int'),
            offset=dict(type='int', default=0),
        ),
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == '__main__':
    main()
