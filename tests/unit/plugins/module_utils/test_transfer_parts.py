# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ZipParts: parts under the limit, eager or written one ahead of the sender, no temporary file
left behind; files that do not deflate are stored."""

from __future__ import annotations

import os
import random
import zipfile

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import ZipParts, compress_type

LIMIT = 300000


def make_files(root, count=40, size=20000, seed=7):
    """{name: {size, source}} of ``count`` files, half random (stored), half text (deflated)."""
    rng = random.Random(seed)
    files = {}
    for index in range(count):
        name = 'dir%d/file%02d.%s' % (index % 3, index, 'bin' if index % 2 else 'txt')
        data = rng.randbytes(size) if index % 2 else (b'line %d of some text\n' % index) * (size // 20)
        path = root / ('f%02d' % index)
        path.write_bytes(data)
        files[name] = {'size': len(data), 'source': str(path), 'data': data}
    return files


def entries(paths):
    found = {}
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                assert info.filename not in found
                found[info.filename] = (info.compress_type, archive.read(info))
    return found


def test_compress_type():
    assert compress_type(random.Random(1).randbytes(100000)) == zipfile.ZIP_STORED
    assert compress_type(b'abc' * 30000) == zipfile.ZIP_DEFLATED
    assert compress_type(b'') == zipfile.ZIP_DEFLATED


def test_eager_parts(tmp_path):
    files = make_files(tmp_path)
    work = tmp_path / 'parts'
    work.mkdir()
    with ZipParts(files, limit=LIMIT, tmpdir=str(work)) as parts:
        assert len(parts) == len(parts.paths) > 2
        assert list(parts) == parts.paths
        assert all(os.path.getsize(p) <= LIMIT for p in parts.paths)
        found = entries(parts.paths)
    assert os.listdir(work) == []
    assert {name: data for name, (dummy, data) in found.items()} == {name: f['data'] for name, f in files.items()}
    assert {found[name][0] for name in files if name.endswith('.bin')} == {zipfile.ZIP_STORED}
    assert {found[name][0] for name in files if name.endswith('.txt')} == {zipfile.ZIP_DEFLATED}


def test_lazy_parts_are_written_one_ahead_and_removed_behind(tmp_path):
    files = make_files(tmp_path)
    work = tmp_path / 'parts'
    work.mkdir()
    with ZipParts(files, limit=LIMIT, tmpdir=str(work), lazy=True) as parts:
        assert os.listdir(work) == []  # nothing written before the first part is asked for
        seen, contents = [], {}
        for path in parts:
            assert os.path.exists(path)
            assert len(os.listdir(work)) <= 2  # this part, and at most the next one
            for previous in seen:
                assert not os.path.exists(previous)
            contents.update(entries([path]))
            seen.append(path)
        assert len(seen) == len(parts) > 2
    assert os.listdir(work) == []
    assert {name: data for name, (dummy, data) in contents.items()} == {name: f['data'] for name, f in files.items()}


def test_lazy_same_parts_as_eager(tmp_path):
    files = make_files(tmp_path)
    with ZipParts(files, limit=LIMIT) as eager:
        expected = [sorted(entries([p])) for p in eager.paths]
    with ZipParts(files, limit=LIMIT, lazy=True) as lazy:
        assert [sorted(entries([p])) for p in lazy] == expected


def test_lazy_stopped_midway_leaves_nothing(tmp_path):
    files = make_files(tmp_path)
    work = tmp_path / 'parts'
    work.mkdir()
    with pytest.raises(RuntimeError, match='upload failed'):
        with ZipParts(files, limit=LIMIT, tmpdir=str(work), lazy=True) as parts:
            for dummy in parts:
                raise RuntimeError('upload failed')
    assert os.listdir(work) == []


@pytest.mark.parametrize('lazy', [False, True])
def test_a_file_over_the_limit_even_compressed_fails_before_any_part(tmp_path, lazy):
    files = make_files(tmp_path, count=6)
    big = tmp_path / 'big'
    big.write_bytes(random.Random(3).randbytes(LIMIT + 10))
    files['zz/big.bin'] = {'size': LIMIT + 10, 'source': str(big)}
    work = tmp_path / 'parts'
    work.mkdir()
    with pytest.raises(OptionError, match=r'zz/big.bin does not fit in a request'):
        ZipParts(files, limit=LIMIT, tmpdir=str(work), lazy=lazy)
    assert os.listdir(work) == []


def test_a_big_compressible_file_travels_alone(tmp_path):
    big = tmp_path / 'big.log'
    big.write_bytes(b'All work and no play\n' * (2 * LIMIT // 21))
    files = make_files(tmp_path, count=4)
    files['big.log'] = {'size': os.path.getsize(big), 'source': str(big)}
    with ZipParts(files, limit=LIMIT, lazy=True) as parts:
        alone = [sorted(entries([p])) for p in parts]
    assert ['big.log'] in alone


def test_unreadable_file_in_a_lazy_part(tmp_path):
    files = make_files(tmp_path, count=10)
    files['gone.txt'] = {'size': 10, 'source': str(tmp_path / 'missing')}
    work = tmp_path / 'parts'
    work.mkdir()
    with pytest.raises(LocalFileError, match='cannot write a temporary zip'):
        with ZipParts(files, limit=LIMIT, tmpdir=str(work), lazy=True) as parts:
            for dummy in parts:
                pass
    assert os.listdir(work) == []


def test_no_files(tmp_path):
    with ZipParts({}, tmpdir=str(tmp_path), lazy=True) as parts:
        assert not list(parts)
    with ZipParts({}, tmpdir=str(tmp_path)) as parts:
        assert not list(parts)
    assert os.listdir(tmp_path) == []
