# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Local files a module writes (``dest``): never half-written, never written in check mode.

Python versions supported: 3.11 and newer.

* ``LocalDest`` is a ``dest`` option: one file, or a directory (an existing one, or any path that
  ends in ``/``) that receives files under names the module gives (a server's file name, an
  allocation ID). A trailing ``/`` means a directory in every module.
* ``LocalFile`` is one destination file. Data goes, chunk by chunk, into a temporary file next to
  it (a name unique to the run, on the same file system, so the final rename is atomic) while its
  SHA-256 and size are computed; nothing beyond one chunk is held in memory. ``receive`` replaces
  the file only when the content differs (idempotence); ``replace`` always does (captures). In
  check mode nothing is created, parents included: the data is only hashed, so ``changed`` is
  still right.
* ``PartialFile`` is a download that can resume: ``.<name>.part`` next to the file and a sidecar
  ``.<name>.part.json`` that records what remote file the bytes belong to. Concurrent runs that
  fetch into one file take turns through a lock file.

Every failure is a ``LocalFileError`` whose message names the option, the path and the cause.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import collections
import contextlib
import email.message
import email.utils
import hashlib
import json
import os
import re
import fcntl
import stat
import tempfile
import time

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    LocalFileError,
    OptionError,
    describe_os_error,
)

READ_CHUNK_SIZE = 1024 * 1024
# How much of the start of a written file ``FileWriter.head`` keeps (enough for a PNG header).
HEAD_SIZE = 64
# Seconds between two looks at a partial download another run holds.
LOCK_POLL = 0.2

# Characters that are no good in a local file name on any platform.
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')

FileState = collections.namedtuple('FileState', ['size', 'sha256'])


def attachment_filename(headers):
    """The file name of a ``Content-Disposition: attachment`` answer (``filename*`` first), reduced
    to a plain file name that is safe to write locally; None when the answer names none or only an
    unusable one."""
    value = headers.get('Content-Disposition') if headers is not None else None
    if not value:
        return None
    message = email.message.Message()
    message['Content-Disposition'] = value
    plain = extended = None
    for key, param in (message.get_params(header='content-disposition') or [])[1:]:
        if key.lower() != 'filename':
            continue
        if isinstance(param, tuple):  # filename*=charset''percent-encoded (RFC 5987), which wins
            try:
                extended = email.utils.collapse_rfc2231_value(param)
            except (LookupError, ValueError):  # an unknown charset
                pass
        elif plain is None:
            plain = param
    name = extended or plain
    if not name:
        return None
    name = _UNSAFE_NAME_CHARS.sub('_', name.replace('\\', '/').rsplit('/', 1)[-1]).strip()
    if name in ('', '.', '..'):
        return None
    return name


def hash_file(path, digest=None, option='dest'):
    """Feed the content of the local file ``path`` into ``digest`` (a new SHA-256 by default); return it.

    Given a digest already fed, it carries on from there (e.g. resuming a partial download).
    """
    digest = digest or hashlib.sha256()
    try:
        with open(path, 'rb') as handle:
            for chunk in iter(lambda: handle.read(READ_CHUNK_SIZE), b''):
                digest.update(chunk)
    except OSError as exc:
        raise LocalFileError('%s %r: cannot read it: %s' % (option, path, describe_os_error(exc)), path) from exc
    return digest


def sha256_file(path, option='src'):
    """The SHA-256 (hex) of the local file ``path``."""
    return hash_file(path, option=option).hexdigest()


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fail(option, path, doing, exc):
    return LocalFileError('%s %r: %s: %s' % (option, path, doing, describe_os_error(exc)), path)


