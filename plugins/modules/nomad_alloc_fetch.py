#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_alloc_fetch
short_description: Download a file or a directory from a Nomad allocation
version_added: 0.1.0
description:
  - Downloads a file, or every file of a directory tree, from an allocation's directory to the host
    the module runs on, through Nomad's client file-system API.
  - Each file is streamed into a partial file next to its destination and renamed into place when
    complete, so the destination is never half-written.
  - An interrupted download is resumed from the bytes already fetched, within the same run (up to
    O(retries) times) and by the next run. The partial file C(.<name>.part) and a small C(.<name>.part.json)
    beside it record what the bytes belong to (the allocation, the path, and the remote file's size and
    modification time). If the remote file changed since, the partial file is discarded and the
    download starts again from the first byte. A download that fails before its first byte leaves
    neither behind.
  - Runs that fetch into the same destination file at the same time take turns, through a lock file
    C(.<name>.part.lock) beside it, so that they never write into the same partial file. A run waits
    for another as long as that one makes progress, and fails with a message naming it after
    O(timeout) seconds without any.
  - The destination's modification time is set to the remote file's, as C(rsync --times) does, and is
    what tells a later run that the file is already there (see O(checksum)).
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
    details:
      - Without O(checksum), a file whose size or modification time differs is predicted as changed,
        even if a real run would then find the same content.
  diff_mode:
    support: full
    details:
      - Lists the files that are added or changed, with their size and modification time.
  idempotent:
    support: full
options:
  alloc_id:
    description:
      - The allocation's full ID, or a unique prefix of it (at least 2 characters), looked up in
        O(nomad_namespace) (V(*) for every namespace).
    type: str
    required: true
  path:
    description:
      - The file or directory to download, relative to the allocation directory, such as
        V(app/local/web.config), V(alloc/logs) or V(app/local).
      - C(..) segments may not lead out of the allocation directory.
      - In a directory tree, symbolic links and the C(secrets) and C(private) directories of the tasks
        (which Nomad does not let anyone read) are skipped and listed in RV(skipped_paths).
    type: str
    required: true
  dest:
    description:
      - Where to write, on the host the module runs on.
      - For a file, the destination file; if O(dest) ends with C(/) or is an existing directory, the
        file is written into it under its own name.
      - For a directory, the local directory that receives the directory's contents (its files, and
        subdirectories as needed to hold them). Local files that are not in the allocation are left
        alone.
      - Missing parent directories are created.
    type: path
    required: true
  checksum:
    description:
      - How to decide that a destination file already matches the remote one.
      - V(false) (quick check) compares the size and the modification time, which this module sets to the
        remote file's when it writes the file. Nomad has no checksum API, so this costs no download;
        the trade-off is that a remote change that keeps both the size and the modification time (or a
        local edit that restores both) goes unnoticed.
      - V(true) downloads every file again and compares SHA-256 checksums, which is exact but
        transfers everything on every run.
      - Either way, a file whose size or modification time differs is downloaded, and only counts as
        changed (and is only replaced) when its content differs.
    type: bool
    default: false
notes:
  - The token needs the C(read-fs) capability in the allocation's namespace (and C(read-job) to
    resolve O(alloc_id)).
  - The checksum and size returned for each file are those of the downloaded content (for a file
    found unchanged by the quick check, of the local file).
seealso:
  - module: nomad_iis.management.nomad_alloc_fs_info
  - module: ansible.builtin.fetch
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find an allocation of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
    status: running
  register: web

- name: Download the application's start page
  nomad_iis.management.nomad_alloc_fetch:
    alloc_id: "{{ web.allocations[0].id }}"
    path: app/local/iisstart.htm
    dest: /tmp/nomad_iis_examples/iisstart.htm
  register: page

- name: Show its checksum
  ansible.builtin.debug:
    msg: "{{ page.files[0].sha256 }}"

- name: Download the allocation's logs into a directory, one per allocation
  nomad_iis.management.nomad_alloc_fetch:
    alloc_id: "{{ item.id }}"
    path: alloc/logs
    dest: "/tmp/nomad_iis_examples/logs/{{ item.id }}/"
  loop: "{{ web.allocations }}"
  loop_control:
    label: "{{ item.id }}"

- name: Download the task directory, comparing checksums instead of size and modification time
  nomad_iis.management.nomad_alloc_fetch:
    alloc_id: "{{ web.allocations[0].id }}"
    path: app/local
    dest: /tmp/nomad_iis_examples/app_local
    checksum: true
"""

RETURN = r"""
alloc_id:
  description: The full ID of the allocation.
  returned: always
  type: str
  sample: 8f3a21bc-5d2e-4c8b-9a01-0123456789ab
path:
  description: The remote path, normalized (relative to the allocation directory).
  returned: always
  type: str
  sample: app/local/web.config
dest:
  description: The destination file (for a file) or directory (for a directory).
  returned: always
  type: str
  sample: /srv/backup/web.config
files:
  description:
    - One entry per remote file, in the order they were handled. When a download fails, the files
      handled before it.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The remote path, relative to the allocation directory.
      type: str
      sample: app/local/web.config
    dest:
      description: The local file.
      type: str
      sample: /srv/backup/web.config
    size:
      description: The size in bytes.
      type: int
      sample: 1210
    sha256:
      description:
        - The SHA-256 checksum of the content. V(null) in check mode for a file that would be
          downloaded, unless O(checksum) is set.
      type: str
      sample: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
    status:
      description: V(added), V(changed) or V(unchanged).
      type: str
      sample: added
    bytes_transferred:
      description: How many bytes were read from Nomad for this file in this run.
      type: int
      sample: 1210
    resumed_from:
      description: The offset a download was resumed from (V(0) when it started at the first byte,
        V(null) when nothing was downloaded).
      type: int
      sample: 0
