# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Planning and packing file transfers to a task directory through the Management API, and
unpacking a downloaded folder into a local one.

Python versions supported: 3.11 and newer.

Why every upload travels as zip parts: upstream's raw upload opens the target without truncating
it (a shorter file keeps the old file's tail), needs the parent folder to exist, and a body may
not exceed 30,000,000 bytes. Unpacking a zip creates folders, and compression lets larger files
through. Unpacking refuses to overwrite, so files that change are deleted first.

The plan compares three views of a remote folder: the local files (size and sha256), what Nomad's
file system API lists (size and modification time), and the manifest this collection writes after
each transfer (size, sha256 and the modification time Nomad reported right after the upload). A
remote file whose size and time still match its manifest entry is taken to hold the manifest's
content; anything else is unknown and is compared by content (downloaded and hashed) when sizes
match, or replaced when they do not.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import tempfile
import threading
import zipfile
import zlib

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import sha256_file
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import MAX_BODY_BYTES

CHUNK_SIZE = 1024 * 1024
# Room for the zip's own headers and central directory in a part (per entry, plus a fixed part).
ZIP_OVERHEAD_FIXED = 1024
ZIP_OVERHEAD_PER_ENTRY = 200
# A file whose first bytes deflate to more than this share of their size is stored, not deflated:
# media, fonts and archives do not get smaller, and deflating them would only cost time.
STORE_PROBE_SIZE = 64 * 1024
STORE_RATIO = 0.9
MANIFEST_DIR = 'private/.nomad_iis_fs'
MANIFEST_VERSION = 1


def local_tree(src):
    """``{relative path with '/': {'size', 'sha256', 'source'}}`` for every file below ``src``."""
    files = {}
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            source = os.path.join(root, name)
            rel = os.path.relpath(source, src).replace(os.sep, '/')
            files[rel] = {'size': os.path.getsize(source), 'sha256': sha256_file(source), 'source': source}
    return files


def local_zip_tree(archive_path):
    """The same for the members of a local zip (``source`` is ``(archive, member name)``)."""
    files = {}
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename.replace('\\', '/')
                if name.startswith('/') or '..' in name.split('/'):
                    raise OptionError('src %s holds an entry that escapes its folder: %r' % (archive_path, name))
                digest = hashlib.sha256()
                with archive.open(info) as member:
                    for chunk in iter(lambda: member.read(CHUNK_SIZE), b''):
                        digest.update(chunk)
                files[name] = {'size': info.file_size, 'sha256': digest.hexdigest(), 'source': (archive_path, info.filename)}
    except (OSError, zipfile.BadZipFile) as exc:
        raise LocalFileError('cannot read the zip %s: %s' % (archive_path, exc)) from exc
    return files


class Plan:
    """What a transfer does to a remote folder: files to add, change (delete then send), remove."""

    def __init__(self):
        self.added = []
        self.changed = []
        self.removed = []
        self.unchanged = []
        self.to_verify = []  # same size, not vouched for by the manifest: compare by content

    @property
    def to_send(self):
        return sorted(self.added + self.changed)

    @property
    def has_changes(self):
        return bool(self.added or self.changed or self.removed)


def plan_sync(local, remote, manifest, delete):
    """Compare ``local`` ({rel: {size, sha256}}) with ``remote`` ({rel: {size, mtime}} from Nomad)
    and ``manifest`` ({rel: {size, sha256, mtime}}); ``to_verify`` lists files whose remote content
    must be hashed before they can be called unchanged (see ``resolve_verified``)."""
    plan = Plan()
    for rel in sorted(local):
        want = local[rel]
        have = remote.get(rel)
        if have is None:
            plan.added.append(rel)
        elif have['size'] != want['size']:
            plan.changed.append(rel)
        else:
            known = manifest.get(rel)
            vouched = known is not None and known['size'] == have['size'] and known.get('mtime') == have['mtime']
            if vouched:
                (plan.unchanged if known['sha256'] == want['sha256'] else plan.changed).append(rel)
            else:
                plan.to_verify.append(rel)
    if delete:
        plan.removed = sorted(rel for rel in remote if rel not in local)
    return plan


def resolve_verified(plan, local, remote_hashes):
    """Sort the files of ``plan.to_verify`` by their hashed remote content."""
    for rel in plan.to_verify:
        (plan.unchanged if remote_hashes[rel] == local[rel]['sha256'] else plan.changed).append(rel)
    plan.changed.sort()
    plan.unchanged.sort()
    plan.to_verify = []
    return plan


def _open_source(source):
    if isinstance(source, tuple):
        archive = zipfile.ZipFile(source[0])  # pylint: disable=consider-using-with
        member = archive.open(source[1])

        class _Member:
            def read(self, size):
                return member.read(size)

            def close(self):
                member.close()
                archive.close()
        return _Member()
    return open(source, 'rb')  # pylint: disable=consider-using-with


def compress_type(sample):
    """ZIP_DEFLATED for data that deflates, ZIP_STORED for data that does not (judged by its start)."""
    probe = sample[:STORE_PROBE_SIZE]
    if probe and len(zlib.compress(probe, 1)) > len(probe) * STORE_RATIO:
        return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED


def _add_entry(archive, name, source):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    reader = _open_source(source)
    try:
        chunk = reader.read(CHUNK_SIZE)
        info.compress_type = compress_type(chunk)
        with archive.open(info, 'w', force_zip64=False) as entry:
            while chunk:
                entry.write(chunk)
                chunk = reader.read(CHUNK_SIZE)
    finally:
        reader.close()


class ZipParts:
    """Temporary zip files holding ``files`` ({entry name: {size, source}}), each under the body
    limit. Files are packed by their uncompressed size, so a part never outgrows the limit
    whatever the compression; a file too big for that travels alone, compressed, and one that
    is over the limit even then fails before anything is sent. Use as a context manager;
    iterate for the parts' paths.

    Eager (the default): every part is written at once, and ``paths`` lists them. Lazy: only
    parts that hold a file too big for the limit uncompressed are written at once (they are the
    only ones that can fail the limit); iterating writes the next part in a thread while the
    caller sends the current one. Without ``keep`` each part is removed once the caller moves on;
    with ``keep`` the parts stay until ``close()``, each written once, so that several senders
    (one per allocation, in threads of their own) can iterate the same parts at the same time.
    """

    def __init__(self, files, limit=MAX_BODY_BYTES, tmpdir=None, lazy=False, keep=False):
        self.limit = limit
        self.tmpdir = tmpdir
        self.paths = []  # every part file on disk, removed by close()
        self._files = files
        self._lazy = lazy
        self._keep = keep or not lazy
        self._lock = threading.Lock()
        self._iterators = []
        self._prefetch = None
        self._groups = list(self._group())
        self._built = {}  # index -> Future of the part's path
        try:
            for index, group in enumerate(self._groups):
                if not lazy or self._cost(group[0]) > self._budget:
                    self._built[index] = _done(self._write(group))
        except BaseException:
            self.close()
            raise

    @property
    def _budget(self):
        return self.limit - ZIP_OVERHEAD_FIXED

    def _cost(self, name):
        return self._files[name]['size'] + ZIP_OVERHEAD_PER_ENTRY + len(name.encode('utf-8')) * 2

    def __len__(self):
        return len(self._groups)

    def _group(self):
        budget = self._budget
        group, used = [], 0
        for name in sorted(self._files):
            cost = self._cost(name)
            if cost > budget:
                yield [name]
                continue
            if used + cost > budget and group:
                yield group
                group, used = [], 0
            group.append(name)
            used += cost
        if group:
            yield group

    def __iter__(self):
        if not self._lazy:
            return iter([self._built[index].result() for index in range(len(self._groups))])
        iterator = self._iter_lazy()
        self._iterators.append(iterator)
        return iterator

    def _iter_lazy(self):
        if not self._groups:
            return
        with self._lock:
            if self._prefetch is None:
                self._prefetch = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        ahead = self._prefetch.submit(self._part, 0)
        try:
            for index in range(len(self._groups)):
                current = ahead.result()
                ahead = self._prefetch.submit(self._part, index + 1) if index + 1 < len(self._groups) else None
                yield current
                if not self._keep:
                    self._remove(current)
        finally:
            if ahead is not None and not ahead.cancel():
                concurrent.futures.wait([ahead])  # its file is in paths: close() removes it

    def _part(self, index):
        """The path of part ``index``, written by the first caller that needs it."""
        with self._lock:
            future = self._built.get(index)
            writer = future is None
            if writer:
                future = self._built[index] = concurrent.futures.Future()
        if writer:
            try:
                future.set_result(self._write(self._groups[index]))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def _write(self, names):
        fd, path = tempfile.mkstemp(suffix='.zip', dir=self.tmpdir)
        os.close(fd)
        with self._lock:
            self.paths.append(path)  # removed by close() even if writing fails
        try:
            with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                for name in names:
                    _add_entry(archive, name, self._files[name]['source'])
        except OSError as exc:
            raise LocalFileError('cannot write a temporary zip in %s: %s' % (os.path.dirname(path), exc)) from exc
        size = os.path.getsize(path)
        if size > self.limit:
            raise OptionError('%s does not fit in a request: it is %d bytes, %d bytes zipped, and the '
                              'Management API takes at most %d bytes per request; upload it another way '
                              '(e.g. a Nomad artifact)'
                              % (names[0], self._files[names[0]]['size'], size, self.limit))
        return path

    def _remove(self, path):
        with self._lock:
            if path in self.paths:
                self.paths.remove(path)
        try:
            os.remove(path)
        except OSError:
            pass

    def close(self):
        for iterator in self._iterators:
            try:
                iterator.close()  # stops a lazy iteration, waiting for the part being written
            except ValueError:
                pass  # still running in another sender's thread: the prefetch shutdown waits for it
        self._iterators = []
        if self._prefetch is not None:
            self._prefetch.shutdown(wait=True)
            self._prefetch = None
        for path in list(self.paths):
            self._remove(path)
        self._built = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class PartStore:
    """The zip parts of one run, per set of files to send: allocations whose plans send the same
    files (the common case: a new version going to every allocation) share one ``ZipParts``,
    written once into a temporary store and sent to each. ``shared`` False (one allocation) lets
    each part go once it is sent. ``close()`` removes every part."""

    def __init__(self, shared):
        self.shared = shared
        self._parts = {}
        self._lock = threading.Lock()

    def parts_for(self, files):
        """The ``ZipParts`` of ``files`` ({name: {size, sha256, source}})."""
        key = tuple(sorted((name, info.get('sha256'), info['size']) for name, info in files.items()))
        with self._lock:
            if key not in self._parts:
                self._parts[key] = ZipParts(files, lazy=True, keep=self.shared)
            return self._parts[key]

    def close(self):
        with self._lock:
            parts, self._parts = list(self._parts.values()), {}
        for each in parts:
            each.close()


def once(function):
    """``function`` computed on the first call only; callers at the same time wait for it."""
    lock = threading.Lock()
    value = []

    def call():
        with lock:
            if not value:
                value.append(function())
            return value[0]
    return call


def _done(value):
    future = concurrent.futures.Future()
    future.set_result(value)
    return future


def manifest_path(folder):
    """Where the manifest of a remote folder lives: in the task's private dir, never served by IIS."""
    return '%s/%s.json' % (MANIFEST_DIR, hashlib.sha256(folder.encode('utf-8')).hexdigest()[:32])


def manifest_body(folder, files):
    return json.dumps({'version': MANIFEST_VERSION, 'path': folder, 'files': files}, sort_keys=True).encode('utf-8')


def parse_manifest(data, folder):
    """The manifest's files, or {} when it is missing, unreadable or for another folder."""
    try:
        content = json.loads(data)
    except (TypeError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get('version') != MANIFEST_VERSION or content.get('path') != folder:
        return {}
    files = content.get('files')
    return files if isinstance(files, dict) else {}


def empty_zip():
    """A temporary empty zip file; the caller removes it."""
    fd, path = tempfile.mkstemp(suffix='.zip')
    os.close(fd)
    with zipfile.ZipFile(path, 'w'):
        pass
    return path


def zip_listing(path):
    """Entries of a zip by name with size and CRC: two downloads of the same folder compare equal
    even when the archives' bytes differ (timestamps, compression). None for no zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted((i.filename, i.file_size, i.CRC) for i in archive.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


def file_crc(path):
    crc = 0
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b''):
            crc = zlib.crc32(chunk, crc)
    return crc


def unpack_into(archive_path, dest, delete):
    """Make the local directory ``dest`` (a ``LocalDest``) hold the files of a zip: files that
    differ (by size and CRC) are written, atomically each; with ``delete``, local files the zip does
    not hold are removed. Entries that would land outside ``dest`` are skipped. Returns
    ``(written, removed)``, relative paths; in check mode nothing is written."""
    written, removed = [], []
    names = set()
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            name = info.filename.replace('\\', '/')
            if name.startswith('/') or '..' in name.split('/') or info.is_dir():
                continue
            names.add(name)
            local = dest.file(os.path.join(*name.split('/')))
            if os.path.isfile(local.path) and os.path.getsize(local.path) == info.file_size and \
                    file_crc(local.path) == info.CRC:
                continue
            written.append(name)
            if dest.check_mode:
                continue
            with local.writer() as writer:
                with archive.open(info) as member:
                    for chunk in iter(lambda: member.read(CHUNK_SIZE), b''):
                        writer.write(chunk)
                writer.commit()
    if delete and os.path.isdir(dest.path):
        for root, dummy, files in os.walk(dest.path):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), dest.path).replace(os.sep, '/')
                if rel not in names:
                    removed.append(rel)
                    dest.file(os.path.relpath(os.path.join(root, name), dest.path)).remove()
    return sorted(written), sorted(removed)