class LocalDest:
    """A ``dest`` option: one file, or a directory that receives files under given names."""

    def __init__(self, path, option='dest', check_mode=False, is_dir=None, make_parents=True):
        self.path = path
        self.option = option
        self.check_mode = check_mode
        self.is_dir = is_dir if is_dir is not None else path.endswith(('/', os.sep)) or os.path.isdir(path)
        self.make_parents = make_parents

    def require_file(self):
        """Refuse a directory where the module writes exactly one file of no name of its own."""
        if self.is_dir:
            raise OptionError('%s %r is a directory: give the path of a file' % (self.option, self.path))
        return self

    def require_directory_for(self, count):
        """Refuse a single file when ``count`` files (one per allocation) will be written."""
        if count > 1 and not self.is_dir:
            raise OptionError('%s %r must be a directory (an existing one, or end it with /) when %d allocations '
                              'match: each file goes into it under its own name' % (self.option, self.path, count))
        return self

    def path_for(self, name=None):
        """The local path of the file ``name`` (the destination itself when it is a file)."""
        if not self.is_dir:
            return self.path
        return os.path.join(self.path, name) if name else self.path

    def file(self, name=None):
        """The ``LocalFile`` for ``name`` (see ``path_for``); its directory must exist already
        unless ``make_parents``, which creates it (outside check mode)."""
        local = LocalFile(self.path_for(name), self.option, self.check_mode, self.make_parents)
        if not self.make_parents:
            directory = os.path.dirname(os.path.abspath(local.path))
            if not os.path.isdir(directory):
                raise OptionError('%s %r: the directory %r does not exist' % (self.option, local.path, directory))
        return local

    def subdir(self, name):
        """A ``LocalDest`` for the directory ``name`` inside this one."""
        return LocalDest(os.path.join(self.path, name), self.option, self.check_mode, True, self.make_parents)

    def make_directory(self):
        """Create the directory (outside check mode); refuse when a file is in the way."""
        make_directories(self.path, self.option, self.check_mode)


def make_directories(path, option='dest', check_mode=False, named=None):
    """Create ``path`` and its parents, unless in check mode; a file in the way is an error either
    way. Messages name ``named`` (the option's value) when given, else ``path``."""
    named = named or path
    path = os.path.abspath(path)
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise LocalFileError('%s %r: %r is not a directory' % (option, named, existing), named)
    if check_mode or existing == path:
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise LocalFileError('%s %r: cannot create the directory %r: %s' % (option, named, path, describe_os_error(exc)),
                             named) from exc


class LocalFile:
    """One local file a module writes."""

    def __init__(self, path, option='dest', check_mode=False, make_parents=True):
        self.path = path
        self.option = option
        self.check_mode = check_mode
        self.make_parents = make_parents

    def stat(self):
        """``os.stat`` of the file as it is now, or None when there is none; something other than a
        regular file in its place is an error, and so is a file in the way of its directory."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        except NotADirectoryError as exc:
            self.make_parent(check_only=True)  # names the file in the way
            raise _fail(self.option, self.path, 'cannot read it', exc) from exc
        except OSError as exc:
            raise _fail(self.option, self.path, 'cannot read it', exc) from exc
        if stat.S_ISDIR(found.st_mode):
            raise LocalFileError('%s %r is a directory: give the path of a file, or end it with / to write '
                                 'into it' % (self.option, self.path), self.path)
        if not stat.S_ISREG(found.st_mode):
            raise LocalFileError('%s %r exists and is not a regular file' % (self.option, self.path), self.path)
        return found

    def state(self):
        """``FileState(size, sha256)`` of the file as it is now, or None when there is none."""
        found = self.stat()
        if found is None:
            return None
        return FileState(found.st_size, hash_file(self.path, option=self.option).hexdigest())

    def holds(self, size, sha256):
        """Whether the file exists with this size and SHA-256 (hashed only when the size matches)."""
        try:
            if os.path.getsize(self.path) != size:
                return False
        except OSError:
            return False
        return self.state() == (size, sha256)

    def make_parent(self, check_only=False):
        """Create the file's directory (outside check mode); a file in the way is an error either way."""
        if self.make_parents or check_only:
            make_directories(os.path.dirname(os.path.abspath(self.path)), self.option,
                             self.check_mode or check_only, self.path)

    def writer(self, spool=False):
        """A ``FileWriter`` for new content of this file (its parents are made first). With
        ``spool``, the content is kept in a temporary file in check mode too, to be looked at."""
        self.make_parent()
        return FileWriter(self, spool)

    def receive(self, chunks, same=None):
        """Write ``chunks`` to the file unless it already holds the same bytes; return a ``Written``.

        ``same(path)``, when given, decides instead whether the new content (in the temporary file
        ``path``) is the same as the file's.
        """
        before = self.state()
        with self.writer(spool=same is not None) as writer:
            for chunk in chunks:
                writer.write(chunk)
            return self.keep(writer, before, same)

    def keep(self, writer, before, same=None):
        """Put what ``writer`` received in place unless the file (``before``, its earlier ``state()``)
        already holds it; return a ``Written``."""
        if same is not None:
            writer.flush()
            changed = before is None or not same(writer.tmp_path)
        else:
            changed = before != FileState(writer.size, writer.sha256)
        if changed:
            writer.commit()
        return Written(self.path, changed, writer.size, writer.sha256, before)

    def replace(self, chunks, check=None):
        """Write ``chunks`` to the file whatever it holds (a capture: every one is new). ``check``,
        when given, is called with the ``FileWriter`` before the file is put in place."""
        with self.writer() as writer:
            for chunk in chunks:
                writer.write(chunk)
            if check is not None:
                check(writer)
            writer.commit()
        return Written(self.path, True, writer.size, writer.sha256, None)

    def commit_from(self, source):
        """Move the local file ``source`` into place (atomic when on the same file system), keeping
        the mode of an existing file or giving a new one the mode the umask allows."""
        try:
            if os.path.exists(self.path):
                os.chmod(source, stat.S_IMODE(os.stat(self.path).st_mode))
            else:
                os.chmod(source, 0o666 & ~_umask())
            os.replace(source, self.path)
        except OSError as exc:
            raise _fail(self.option, self.path, 'cannot put the new file in place', exc) from exc

    def set_mtime(self, nanoseconds):
        try:
            os.utime(self.path, ns=(os.stat(self.path).st_atime_ns, nanoseconds))
        except OSError as exc:
            raise _fail(self.option, self.path, 'cannot set its modification time', exc) from exc

    def remove(self):
        if self.check_mode:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _fail(self.option, self.path, 'cannot remove it', exc) from exc


