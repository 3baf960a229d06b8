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
is sent), and the manifest of the folder is written last, as a new part (see
``_transfer.manifest_dir``), with ``PATCH`` so that the pools are not stopped once more for it.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import posixpath
import shutil
import tempfile
import time

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import AllocFs
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    ApiError,
    NomadIisError,
    NotFound,
    OptionError,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import (
    FILESYSTEM_ACCESS,
    windows_key,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    Manifest,
    ZipParts,
    empty_zip,
    manifest_body,
    manifest_dir,
    manifest_part_name,
    manifest_path,
    parse_manifest,
    parse_manifest_zip,
    plan_sync,
    resolve_verified,
)


# How many missing files a message names before it only counts the rest.
MISSING_IN_MESSAGE = 5
# How often a manifest that another run may be writing is read before the push gives up, and the
# pause before the next attempt (times the attempts so far).
MANIFEST_READS = 5
MANIFEST_READ_PAUSE = 0.2


def _some(names):
    """A few of ``names`` for a message, and how many more there are."""
    shown = ', '.join(repr(name) for name in names[:MISSING_IN_MESSAGE])
    if len(names) > MISSING_IN_MESSAGE:
        shown += ' and %d more' % (len(names) - MISSING_IN_MESSAGE)
    return shown


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

    def read(self, path, action=None, hints=None, needs=None, reuse_buffer=False):
        """Yield the content of the remote file, or the zip of the remote folder, ``path``; with
        ``reuse_buffer`` as memoryviews valid until the next one (see ``Answer.chunks``)."""
        with self.api.download(self.target.alloc_id, self.target.task, path,
                               action or "downloading '%s' from %s" % (path, self.label), hints, needs) as answer:
            yield from answer.chunks(reuse_buffer=reuse_buffer)

    def sha256(self, path):
        digest = hashlib.sha256()
        for chunk in self.read(path, reuse_buffer=True):
            digest.update(chunk)
        return digest.hexdigest()

    def read_manifest(self, folder):
        """The ``Manifest`` of ``folder`` (see ``_transfer.manifest_dir``), or None when there is none.

        Its parts come as one zip of the manifest folder. A part that another run is writing at that
        moment cannot be read (upstream opens files for reading with FileShare.Read), which fails the
        download: it is tried again a few times. Without parts, the single file earlier versions
        wrote is read instead.
        """
        # The first request of a push to the Management API: its errors are the push's.
        action = "pushing to '%s' in %s (reading what the manifest says it holds)" % (folder, self.label)
        hints = {500: 'the Management API failed without saying why; another run may be writing the manifest '
                      'at the same time: run the task again'}
        needs = 'the %s capability, as every push does' % FILESYSTEM_ACCESS
        target = self.target
        for attempt in range(1, MANIFEST_READS + 1):
            last = attempt == MANIFEST_READS
            try:
                with self.api.download(target.alloc_id, target.task, manifest_dir(folder), action, hints,
                                       needs) as answer:
                    try:
                        return parse_manifest_zip(b''.join(answer), folder)
                    except ApiConnectionError:  # cut off while a part could not be opened
                        if last:
                            raise
            except NotFound:
                break
            except ApiError as exc:
                if last or exc.status != 500:
                    raise
            time.sleep(MANIFEST_READ_PAUSE * attempt)
        try:
            data = b''.join(self.read(manifest_path(folder), action, needs=needs))
        except NotFound:
            return None
        return Manifest(parse_manifest(data, folder), legacy=True)

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

    def write_manifest(self, folder, local, old):
        """Record what ``folder`` now holds, with the modification times Nomad reports for it, as a
        new manifest part; then remove the parts (and the file of earlier versions) that ``old``, the
        ``Manifest`` read before the push, came from. What ``old`` says is kept only where it still
        matches the folder, so that it never vouches for a file another run has changed since."""
        listed = self.list_files(folder)
        listed_by_key = dict((windows_key(rel), rel) for rel in listed)
        local_keys = set(windows_key(rel) for rel in local)
        files = dict((rel, entry) for rel, entry in old.files.items()
                     if windows_key(rel) not in local_keys and rel in listed
                     and (listed[rel]['size'], listed[rel]['mtime']) == (entry.get('size'), entry.get('mtime')))
        for rel, want in local.items():
            remote_rel = listed_by_key.get(windows_key(rel))
            if remote_rel is not None:
                files[remote_rel] = {'size': want['size'], 'sha256': want['sha256'], 'mtime': listed[remote_rel]['mtime']}
        body = manifest_body(folder, files)
        name = manifest_part_name()
        tmpdir = tempfile.mkdtemp()
        try:
            source = os.path.join(tmpdir, name)
            with open(source, 'wb') as handle:
                handle.write(body)
            with ZipParts({name: {'size': len(body), 'source': source}}) as parts:
                # PATCH: writing the manifest must not stop the pools again.
                self.upload_zip(manifest_dir(folder), parts.paths[0], hot=True)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        replaced = [posixpath.join(manifest_dir(folder), part) for part in old.parts]
        for path in replaced + ([manifest_path(folder)] if old.legacy else []):
            try:
                self.delete(path)
            except ApiError:
                # Another run removed it first (upstream answers 500 for a missing file) or is reading
                # it (a sharing violation): the new part holds what it said, the next push removes it.
                pass

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
                only_keys = set(windows_key(name) for name in only)
                remote = dict((rel, info) for rel, info in remote.items() if windows_key(rel) in only_keys)
            # Also for a missing folder: parts left from before it was deleted are removed by the push.
            manifest = self.read_manifest(folder)
            local = hashing.result()
        plan = plan_sync(local, remote, manifest.files if manifest else {}, delete)
        resolve_verified(plan, local, dict((rel, self.sha256(posixpath.join(folder, plan.remote_names.get(rel, rel))))
                                           for rel in plan.to_verify))
        plan.folder = folder
        plan.manifest = manifest
        return plan, local

    def push(self, plan, local, hot, entry, parts=None):
        """Carry out ``plan``, counting ``bytes_sent`` and ``parts`` in ``entry`` as they go. ``parts``
        are the ``ZipParts`` of ``plan.to_send`` when several allocations share them; without them,
        each part is zipped here while the one before it is being sent. A failure says what state it
        leaves the folder in (see ``_left_behind``)."""
        folder = plan.folder
        try:
            for rel in plan.to_delete:  # unpacking refuses to overwrite
                self.delete(posixpath.join(folder, rel))
            with contextlib.ExitStack() as own:
                if parts is None:
                    parts = own.enter_context(ZipParts(dict((rel, local[rel]) for rel in plan.to_send), lazy=True))
                for part in parts:
                    entry['bytes_sent'] += self.upload_zip(folder, part, hot)
                    entry['parts'] += 1
        except NomadIisError as exc:
            raise self._left_behind(exc, plan, entry) from None
        try:
            self.write_manifest(folder, local, plan.manifest or Manifest())
        except NomadIisError as exc:
            raise exc.with_message('%s; every file was sent, only the record of what the folder holds (its manifest) '
                                   'was not written, so the next run compares the files by content' % exc) from None

    def _left_behind(self, exc, plan, entry):
        """``exc`` with what a push that failed halfway left on the node: files it deleted to replace
        them and did not send again are missing there until a push succeeds (listed in ``entry``'s
        ``missing``). Nomad's listing, read now, says which; when even that fails, the message says
        that it could not tell. An unpacking that failed (500) where files this push was to add are
        there now may have met another run pushing them at the same time: the message says so."""
        collided = getattr(exc, 'status', None) == 500 and plan.added
        if not plan.changed and not collided:
            return exc
        try:
            listed = set(windows_key(rel) for rel in self.list_files(plan.folder))
        except NomadIisError:
            if not plan.changed:
                return exc
            return exc.with_message('%s; this push deleted up to %d file(s) to replace them, and which of them are '
                                    'now missing in %s could not be read: run the task again'
                                    % (exc, len(plan.changed), self._where(plan.folder)))
        message = str(exc)
        appeared = [rel for rel in plan.added if windows_key(rel) in listed] if collided else []
        if appeared:
            message += ('; %s holds %d file(s) this push was to add (%s): another run may be pushing to it at the same '
                        'time (unpacking refuses to overwrite a file), so run the task again once it is done'
                        % (self._where(plan.folder), len(appeared), _some(appeared)))
        entry['missing'] = [rel for rel in plan.changed if windows_key(rel) not in listed]
        if entry['missing']:
            message += ('; %s is left without %d file(s) this push deleted to replace them: %s; they are missing '
                        'there until a push succeeds, so run the task again'
                        % (self._where(plan.folder), len(entry['missing']), _some(entry['missing'])))
        elif not plan.changed:
            del entry['missing']
        return exc.with_message(message) if message != str(exc) else exc