skipped_paths:
  description: Remote paths not downloaded - symbolic links, and the tasks' C(secrets) and C(private) directories.
  returned: always
  type: list
  elements: str
  sample: [app/secrets, app/private]
"""

import datetime
import os

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import (
    AllocFs,
    is_symlink,
    normalize_path,
    parse_rfc3339_ns,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import resolve_allocation


def quick_check_matches(local_stat, info):
    """The quick check: the local file has the remote file's size and modification time."""
    remote_ns = parse_rfc3339_ns(info.get('ModTime'))
    return (local_stat is not None and remote_ns is not None and local_stat.st_size == (info.get('Size') or 0)
            and local_stat.st_mtime_ns == remote_ns)


def iso_time(nanoseconds):
    when = datetime.datetime.fromtimestamp(nanoseconds // 10 ** 9, tz=datetime.timezone.utc)
    return when.strftime('%Y-%m-%dT%H:%M:%S') + ('.%09d' % (nanoseconds % 10 ** 9)).rstrip('0').rstrip('.') + 'Z'


class Fetcher:
    """Brings remote files to local ones, recording an entry per file in ``files``."""

    def __init__(self, module, fs, files):
        self.module = module
        self.fs = fs
        self.check_mode = module.check_mode
        self.checksum = module.params['checksum']
        self.retries = module.params['retries']
        self.files = files
        self.diff_before = {}
        self.diff_after = {}

    def fetch(self, path, info, local):
        """Bring one remote file to the ``LocalFile`` ``local``; record and return its entry."""
        before = local.stat()
        entry = dict(path=path, dest=local.path, size=info.get('Size') or 0, sha256=None,
                     status='changed' if before else 'added', bytes_transferred=0, resumed_from=None)
        if before is not None and not self.checksum and quick_check_matches(before, info):
            entry.update(status='unchanged', sha256=local.state().sha256)
        elif self.check_mode:
            if self.checksum:
                entry['sha256'] = self.fs.sha256(path, entry['size'],
                                                 action='reading %r in allocation %s' % (path, self.fs.alloc_id))
                entry['bytes_transferred'] = entry['size']
                if before is not None and local.holds(entry['size'], entry['sha256']):
                    entry['status'] = 'unchanged'
        else:
            fetched = self.fs.fetch(path, info, local, self.retries, patience=self.module.params['timeout'])
            entry.update(sha256=fetched.sha256, resumed_from=fetched.resumed_from,
                         bytes_transferred=fetched.bytes_transferred)
            if not fetched.changed:
                entry['status'] = 'unchanged'
        if entry['status'] != 'unchanged':
            if before is not None:
                self.diff_before[local.path] = dict(size=before.st_size, mod_time=iso_time(before.st_mtime_ns))
            self.diff_after[local.path] = dict(size=entry['size'], mod_time=info.get('ModTime'))
        self.files.append(entry)
        return entry

    def diff(self, header):
        return dict(before=self.diff_before, after=self.diff_after, before_header=self.module.params['dest'],
                    after_header=header)


def tree_file(dest, root, path):
    """The ``LocalFile`` for ``path`` found under remote directory ``root``, inside the ``LocalDest`` ``dest``."""
    relative = path[len(root):].lstrip('/') if root else path
    target = os.path.normpath(os.path.join(dest.path, *relative.split('/')))
    if os.path.commonpath([os.path.abspath(dest.path), os.path.abspath(target)]) != os.path.abspath(dest.path):
        raise OptionError('remote file %r would be written outside dest %r' % (path, dest.path))
    return dest.file(os.path.relpath(target, dest.path))


def run(module, files):
    params = module.params
    path = normalize_path(params['path'])
    alloc = resolve_allocation(module.nomad, params['alloc_id'])
    fs = AllocFs(module.nomad, alloc)
    fetcher = Fetcher(module, fs, files)
    info = fs.stat(path)
    skipped_paths = []
    if not info.get('IsDir'):
        fetcher.fetch(path, info, module.local_dest(params['dest']).file(path.rsplit('/', 1)[-1]))
    else:
        if os.path.exists(params['dest']) and not os.path.isdir(params['dest']):
            raise OptionError('%r in allocation %s is a directory, but dest %r is a file'
                              % (path or '/', fs.alloc_id, params['dest']))
        dest = module.local_dest(params['dest'], is_dir=True)
        for relative, entry in fs.walk(path, skip=fs.is_protected):
            if is_symlink(entry) or (entry.get('IsDir') and fs.is_protected(relative)):
                skipped_paths.append(relative)
            elif not entry.get('IsDir'):
                fetcher.fetch(relative, entry, tree_file(dest, path, relative))
    result = dict(changed=any(f['status'] != 'unchanged' for f in files), alloc_id=fs.alloc_id, path=path,
                  dest=params['dest'], files=files, skipped_paths=skipped_paths)
    if module._diff:
        result['diff'] = fetcher.diff('allocation %s: %s' % (fs.alloc_id, path or '/'))
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            alloc_id=dict(type='str', required=True),
            path=dict(type='str', required=True),
            dest=dict(type='path', required=True),
            checksum=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    files = []
    # A failure keeps the entries of the files handled before it.
    module.run(lambda module: run(module, files), partial=lambda: dict(files=files))


if __name__ == '__main__':
    main()
