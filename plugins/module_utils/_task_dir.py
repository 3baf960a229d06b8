# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An IIS task's directory as ``nomad_iis_fs`` works on it: read through Nomad, written through
the Management API.

Python versions supported: 3.11 and newer.

Nomad's file system API lists folders with sizes and modification times (and lists one folder per
request, so the folders of a level are listed in parallel); the Management API downloads, deletes
and uploads (zip parts, see ``_transfer``). Paths are relative to the task directory
(``local/web.config``); Nomad's are relative to the allocation directory, one level up.

A push follows the plan of ``_transfer.plan_sync``: files that change are deleted first (unpacking
refuses to overwrite), the files to send travel in zip parts (each zipped while the one before it
is sent), and the manifest of the folder is written last, with ``PATCH`` so that the pools are not
stopped once more for it.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import posixpath
import shutil
import tempfile

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import AllocFs
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NotFound, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    ZipParts,
    empty_zip,
    manifest_body,
    manifest_path,
    parse_manifest,
    plan_sync,
    resolve_verified,
)


class TaskDir:
    """The task directory of one ``Target``: ``nomad`` is the Nomad client, ``api`` its Management API client."""

    def __init__(self, nomad, api, target):
        self.target = target
        self.api = api
        self.fs = AllocFs(nomad, target.alloc)

    @property
    def label(self):
        return self.target.label

    def _nomad_path(self, path):
        return posixpath.join(self.target.task, path)

    def _where(self, path):
        return "'%s' in %s" % (path, self.label)

    # -- Reading ------------------------------------------------------------------------------

    def stat(self, path):
        """Nomad's ``AllocFileInfo`` of ``path``, or None when it does not exist."""
        return self.fs.find(self._nomad_path(path), action='reading %s' % self._where(path))

    def is_empty(self, folder):
        """Whether the folder holds nothing at all (empty subfolders count as something)."""
        return not self.fs.ls(self._nomad_path(folder), action='listing %s' % self._where(folder))

    def list_files(self, folder):
        """``{path relative to folder: {size, mtime}}`` of every file below ``folder`` ({} when missing)."""
        prefix = len(self.target.task) + 1
        return self.fs.list_files(self._nomad_path(folder), describe=lambda path: self._where(path[prefix:]))

    def read(self, path, reuse_buffer=False):
        """Yield the content of the remote file, or the zip of the remote folder, ``path``; with
        ``reuse_buffer`` as memoryviews valid until the next one (see ``Answer.chunks``)."""
        with self.api.download(self.target.alloc_id, self.target.task, path,
                               "downloading '%s' from %s" % (path, self.label)) as answer:
            yield from answer.chunks(reuse_buffer=reuse_buffer)

    def sha256(self, path):
        digest = hashlib.sha256()
        for chunk in self.read(path, reuse_buffer=True):
            digest.update(chunk)
        return digest.hexdigest()

    def read_manifest(self, folder):
        """The manifest of ``folder`` (``{}`` when it is unreadable or another folder's), or None when
        there is none."""
        try:
            data = b''.join(self.read(manifest_path(folder)))
        except NotFound:
            return None
        return parse_manifest(data, folder)

    # -- Writing ------------------------------------------------------------------------------

    def delete(self, path):
        self.api.delete(self.target.alloc_id, self.target.task, path, "deleting '%s' in %s" % (path, self.label))

    def upload_zip(self, folder, zip_path, hot, clean=False):
        """Send the local zip ``zip_path`` to be unpacked into ``folder``; return its size."""
        size = os.path.getsize(zip_path)
        with open(zip_path, 'rb') as body:
            self.api.upload(self.target.alloc_id, self.target.task, folder, body, size,
                            "uploading to '%s' in %s" % (folder, self.label), is_zip=True, hot=hot, clean=clean)
        return size

    def empty(self, folder, hot, exists):
        """Make ``folder`` an empty folder. Upstream's ``DELETE .../*`` is broken, so an empty zip is
        unpacked with ``clean=true`` instead; clean needs the folder to exist, and unpacking into a
        missing folder creates it."""
        archive = empty_zip()
        try:
            self.upload_zip(folder, archive, hot, clean=exists)
        finally:
            os.remove(archive)

    def write_manifest(self, folder, local, old, had_manifest):
        """Record what ``folder`` now holds, with the modification times Nomad reports for it."""
        listed = self.list_files(folder)
        files = {rel: entry for rel, entry in old.items() if rel in listed and rel not in local}
        for rel, want in local.items():
            if rel in listed:
                files[rel] = {'size': want['size'], 'sha256': want['sha256'], 'mtime': listed[rel]['mtime']}
        body = manifest_body(folder, files)
        path = manifest_path(folder)
        manifest_folder, name = posixpath.split(path)
        if had_manifest:
            self.delete(path)
        tmpdir = tempfile.mkdtemp()
        try:
            source = os.path.join(tmpdir, name)
            with open(source, 'wb') as handle:
                handle.write(body)
            with ZipParts({name: {'size': len(body), 'source': source}}) as parts:
                # PATCH: writing the manifest must not stop the pools again.
                self.upload_zip(manifest_folder, parts.paths[0], hot=True)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    # -- Pushing ------------------------------------------------------------------------------

    def plan_push(self, folder, read_local, delete, only=None):
        """The plan (``_transfer.Plan``) and the local files for making ``folder`` hold what
        ``read_local()`` returns; ``only`` limits the comparison to the given remote names (a
        single file). The local files are read and hashed while the remote folder is listed."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(read_local)
            kind = self.stat(folder)
            if kind is not None and not kind.get('IsDir'):
                raise OptionError("'%s' in %s is a file, not a folder" % (folder, self.label))
            remote = self.list_files(folder) if kind is not None else {}
            if only is not None:
                for name in only:
                    if (self.stat(posixpath.join(folder, name)) or {}).get('IsDir'):
                        raise OptionError("'%s' in %s is a folder; src is a file"
                                          % (posixpath.join(folder, name), self.label))
                remote = dict((rel, info) for rel, info in remote.items() if rel in only)
            manifest = self.read_manifest(folder) if kind is not None else None
            local = hashing.result()
        plan = plan_sync(local, remote, manifest or {}, delete)
        resolve_verified(plan, local, dict((rel, self.sha256(posixpath.join(folder, rel))) for rel in plan.to_verify))
        plan.folder = folder
        plan.manifest = manifest
        return plan, local

    def push(self, plan, local, hot, entry, parts):
        """Carry out ``plan``, sending ``parts`` (the ``ZipParts`` of ``plan.to_send``) and counting
        ``bytes_sent`` and ``parts`` in ``entry`` as they go."""
        folder = plan.folder
        for rel in plan.changed + plan.removed:  # unpacking refuses to overwrite
            self.delete(posixpath.join(folder, rel))
        for part in parts:
            entry['bytes_sent'] += self.upload_zip(folder, part, hot)
            entry['parts'] += 1
        self.write_manifest(folder, local, plan.manifest or {}, had_manifest=plan.manifest is not None)
