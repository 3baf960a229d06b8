# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write a download to its destination without ever leaving a half-written file there.

Python versions supported: 3.11 and newer.

The data goes, chunk by chunk, into a temporary file in the destination's directory (so the final
rename stays on one file system and is atomic) while its SHA-256 and size are computed. Nothing is
held in memory beyond one chunk. ``AtomicWriter`` lets a module look at the checksum before it
decides to replace the destination (idempotence, check mode); ``write_atomically`` does it all.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import tempfile

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError

DownloadResult = collections.namedtuple('DownloadResult', ['sha256', 'size'])
HASH_CHUNK_SIZE = 1024 * 1024


class AtomicWriter:
    """A temporary file next to ``dest``; ``commit()`` moves it into place, leaving it removes it.

    Use as a context manager: leaving the block without ``commit()`` (or with an exception)
    deletes the temporary file and leaves ``dest`` as it was.
    """

    def __init__(self, dest):
        self.dest = dest
        directory, name = os.path.split(os.path.abspath(dest))
        try:
            fd, self.tmp_path = tempfile.mkstemp(prefix='.%s.' % name, suffix='.part', dir=directory)
        except OSError as exc:
            raise LocalFileError('cannot write to %r: %s' % (dest, exc.strerror or exc)) from exc
        self._file = os.fdopen(fd, 'wb')
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.committed = False

    def write(self, chunk):
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise LocalFileError('cannot write to %r: %s' % (self.tmp_path, exc.strerror or exc)) from exc
        self._sha256.update(chunk)
        self.size += len(chunk)

    def flush(self):
        """Make what was written readable through ``tmp_path`` (e.g. to inspect it before committing)."""
        self._file.flush()

    @property
    def sha256(self):
        return self._sha256.hexdigest()

    def result(self):
        return DownloadResult(self.sha256, self.size)

    def commit(self, mover=None):
        """Move the file into place with ``mover(src, dest)`` (e.g. ``module.atomic_move``).

        Without a mover: ``os.replace``, keeping the mode of an existing ``dest``, or giving a new
        file the mode the umask allows (mkstemp's 0600 is for the temporary file only).
        """
        self._file.close()
        try:
            if mover is not None:
                mover(self.tmp_path, self.dest)
            else:
                if os.path.exists(self.dest):
                    shutil.copymode(self.dest, self.tmp_path)
                else:
                    os.chmod(self.tmp_path, 0o666 & ~_umask())
                os.replace(self.tmp_path, self.dest)
        except OSError as exc:
            raise LocalFileError('cannot move the download into %r: %s' % (self.dest, exc.strerror or exc)) from exc
        self.committed = True

    def discard(self):
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


def write_atomically(chunks, dest, mover=None):
    """Write the byte chunks of an iterable to ``dest`` atomically; return ``(sha256, size)``."""
    with AtomicWriter(dest) as writer:
        for chunk in chunks:
            writer.write(chunk)
        writer.commit(mover)
        return writer.result()


def sha256_file(path, digest=None):
    """Feed the content of the local file ``path`` into ``digest`` (a new SHA-256 by default); return it.

    Given a digest already fed, it carries on from there (e.g. resuming a partial download).
    """
    digest = digest or hashlib.sha256()
    try:
        with open(path, 'rb') as handle:
            for chunk in iter(lambda: handle.read(HASH_CHUNK_SIZE), b''):
                digest.update(chunk)
    except OSError as exc:
        raise LocalFileError('cannot read %r: %s' % (path, exc.strerror or exc)) from exc
    return digest


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
