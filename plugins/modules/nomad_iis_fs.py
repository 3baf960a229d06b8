#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_iis_fs
short_description: Push files into, empty, delete or fetch files of an IIS task's directory
version_added: 0.1.0
description:
  - Manages files in the task directory of an IIS task (C(driver = "iis")) running under Nomad, through
    the Nomad IIS driver's Management API. Typical use is pushing an application into the task's
    C(local) folder, the IIS application's physical path.
  - Idempotent. A re-run whose files are already in place sends no file bytes and reports no change;
    a change sends only the files that differ.
  - Works around the upstream driver's file API bugs (v0.20.1) instead of relying on them. Raw
    uploads do not truncate an existing file, unpacking a zip refuses to overwrite, bodies are limited
    to 30,000,000 bytes, and C(DELETE .../*) does not work. So files travel as zip parts under the
    limit, files that change are deleted before they are sent, and O(state=empty) cleans the folder
    with an empty zip.
  - How remote changes are detected. After each transfer the module keeps a manifest (size, sha256
    and the modification time Nomad reports) in the task's C(private/.nomad_iis_fs/) folder, which
    IIS does not serve. On the next run it lists the remote folder through Nomad's file system API.
    A file whose size and modification time still match the manifest counts as unchanged without
    being read. Files with the same size but no matching manifest entry are downloaded and hashed.
    Files of another size are replaced.
  - What it cannot see is an edit that keeps both the size and the modification time of a file. Files
    changed that way are not sent again; O(state=absent) on the folder followed by a push repairs that.
  - Several allocations (O(job)) cost little more than one. The local files are read and hashed once
    per run, and allocations that need the same files (the common case, a new version going to every
    allocation) share one set of zip parts, written once to a temporary directory on the controller
    and sent to each; O(max_parallel) allocations are written at a time.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.management_api
  - nomad_iis.management.winrm
  - nomad_iis.management.connection
  - nomad_iis.management.iis_target
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad_iis
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Lists the files added, changed and removed.
  idempotent:
    support: full
options:
  path:
    description:
      - Path relative to the task directory, for example V(local) or V(local/web.config).
      - Rooted, drive-letter, UNC and V(..) paths are refused (upstream answers them with a 500).
    type: str
    required: true
  state:
    description:
      - V(present) makes O(path) hold O(src). A local file becomes the remote file O(path). A local
        directory, or a local zip with O(unpack=true), becomes the contents of the remote folder O(path).
      - V(absent) deletes the file or folder O(path).
      - V(empty) keeps the folder O(path) and removes its contents (it is created when missing).
      - V(fetched) copies the remote file or folder O(path) to O(dest) on the controller.
    type: str
    choices: [present, absent, empty, fetched]
    default: present
  src:
    description:
      - Local file or directory to push, with O(state=present).
    type: path
  dest:
    description:
      - With O(state=fetched), where to put the file or folder on the controller.
      - A remote file is written to O(dest) (into it, under the remote name, when O(dest) is a directory).
      - A remote folder is written as a zip file O(dest), or into the directory O(dest) with O(unpack=true).
      - When several allocations match, O(dest) is a directory and each allocation's copy goes into a
        subdirectory named after the allocation ID.
      - Files are written atomically, through a temporary file in the same directory.
    type: path
  delete:
    description:
      - With O(state=present) and a folder, also delete remote files that are not in O(src).
      - With O(state=fetched) and O(unpack=true), also delete local files that are not in the remote folder.
      - Empty remote folders are left in place.
    type: bool
    default: false
  unpack:
    description:
      - With O(state=present) and a local V(.zip) in O(src), push the archive's contents as a folder
        instead of the archive as one file.
      - With O(state=fetched) and a remote folder, unpack it into the directory O(dest) instead of
        writing one zip file.
    type: bool
    default: false
  hot:
    description:
      - Send files with C(PATCH), keeping the application pools running (hot patching; fails when a
        worker process holds a file open).
      - Otherwise files are sent with C(PUT). The driver stops every application pool of the task for
        the upload and afterwards starts every stopped pool again, also pools that were stopped on
        purpose before (an upstream behaviour). Large pushes travel in several parts, so the pools are
        stopped and started for each part.
      - An allocation's pools are stopped only while that allocation is written, so with several
        allocations O(max_parallel) is also how many of them are out of service at a time.
    type: bool
    default: false
seealso:
  - module: nomad_iis.management.nomad_iis_pool
  - name: Nomad IIS Management API
    description: The driver's documentation of the API this module uses.
    link: https://nomad-iis.sevensolutions.cc/docs/features/management-api
"""

EXAMPLES = r"""
- name: Find the allocations of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
  register: web_allocs

- name: Push an application into the local folder of every allocation of job web
  nomad_iis.management.nomad_iis_fs:
    job: web
    path: local
    src: /tmp/nomad_iis_examples/site/
    delete: true

- name: Hot-patch one file of one allocation, keeping the pools running
  nomad_iis.management.nomad_iis_fs:
    alloc_id: "{{ web_allocs.allocations[0].id }}"
    task: app
    path: local/web.config
    src: /tmp/nomad_iis_examples/web.config
    hot: true

- name: Fetch the application folder of one allocation as a zip
  nomad_iis.management.nomad_iis_fs:
    alloc_id: "{{ web_allocs.allocations[0].id }}"
    path: local
    state: fetched
    dest: /tmp/nomad_iis_examples/local.zip

- name: Empty the folder, keeping it
  nomad_iis.management.nomad_iis_fs:
    alloc_id: "{{ web_allocs.allocations[0].id }}"
    path: local
    state: empty
"""

RETURN = r"""
allocations:
  description: One entry per allocation acted on.
  returned: always
  type: list
  elements: dict
  contains:
    alloc_id:
      description: Allocation ID.
      type: str
      sample: 8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f
    node_id:
      description: ID of the node that runs the allocation.
      type: str
    node_name:
      description: Name of that node.
      type: str
    task:
      description: The IIS task.
      type: str
      sample: app
    api_url:
      description: The Management API used.
      type: str
      sample: http://10.0.0.5:5004
    changed:
      description: Whether this allocation's files changed (or would change, in check mode).
      type: bool
    added:
      description: Files sent that were not there, relative to O(path) (or the remote file's name).
      type: list
      elements: str
      returned: state is present
    updated:
      description: Files that were there with other content and were replaced.
      type: list
      elements: str
      returned: state is present
    removed:
      description: Files deleted (O(delete=true)), or with O(state=empty) the files that were in the folder.
      type: list
      elements: str
      returned: state is present or empty
    bytes_sent:
      description: Bytes of zip parts sent to the Management API.
      type: int
      returned: state is present
    parts:
      description: Number of requests (zip parts) the files travelled in.
      type: int
      returned: state is present
    dest:
      description: Local file or directory written.
      type: str
      returned: state is fetched
    size:
      description: Size of the fetched file or zip.
      type: int
      returned: state is fetched and unpack is false
    sha256:
      description: SHA-256 of the fetched file or zip.
      type: str
      returned: state is fetched and unpack is false
"""

import os
import posixpath
import shutil
import tempfile
import zipfile

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import sha256_file
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import task_path
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadIisModule, TargetAction
from ansible_collections.nomad_iis.management.plugins.module_utils._task_dir import TaskDir
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    PartStore,
    local_tree,
    local_zip_tree,
    once,
    unpack_into,
    zip_listing,
)


def file_lines(paths):
    return ''.join('%s\n' % path for path in sorted(paths))


def folder_diff(label, folder, before, after):
    header = '%s: %s' % (label, folder)
    return dict(before_header=header, after_header=header, before=file_lines(before), after=file_lines(after))


class TaskFiles(TargetAction):
    """Makes the file or folder ``path`` of each target's task directory be in ``state``."""

    parts = None

    def check_options(self):
        self.path = task_path(self.params['path'])
        self.state = self.params['state']
        if self.state == 'present':
            self.folder, read_local, self.only = self.desired_files()
            # Read and hashed once per run, whatever the number of allocations.
            self.read_local = once(read_local)

    def prepare(self, targets):
        # With several allocations, each one's copy goes into a directory of its own, named after it.
        self.dest_per_alloc = len(targets) > 1
        self.parts = PartStore(shared=len(targets) > 1)

    def close(self):
        if self.parts is not None:
            self.parts.close()

    def act(self, target, entry):
        task_dir = TaskDir(self.module.nomad, self.module.management_client(target.api_url), target)
        return getattr(self, self.state)(task_dir, entry)

    # -- state=present ----------------------------------------------------------------------------

    def desired_files(self):
        """(remote folder, function returning {rel: local file}, remote names a single file limits
        the comparison to). The options are checked at once; reading and hashing a local directory
        is left to the function, so that it can run while the remote folder is listed."""
        src = self.params['src']
        if not os.path.exists(src):
            raise OptionError('src %s does not exist' % src)
        if os.path.isdir(src):
            return self.path, lambda: local_tree(src), None
        if self.params['unpack']:
            if not zipfile.is_zipfile(src):
                raise OptionError('unpack=true needs src to be a zip file; %s is not one' % src)
            local = local_zip_tree(src)  # at once: it also refuses entries that escape the folder
            return self.path, lambda: local, None
        folder, name = posixpath.split(self.path)
        if not folder or not name:
            raise OptionError('path %r must name a file in a folder of the task directory (e.g. local/web.config) '
                              'when src is a file' % self.path)
        return folder, lambda: {name: {'size': os.path.getsize(src), 'sha256': sha256_file(src), 'source': src}}, [name]

    def present(self, task_dir, entry):
        plan, local = task_dir.plan_push(self.folder, self.read_local, self.params['delete'] and self.only is None,
                                         self.only)
        entry.update(changed=plan.has_changes, added=plan.added, updated=plan.changed, removed=plan.removed,
                     bytes_sent=0, parts=0)
        if plan.has_changes and not self.check_mode:
            parts = self.parts.parts_for(dict((rel, local[rel]) for rel in plan.to_send))
            task_dir.push(plan, local, self.params['hot'], entry, parts)
        return folder_diff(task_dir.label, self.folder, plan.changed + plan.removed, plan.added + plan.changed)

    # -- state=absent / empty -----------------------------------------------------------------------

    def absent(self, task_dir, entry):
        exists = task_dir.stat(self.path) is not None
        if exists and not self.check_mode:
            task_dir.delete(self.path)
        entry['changed'] = exists
        return dict(before='%s\n' % self.path if exists else '', after='', before_header=task_dir.label,
                    after_header=task_dir.label)

    def empty(self, task_dir, entry):
        kind = task_dir.stat(self.path)
        if kind is not None and not kind.get('IsDir'):
            raise OptionError("'%s' in %s is a file; state=empty needs a folder" % (self.path, task_dir.label))
        contents = sorted(task_dir.list_files(self.path)) if kind is not None else []
        changed = kind is None or not task_dir.is_empty(self.path)
        if changed and not self.check_mode:
            task_dir.empty(self.path, self.params['hot'], exists=kind is not None)
        entry.update(changed=changed, removed=contents)
        return folder_diff(task_dir.label, self.path, contents, [])

    # -- state=fetched ------------------------------------------------------------------------------

    def fetched(self, task_dir, entry):
        kind = task_dir.stat(self.path)
        if kind is None:
            raise OptionError("'%s' does not exist in %s" % (self.path, task_dir.label))
        dest = self.module.local_dest(self.params['dest'])
        if self.dest_per_alloc:
            dest = dest.subdir(task_dir.target.alloc_id)
        if self.params['unpack'] and kind.get('IsDir'):
            return self.fetch_unpacked(task_dir, dest, entry)
        name = posixpath.basename(self.path) + ('.zip' if kind.get('IsDir') else '')
        local = dest.file(name)
        if kind.get('IsDir'):
            written = self.receive_zip(task_dir, local)
        else:
            written = local.receive(task_dir.read(self.path, reuse_buffer=True))
        entry.update(changed=written.changed, dest=local.path, size=written.size, sha256=written.sha256)
        return None

    def receive_zip(self, task_dir, local):
        """Download the folder's zip; it counts as unchanged when ``local`` is a zip of the same
        files (a zip's own bytes differ from one download to the next)."""
        return local.receive(task_dir.read(self.path, reuse_buffer=True), same=lambda tmp: zip_listing(local.path) == zip_listing(tmp))

    def fetch_unpacked(self, task_dir, dest, entry):
        dest.make_directory()
        tmpdir = tempfile.mkdtemp()
        try:
            archive = os.path.join(tmpdir, 'folder.zip')
            with open(archive, 'wb') as handle:
                for chunk in task_dir.read(self.path, reuse_buffer=True):
                    handle.write(chunk)
            written, removed = unpack_into(archive, dest, self.params['delete'])
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        entry.update(changed=bool(written or removed), dest=dest.path, added=written, removed=removed)
        return None


def main():
    module = NomadIisModule(
        argument_spec=dict(
            path=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent', 'empty', 'fetched']),
            src=dict(type='path'),
            dest=dict(type='path'),
            delete=dict(type='bool', default=False),
            unpack=dict(type='bool', default=False),
            hot=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ['src']), ('state', 'fetched', ['dest'])],
        supports_check_mode=True,
    )
    module.run_targets(TaskFiles(module))


if __name__ == '__main__':
    main()
