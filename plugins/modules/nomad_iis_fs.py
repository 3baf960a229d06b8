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
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.management_api
  - nomad_iis.management.connection
  - nomad_iis.management.iis_target
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

import concurrent.futures
import hashlib
import os
import posixpath
import shutil
import tempfile
import zipfile
import zlib

from ansible_collections.nomad_iis.management.plugins.module_utils._downloads import AtomicWriter, sha256_file
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import (
    TARGET_MUTUALLY_EXCLUSIVE,
    TARGET_OPTIONS,
    TARGET_REQUIRED_ONE_OF,
    resolve_targets,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import (
    ManagementClient,
    task_path,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadIisModule
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    ZipParts,
    local_tree,
    local_zip_tree,
    manifest_body,
    manifest_path,
    parse_manifest,
    plan_sync,
    resolve_verified,
)

CHUNK_SIZE = 1024 * 1024
# Folders listed at the same time: one request per folder, so wide trees are listed in parallel.
LIST_WORKERS = 8


class RemoteTask:
    """One target's task directory, seen through Nomad's file system API (listing) and the
    Management API (content and writes)."""

    def __init__(self, module, target, clients):
        self.module = module
        self.target = target
        self.nomad = module.nomad
        if target.api_url not in clients:
            clients[target.api_url] = ManagementClient.from_params(module.params, target.api_url)
        self.api = clients[target.api_url]

    def _nomad_path(self, path):
        return '%s/%s' % (self.target.task, path)

    def stat(self, path):
        """Nomad's AllocFileInfo of ``path``, or None when it does not exist."""
        try:
            return self.nomad.get_json('/v1/client/fs/stat/%s' % self.target.alloc_id,
                                       "reading '%s' in %s" % (path, self.target.label),
                                       params=dict(path=self._nomad_path(path)))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list_files(self, folder):
        """{relative path: {size, mtime}} of every file below ``folder`` ({} when it is missing).

        Nomad lists one folder per request; the folders of each level are listed in parallel.
        """
        try:
            entries = self._ls(folder, '')
        except ApiError as exc:
            if exc.status == 404:
                return {}
            raise
        files = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
            level = [('', entries)]
            while level:
                subfolders = []
                for rel_dir, listing in level:
                    for entry in listing or []:
                        rel = posixpath.join(rel_dir, entry['Name'])
                        if entry.get('IsDir'):
                            subfolders.append(rel)
                        else:
                            files[rel] = {'size': entry['Size'], 'mtime': entry.get('ModTime')}
                level = list(zip(subfolders, pool.map(lambda rel: self._ls(folder, rel), subfolders)))
        return files

    def _ls(self, folder, rel_dir):
        path = posixpath.join(folder, rel_dir)
        return self.nomad.get_json('/v1/client/fs/ls/%s' % self.target.alloc_id,
                                   "listing '%s' in %s" % (path, self.target.label),
                                   params=dict(path=self._nomad_path(path)))

    def read(self, path, sink):
        """Stream the content of the remote file or folder zip ``path`` into ``sink(chunk)``."""
        action = "downloading '%s' from %s" % (path, self.target.label)
        with self.api.open_download(self.target.alloc_id, self.target.task, path, action) as response:
            for chunk in self.api.iter_chunks(response, action, CHUNK_SIZE):
                sink(chunk)

    def sha256(self, path):
        digest = hashlib.sha256()
        self.read(path, digest.update)
        return digest.hexdigest()

    def read_manifest(self, folder):
        path = manifest_path(folder)
        data = []
        try:
            self.read(path, data.append)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return parse_manifest(b''.join(data), folder)

    def delete(self, path):
        self.api.delete(self.target.alloc_id, self.target.task, path,
                        "deleting '%s' in %s" % (path, self.target.label))

    def upload_zip(self, folder, zip_path, hot, clean=False):
        size = os.path.getsize(zip_path)
        with open(zip_path, 'rb') as body:
            self.api.upload(self.target.alloc_id, self.target.task, folder, body, size,
                            "uploading to '%s' in %s" % (folder, self.target.label), is_zip=True, hot=hot,
                            clean=clean)
        return size


def empty_zip():
    fd, path = tempfile.mkstemp(suffix='.zip')
    os.close(fd)
    with zipfile.ZipFile(path, 'w'):
        pass
    return path


# --- state=present -------------------------------------------------------------------------------

def desired_files(params, path):
    """(remote folder, function returning {rel: local file}, whether extra remote files may be deleted).

    The options are checked at once; the returned function reads and hashes the files of a local
    directory (so that it can run while the remote folder is listed).
    """
    src = params['src']
    if not src:
        raise OptionError('state=present needs src')
    if not os.path.exists(src):
        raise OptionError('src %s does not exist' % src)
    if os.path.isdir(src):
        return path, lambda: local_tree(src), params['delete']
    if params['unpack']:
        if not zipfile.is_zipfile(src):
            raise OptionError('unpack=true needs src to be a zip file; %s is not one' % src)
        local = local_zip_tree(src)  # at once: it also refuses entries that escape the folder
        return path, lambda: local, params['delete']
    folder, name = posixpath.split(path)
    if not folder or not name:
        raise OptionError('path %r must name a file in a folder of the task directory (e.g. local/web.config) '
                          'when src is a file' % path)
    return folder, lambda: {name: {'size': os.path.getsize(src), 'sha256': sha256_file(src).hexdigest(), 'source': src}}, False


def push(module, remote, path):
    folder, read_local, delete = desired_files(module.params, path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(read_local)  # hash the local files while the remote folder is read
        kind = remote.stat(folder)
        if kind is not None and not kind.get('IsDir'):
            raise OptionError("'%s' in %s is a file, not a folder" % (folder, remote.target.label))
        remote_files = remote.list_files(folder) if kind is not None else {}
        if folder != path and (remote.stat(path) or {}).get('IsDir'):
            raise OptionError("'%s' in %s is a folder; src is a file" % (path, remote.target.label))
        manifest = remote.read_manifest(folder) if kind is not None else None
        local = hashing.result()
    if folder != path:  # a single file: only it matters
        remote_files = {k: v for k, v in remote_files.items() if k in local}
    plan = plan_sync(local, remote_files, manifest or {}, delete)
    resolve_verified(plan, local, {rel: remote.sha256(posixpath.join(folder, rel)) for rel in plan.to_verify})

    entry = remote.target.result(changed=plan.has_changes, added=plan.added, updated=plan.changed,
                                 removed=plan.removed, bytes_sent=0, parts=0)
    diff = {'before_header': '%s: %s' % (remote.target.label, folder),
            'after_header': '%s: %s' % (remote.target.label, folder),
            'before': ''.join('%s\n' % f for f in sorted(plan.changed + plan.removed)),
            'after': ''.join('%s\n' % f for f in sorted(plan.added + plan.changed))}
    if not plan.has_changes or module.check_mode:
        return entry, diff

    for rel in plan.changed + plan.removed:  # unpacking refuses to overwrite
        remote.delete(posixpath.join(folder, rel))
    # Lazy: each part is zipped while the one before it is being sent.
    with ZipParts({rel: local[rel] for rel in plan.to_send}, lazy=True) as parts:
        for part in parts:
            entry['bytes_sent'] += remote.upload_zip(folder, part, module.params['hot'])
            entry['parts'] += 1
    write_manifest(remote, folder, local, manifest or {}, had_manifest=manifest is not None)
    return entry, diff


def write_manifest(remote, folder, local, old, had_manifest):
    """Record what the folder now holds, with the modification times Nomad reports for it."""
    listed = remote.list_files(folder)
    files = {rel: entry for rel, entry in old.items() if rel in listed and rel not in local}
    for rel, want in local.items():
        if rel in listed:
            files[rel] = {'size': want['size'], 'sha256': want['sha256'], 'mtime': listed[rel]['mtime']}
    body = manifest_body(folder, files)
    path = manifest_path(folder)
    manifest_folder, name = posixpath.split(path)
    if had_manifest:
        remote.delete(path)
    tmpdir = tempfile.mkdtemp()
    try:
        source = os.path.join(tmpdir, name)
        with open(source, 'wb') as handle:
            handle.write(body)
        with ZipParts({name: {'size': len(body), 'source': source}}) as parts:
            # PATCH: writing the manifest must not stop the pools again.
            remote.upload_zip(manifest_folder, parts.paths[0], hot=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# --- state=absent / empty --------------------------------------------------------------------------

def remove(module, remote, path):
    exists = remote.stat(path) is not None
    if exists and not module.check_mode:
        remote.delete(path)
    return remote.target.result(changed=exists), {
        'before': '%s\n' % path if exists else '', 'after': '',
        'before_header': remote.target.label, 'after_header': remote.target.label}


def empty(module, remote, path):
    kind = remote.stat(path)
    if kind is not None and not kind.get('IsDir'):
        raise OptionError("'%s' in %s is a file; state=empty needs a folder" % (path, remote.target.label))
    contents = sorted(remote.list_files(path)) if kind is not None else []
    if kind is not None:
        # Empty subfolders count too: ls the top level for anything at all.
        top = remote.nomad.get_json('/v1/client/fs/ls/%s' % remote.target.alloc_id,
                                    "listing '%s' in %s" % (path, remote.target.label),
                                    params=dict(path='%s/%s' % (remote.target.task, path)))
        changed = bool(top)
    else:
        changed = True
    if changed and not module.check_mode:
        archive = empty_zip()
        try:
            # upstream's DELETE .../* is broken: clean=true with an empty zip empties the folder instead;
            # clean needs the folder to exist, and unpacking into a missing folder creates it.
            remote.upload_zip(path, archive, module.params['hot'], clean=kind is not None)
        finally:
            os.remove(archive)
    return remote.target.result(changed=changed, removed=contents), {
        'before': ''.join('%s\n' % f for f in contents), 'after': '',
        'before_header': '%s: %s' % (remote.target.label, path), 'after_header': '%s: %s' % (remote.target.label, path)}


# --- state=fetched -------------------------------------------------------------------------------

def fetch(module, remote, path, dest):
    kind = remote.stat(path)
    if kind is None:
        raise OptionError("'%s' does not exist in %s" % (path, remote.target.label))
    unpack = module.params['unpack'] and kind.get('IsDir')
    if unpack:
        return fetch_unpacked(module, remote, path, dest)
    if os.path.isdir(dest):
        dest = os.path.join(dest, posixpath.basename(path) + ('.zip' if kind.get('IsDir') else ''))
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with AtomicWriter(dest) as writer:
        remote.read(path, writer.write)
        writer.flush()
        same = os.path.isfile(dest) and (
            zip_listing(dest) == zip_listing(writer.tmp_path) if kind.get('IsDir')
            else sha256_file(dest).hexdigest() == writer.sha256)
        if not same and not module.check_mode:
            writer.commit(module.atomic_move)
        result = writer.result()
    return remote.target.result(changed=not same, dest=dest, size=result.size, sha256=result.sha256), None


def zip_listing(path):
    """Entries of a zip by name with size and CRC: two downloads of the same folder compare equal
    even when the archives' bytes differ (timestamps, compression)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted((i.filename, i.file_size, i.CRC) for i in archive.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


def fetch_unpacked(module, remote, path, dest):
    os.makedirs(dest, exist_ok=True)
    written, removed = [], []
    with AtomicWriter(os.path.join(dest, '.nomad_iis_fs.zip')) as download:
        remote.read(path, download.write)
        download.flush()
        with zipfile.ZipFile(download.tmp_path) as archive:
            names = set()
            for info in archive.infolist():
                name = info.filename.replace('\\', '/')
                if name.startswith('/') or '..' in name.split('/') or info.is_dir():
                    continue
                names.add(name)
                target = os.path.join(dest, *name.split('/'))
                if os.path.isfile(target) and os.path.getsize(target) == info.file_size and \
                        zip_crc(target) == info.CRC:
                    continue
                written.append(name)
                if module.check_mode:
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with AtomicWriter(target) as writer:
                    with archive.open(info) as member:
                        for chunk in iter(lambda: member.read(CHUNK_SIZE), b''):
                            writer.write(chunk)
                    writer.commit(module.atomic_move)
    if module.params['delete']:
        for root, dummy, files in os.walk(dest):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), dest).replace(os.sep, '/')
                if rel not in names:
                    removed.append(rel)
                    if not module.check_mode:
                        os.remove(os.path.join(root, name))
    return remote.target.result(changed=bool(written or removed), dest=dest, added=sorted(written),
                                removed=sorted(removed)), None


def zip_crc(path):
    crc = 0
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b''):
            crc = zlib.crc32(chunk, crc)
    return crc


# --- main ----------------------------------------------------------------------------------------

def run(module):
    params = module.params
    path = task_path(params['path'])
    state = params['state']
    if state == 'fetched' and not params['dest']:
        raise OptionError('state=fetched needs dest')
    targets = resolve_targets(module.nomad, params)
    clients = {}
    entries, diffs = [], []
    for target in targets:
        remote = RemoteTask(module, target, clients)
        if state == 'present':
            entry, diff = push(module, remote, path)
        elif state == 'absent':
            entry, diff = remove(module, remote, path)
        elif state == 'empty':
            entry, diff = empty(module, remote, path)
        else:
            dest = params['dest'] if len(targets) == 1 else os.path.join(params['dest'], target.alloc_id)
            if len(targets) > 1:
                os.makedirs(dest, exist_ok=True)
            entry, diff = fetch(module, remote, path, dest)
        entries.append(entry)
        if diff is not None:
            diffs.append(diff)
    result = dict(changed=any(e['changed'] for e in entries), allocations=entries)
    if module._diff and diffs:  # pylint: disable=protected-access
        result['diff'] = diffs
    return result


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
            **TARGET_OPTIONS
        ),
        mutually_exclusive=TARGET_MUTUALLY_EXCLUSIVE,
        required_one_of=TARGET_REQUIRED_ONE_OF,
        required_if=[('state', 'present', ['src']), ('state', 'fetched', ['dest'])],
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == '__main__':
    main()
