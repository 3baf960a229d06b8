# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An allocation's directory through Nomad's client file-system API (``/v1/client/fs/*``).

Python versions supported: 3.11 and newer.

Paths are relative to the allocation directory (``alloc/logs``, ``app/local/web.config``), as the
Nomad CLI takes them. ``ls`` and ``stat`` answer 404 for a missing path, while ``readat`` answers
400 (Nomad's own inconsistency); ``missing_path`` recognises both. Nomad refuses to read a task's
``secrets/`` and ``private/`` directories, so ``walk`` can be told to skip them.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import calendar
import collections
import concurrent.futures
import hashlib
import re

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    ApiError,
    LocalFileError,
    NotFound,
    OptionError,
    describe_os_error,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import PartialFile

# Directories of each task that Nomad never lets the fs API read.
PROTECTED_TASK_DIRS = ('secrets', 'private')
# Folders listed at the same time by list_files (Nomad lists one folder per request).
LIST_WORKERS = 8

_RFC3339 = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$')


def normalize_path(path):
    """``path`` relative to the allocation directory, ``/``-separated, without ``.`` segments or a
    leading ``/``; ``''`` is the allocation directory itself.

    Raises ``OptionError`` for a path whose ``..`` segments climb out of the allocation directory
    (Nomad would refuse it with a 500).
    """
    parts = []
    for part in (path or '').replace('\\', '/').split('/'):
        if part in ('', '.'):
            continue
        if part == '..':
            if not parts:
                raise OptionError('path %r leads out of the allocation directory' % path)
            parts.pop()
        else:
            parts.append(part)
    return '/'.join(parts)


def join_path(directory, name):
    return '%s/%s' % (directory, name) if directory else name


def parse_rfc3339_ns(value):
    """Nanoseconds since the Unix epoch of an RFC 3339 time with up to nanosecond precision (Go's
    ``time.RFC3339Nano``, which Python's datetime cannot hold), or None if ``value`` is not one."""
    match = _RFC3339.match(value or '')
    if not match:
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction = (match.group(7) or '')[:9].ljust(9, '0')
    zone = match.group(8)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if zone not in ('Z', 'z'):
        sign = 1 if zone[0] == '+' else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 10 ** 9 + int(fraction)


def is_symlink(info):
    """Whether a listing entry is a symbolic link (Go's FileMode string starts with ``L``)."""
    return (info.get('FileMode') or '').startswith('L')


def missing_path(exc):
    """Whether an ``ApiError`` from the fs API means the path does not exist."""
    return exc.status in (400, 404) and 'no such file or directory' in (exc.body or '')


class AllocFs:
    """The file system of one allocation. ``alloc`` is its stub (``ID`` and ``TaskStates`` are used)."""

    def __init__(self, client, alloc):
        self.client = client
        self.alloc_id = alloc['ID']
        self.tasks = sorted((alloc.get('TaskStates') or {}).keys())

    def _where(self, path):
        return '%r in allocation %s' % (path or '/', self.alloc_id)

    def stat(self, path, action=None):
        """``AllocFileInfo`` of ``path`` (``Name``, ``IsDir``, ``Size``, ``FileMode``, ``ModTime``, ``ContentType``)."""
        return self.client.get_json('/v1/client/fs/stat/{}', self.alloc_id, params=dict(path=path or '/'),
                                    action=action or 'reading the status of %s' % self._where(path))

    def find(self, path, action=None):
        """``stat`` of ``path``, or None when it does not exist."""
        try:
            return self.stat(path, action)
        except NotFound:
            return None

    def ls(self, path, action=None):
        """The entries of directory ``path``, sorted by name."""
        entries = self.client.get_json('/v1/client/fs/ls/{}', self.alloc_id, params=dict(path=path or '/'),
                                       action=action or 'listing %s' % self._where(path))
        return sorted(entries or [], key=lambda entry: entry.get('Name', ''))

    def walk(self, path, depth=None, skip=None):
        """Yield ``(relative_path, info)`` for every entry below directory ``path``, each directory
        followed by its contents. ``depth`` 1 is the directory's own entries (None: no limit).
        Symbolic links are listed but not followed; directories for which ``skip(relative_path)`` is
        true are listed but not entered."""
        for info in self.ls(path):
            relative = join_path(path, info['Name'])
            yield relative, info
            if (info.get('IsDir') and not is_symlink(info) and (depth is None or depth > 1)
                    and not (skip and skip(relative))):
                yield from self.walk(relative, None if depth is None else depth - 1, skip)

    def list_files(self, path, describe=None):
        """``{path relative to path: {size, mtime}}`` of every file below directory ``path``, or {}
        when it does not exist. The folders of each level are listed in parallel; ``describe(path)``
        says how messages name a listed folder."""
        describe = describe or self._where

        def listing(folder):
            return self.ls(folder, action='listing %s' % describe(folder))

        try:
            top = listing(path)
        except NotFound:
            return {}
        files = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
            level = [('', top)]
            while level:
                subfolders = []
                for relative_dir, entries in level:
                    for entry in entries:
                        relative = join_path(relative_dir, entry['Name'])
                        if entry.get('IsDir'):
                            subfolders.append(relative)
                        else:
                            files[relative] = {'size': entry.get('Size') or 0, 'mtime': entry.get('ModTime')}
                level = list(zip(subfolders, pool.map(lambda rel: listing(join_path(path, rel)), subfolders)))
        return files

    def is_protected(self, path):
        """Whether ``path`` is a task's ``secrets`` or ``private`` directory, which Nomad does not read."""
        parts = path.split('/')
        return len(parts) == 2 and parts[0] in self.tasks and parts[1].lower() in PROTECTED_TASK_DIRS

    def read(self, path, offset=0, limit=None, action=None, reuse_buffer=False):
        """Yield the bytes of file ``path`` from ``offset`` (``readat``), at most ``limit`` of them
        (None: to the end), in chunks as they arrive; with ``reuse_buffer`` as memoryviews valid
        until the next one (see ``Answer.chunks``). The request is closed when the generator is."""
        params = dict(path=path, offset=offset, limit=limit if limit else None)
        action = action or 'reading %s' % self._where(path)
        with self.client.open('GET', '/v1/client/fs/readat/{}', self.alloc_id, action=action, params=params) as answer:
            received = 0
            for chunk in answer.chunks(reuse_buffer=reuse_buffer):
                if limit is not None and received + len(chunk) > limit:
                    chunk = chunk[:limit - received]  # a server that ignores limit
                received += len(chunk)
                if chunk:
                    yield chunk
                if limit is not None and received >= limit:
                    return

    def fetch(self, path, info, local_file, retries):
        """Bring remote file ``path`` (``info`` from ``stat``/``ls``) to the ``LocalFile``
        ``local_file``, resuming a download an earlier run left (see ``download``), unless it already
        holds the same bytes; return a ``Fetched``. The local file gets the remote modification time.
        """
        partial = PartialFile(local_file)
        local_file.make_parent()
        size = info.get('Size') or 0
        sha256, resumed_from, transferred = download(self, path, remote_identity(self.alloc_id, path, info), partial,
                                                     retries)
        changed = not local_file.holds(size, sha256)
        if changed:
            partial.commit()
        else:
            partial.discard()
        remote_ns = parse_rfc3339_ns(info.get('ModTime'))
        if remote_ns is not None:
            local_file.set_mtime(remote_ns)
        return Fetched(changed, sha256, resumed_from, transferred)

    def sha256(self, path, size, action=None):
        """SHA-256 of a remote file, read without writing it anywhere."""
        digest = hashlib.sha256()
        for chunk in self.read(path, 0, size or None, action=action or 'reading %s' % self._where(path),
                               reuse_buffer=True):
            digest.update(chunk)
        return digest.hexdigest()


Fetched = collections.namedtuple('Fetched', ['changed', 'sha256', 'resumed_from', 'bytes_transferred'])


def remote_identity(alloc_id, path, info):
    """What a partial download belongs to: if any of it changes, the bytes fetched are stale."""
    return {'alloc_id': alloc_id, 'path': path, 'size': info.get('Size') or 0, 'mod_time': info.get('ModTime')}


def download(fs, path, identity, partial, retries):
    """Fetch ``path`` of the allocation file system ``fs`` into the ``PartialFile`` ``partial``
    from where an earlier attempt stopped; return ``(sha256, resumed_from, bytes_transferred)``.

    A connection lost in the middle of the body is resumed from the bytes received, up to
    ``retries`` times as long as each attempt makes progress. When it gives up, the partial file
    stays for the next run.
    """
    size = identity['size']
    offset = resumed_from = partial.prepare(identity, size)
    digest = partial.digest(offset)
    transferred = resumes = 0
    action = 'fetching %r from allocation %s' % (path, fs.alloc_id)
    while offset < size:
        start = offset
        try:
            with partial.append() as handle:
                for chunk in fs.read(path, offset, size - offset, action=action, reuse_buffer=True):
                    handle.write(chunk)
                    digest.update(chunk)
                    offset += len(chunk)
                    transferred += len(chunk)
        except ApiConnectionError as exc:
            if offset > start and resumes < retries:
                resumes += 1
                continue
            raise exc.with_message('%s; %d of %d bytes are kept in %s: run the task again to resume'
                                   % (exc, offset, size, partial.path)) from None
        except OSError as exc:
            raise LocalFileError('%s %r: cannot write it: %s' % (
                partial.local_file.option, partial.path, describe_os_error(exc)), partial.path) from exc
        if offset == start:
            # The file ended early: it was truncated or replaced since it was looked at.
            partial.discard()
            raise ApiError('%s failed: the file ended after %d of %d bytes; it changed during the download, '
                           'run the task again' % (action, offset, size))
    return digest.hexdigest(), resumed_from, transferred


def describe_info(path, info):
    """A listing or stat entry as modules return it."""
    described = {
        'path': path,
        'name': info.get('Name'),
        'is_dir': bool(info.get('IsDir')),
        'size': info.get('Size') or 0,
        'mode': info.get('FileMode'),
        'mod_time': info.get('ModTime'),
    }
    if 'ContentType' in info:
        described['content_type'] = info['ContentType']
    return described