class Written(collections.namedtuple('Written', ['path', 'changed', 'size', 'sha256', 'before'])):
    """What writing a ``LocalFile`` did: ``before`` is the ``FileState`` it replaced (or None)."""

    @property
    def diff(self):
        before = dict(size=self.before.size, sha256=self.before.sha256) if self.before else {}
        return dict(before=before, after=dict(size=self.size, sha256=self.sha256),
                    before_header=self.path, after_header=self.path)


class FileWriter:
    """New content for a ``LocalFile``: a temporary file next to it, hashed as it is written.

    Use as a context manager: leaving the block without ``commit()`` (or with an exception)
    deletes the temporary file and leaves the destination as it was. In check mode nothing is
    made next to the destination and ``commit()`` does nothing: the data is only hashed, or, with
    ``spool``, kept in a temporary file of the system's temporary directory until the block ends.
    """

    def __init__(self, local_file, spool=False):
        self.local_file = local_file
        self.tmp_path = None
        self._file = None
        if not local_file.check_mode or spool:
            directory, name = os.path.split(os.path.abspath(local_file.path))
            try:
                fd, self.tmp_path = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp',
                                                     dir=None if local_file.check_mode else directory)
            except OSError as exc:
                raise _fail(local_file.option, local_file.path, 'cannot write next to it', exc) from exc
            self._file = os.fdopen(fd, 'wb')
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.head = b''
        self.committed = False

    def write(self, chunk):
        if self._file is not None:
            try:
                self._file.write(chunk)
            except OSError as exc:
                raise _fail(self.local_file.option, self.local_file.path, 'cannot write it', exc) from exc
        self._sha256.update(chunk)
        if len(self.head) < HEAD_SIZE:
            self.head += chunk[:HEAD_SIZE - len(self.head)]
        self.size += len(chunk)

    @property
    def sha256(self):
        return self._sha256.hexdigest()

    def flush(self):
        """Make what was written readable through ``tmp_path`` (e.g. to inspect it before committing)."""
        if self._file is not None:
            self._file.flush()

    def commit(self):
        if self._file is None or self.local_file.check_mode:
            return
        try:
            self._file.close()
        except OSError as exc:
            raise _fail(self.local_file.option, self.local_file.path, 'cannot write it', exc) from exc
        self.local_file.commit_from(self.tmp_path)
        self.committed = True

    def discard(self):
        if self._file is None:
            return
        self._file.close()
        if not self.committed:
            try:
                os.unlink(self.tmp_path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.discard()


def resume_offset(recorded, identity, partial_size, total_size):
    """How many bytes of a partial download can be kept: all of them when they belong to the same,
    unchanged remote file (``recorded`` when the download started is ``identity`` now) and are not
    more than its ``total_size``; else none."""
    if partial_size is None or recorded != identity or partial_size > total_size:
        return 0
    return partial_size


class PartialFile:
    """A download of ``local_file`` that can resume where an earlier run stopped.

    ``.<name>.part`` holds the bytes received, ``.<name>.part.json`` the identity of the remote file
    they belong to (any dict, e.g. its path, size and modification time): when the identity changes,
    the bytes are stale and are dropped. Runs that fetch into the same file at the same time take
    turns (``exclusive``), through a lock on ``.<name>.part.lock``: the partial file has to have the
    same name in every run, so that the next run can resume it.
    """

    def __init__(self, local_file):
        self.local_file = local_file
        directory, name = os.path.split(os.path.abspath(local_file.path))
        self.path = os.path.join(directory, '.%s.part' % name)
        self.sidecar = self.path + '.json'
        self.lock_path = self.path + '.lock'

    @contextlib.contextmanager
    def exclusive(self, patience):
        """Hold the partial download for this run. Another run that holds it is waited for as long
        as it makes progress (its partial file changes); after ``patience`` seconds without any, the
        wait ends with a message that names that run."""
        handle = self._lock(patience)
        try:
            yield self
        finally:
            try:
                os.unlink(self.lock_path)  # before unlocking: a waiter then sees that its file is gone
            except OSError:
                pass
            os.close(handle)

    def _lock(self, patience):
        seen, since = None, time.monotonic()
        while True:
            try:
                handle = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise self._fail('create the lock file', exc, self.lock_path) from exc
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(handle, 32, 0).decode('ascii', 'replace').strip() or 'unknown'
                os.close(handle)
                progress = (holder, self.size(), self._mtime())
                if progress != seen:
                    seen, since = progress, time.monotonic()
                elif time.monotonic() - since > patience:
                    raise LocalFileError(
                        '%s %r: another run (process %s on this host) is fetching into it, and its partial download '
                        '%r has not changed for %d seconds; run the task again once that run is done'
                        % (self.local_file.option, self.local_file.path, holder, os.path.basename(self.path), patience),
                        self.local_file.path) from None
                time.sleep(LOCK_POLL)
                continue
            # The lock file may have been removed by its last holder between open and flock.
            try:
                current = os.path.samestat(os.fstat(handle), os.stat(self.lock_path))
            except OSError:
                current = False
            if not current:
                os.close(handle)
                continue
            os.ftruncate(handle, 0)
            os.pwrite(handle, str(os.getpid()).encode('ascii'), 0)
            return handle

    def _mtime(self):
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return None

    def size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return None

    def recorded(self):
        try:
            with open(self.sidecar, encoding='utf-8') as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def _fail(self, doing, exc, path=None):
        """An error that names the option and its file (not the partial file, which the user did
        not name) and says what failed next to it."""
        return LocalFileError('%s %r: cannot %s %r next to it: %s' % (
            self.local_file.option, self.local_file.path, doing, os.path.basename(path or self.path),
            describe_os_error(exc)), self.local_file.path)

    def prepare(self, identity, total_size):
        """Keep what is still valid of an earlier download of ``identity`` (dropping a stale one),
        record the identity; return the offset to continue from."""
        offset = resume_offset(self.recorded(), identity, self.size(), total_size)
        if offset == 0:
            self.discard()
            try:
                # The sidecar first: bytes are never on disk without a record of what they belong to.
                with open(self.sidecar, 'w', encoding='utf-8') as handle:
                    json.dump(identity, handle)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            except OSError as exc:
                self.drop_if_empty()
                raise self._fail('write the partial download', exc) from exc
        return offset

    def digest(self, offset):
        """A SHA-256 fed with the first ``offset`` bytes already received."""
        return hash_file(self.path, option=self.local_file.option) if offset else hashlib.sha256()

    def append(self):
        """The partial file, open for appending (a context manager)."""
        try:
            return open(self.path, 'ab')  # pylint: disable=consider-using-with
        except OSError as exc:
            raise self._fail('write the partial download', exc) from exc

    def write_error(self, exc):
        """The error for a failed write into the partial file (e.g. a full disk)."""
        return self._fail('write the partial download', exc)

    def commit(self):
        """Put the received file in place and drop the sidecar."""
        self.local_file.commit_from(self.path)
        self.discard()

    def discard(self):
        for path in (self.path, self.sidecar):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._fail('remove the stale partial download', exc) from exc

    def drop_if_empty(self):
        """Remove the partial file and its sidecar when no byte was kept: a download that failed
        before its first byte leaves nothing behind. Never raises: it runs while another error is
        on its way to the user."""
        if self.size():
            return
        for path in (self.path, self.sidecar):
            try:
                os.unlink(path)
            except OSError:
                pass
