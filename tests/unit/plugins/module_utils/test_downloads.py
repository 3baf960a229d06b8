# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Downloads go through a temporary file next to the destination and are renamed into place."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._downloads import AtomicWriter, write_atomically
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_atomically(tmp_path):
    dest = tmp_path / 'out.bin'
    chunks = [b'abc', b'', b'def' * 1000]
    assert write_atomically(iter(chunks), str(dest)) == (hashlib.sha256(b''.join(chunks)).hexdigest(), 3003)
    assert dest.read_bytes() == b''.join(chunks)
    assert os.listdir(tmp_path) == ['out.bin']


def test_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomically([b'x'], str(tmp_path / 'f'))
    finally:
        os.umask(old)
    assert mode(tmp_path / 'f') == 0o640


def test_existing_file_keeps_its_mode(tmp_path):
    dest = tmp_path / 'f'
    dest.write_bytes(b'old')
    os.chmod(dest, 0o604)
    write_atomically([b'new'], str(dest))
    assert dest.read_bytes() == b'new' and mode(dest) == 0o604


def test_not_committed_leaves_the_destination_alone(tmp_path):
    dest = tmp_path / 'f'
    dest.write_bytes(b'old')
    with AtomicWriter(str(dest)) as writer:
        writer.write(b'new')
        assert writer.result() == (hashlib.sha256(b'new').hexdigest(), 3)
        assert os.path.exists(writer.tmp_path) and os.path.dirname(writer.tmp_path) == str(tmp_path)
    assert dest.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['f']


def test_failure_while_writing_removes_the_temporary_file(tmp_path):
    def chunks():
        yield b'part'
        raise RuntimeError('connection lost')

    with pytest.raises(RuntimeError):
        write_atomically(chunks(), str(tmp_path / 'f'))
    assert os.listdir(tmp_path) == []


def test_custom_mover(tmp_path):
    moved = []

    def mover(src, dest):
        moved.append((os.path.dirname(src), dest))
        os.rename(src, dest)

    write_atomically([b'x'], str(tmp_path / 'f'), mover=mover)
    assert moved == [(str(tmp_path), str(tmp_path / 'f'))]


def test_missing_directory(tmp_path):
    dest = str(tmp_path / 'nope' / 'f')
    with pytest.raises(LocalFileError) as error:
        write_atomically([b'x'], dest)
    assert str(error.value) == "cannot write to %r: No such file or directory" % dest
