# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_alloc_fetch: resuming from the bytes already fetched, only while the remote file is the
one they came from; the quick check; where files land."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiConnectionError, ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.modules.nomad_alloc_fetch import (
    PartialDownload,
    download,
    file_dest,
    iso_time,
    quick_check_matches,
    remote_identity,
    resume_offset,
    tree_dest,
)

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
DATA = bytes(range(256)) * 40  # 10240 bytes
MOD_TIME = '2026-11-25T08:40:27.389001793Z'
MOD_TIME_NS = 1795596027389001793


def source(size=len(DATA), mod_time=MOD_TIME, path='app/local/big.bin'):
    return {'alloc_id': ALLOC_ID, 'path': path, 'size': size, 'mod_time': mod_time}


class FakeFs:
    """``AllocFs.read`` over DATA, in chunks of 1000 bytes, dropping the connection once at each
    offset in ``cuts``; records ``(offset, limit)`` of each read."""

    alloc_id = ALLOC_ID

    def __init__(self, data=DATA, cuts=()):
        self.data = data
        self.cuts = list(cuts)
        self.reads = []

    def read(self, path, offset=0, limit=None, action=None):
        self.reads.append((offset, limit))
        end = len(self.data) if limit is None else min(len(self.data), offset + limit)
        position = offset
        while position < end:
            step = min(1000, end - position)
            if self.cuts and position + step > self.cuts[0]:
                cut = self.cuts.pop(0)
                if cut > position:
                    yield self.data[position:cut]
                raise ApiConnectionError('%s failed: the connection to http://nomad:4646 was lost while reading the answer'
                                         % action)
            yield self.data[position:position + step]
            position += step


# -- resume_offset --------------------------------------------------------------------------

def test_resume_keeps_the_bytes_of_the_same_unchanged_file():
    assert resume_offset(source(), source(), 4000) == 4000


def test_resume_of_a_complete_partial_file():
    assert resume_offset(source(), source(), len(DATA)) == len(DATA)


@pytest.mark.parametrize('recorded, partial_size', [
    (None, 4000),  # a partial file without a record of what it is
    (source(), None),  # a record, but no partial file
    (source(mod_time='2026-11-25T08:40:28Z'), 4000),  # the remote file was modified since
    (source(size=len(DATA) - 1), 4000),  # it changed size
    (source(path='app/local/other.bin'), 4000),  # another file to the same destination
    (dict(source(), alloc_id='11112222-3333-4444-5555-666677778888'), 4000),  # another allocation
    (source(), len(DATA) + 1),  # more bytes than the file has
])
def test_resume_restarts_from_zero(recorded, partial_size):
    assert resume_offset(recorded, source(), partial_size) == 0


def test_remote_identity():
    info = {'Name': 'big.bin', 'Size': 5, 'ModTime': MOD_TIME, 'IsDir': False}
    assert remote_identity(ALLOC_ID, 'app/big.bin', info) == source(size=5, path='app/big.bin')


# -- PartialDownload and download ----------------------------------------------------------------

def test_partial_files_sit_next_to_dest(tmp_path):
    partial = PartialDownload(str(tmp_path / 'web.config'))
    assert partial.path == str(tmp_path / '.web.config.part')
    assert partial.sidecar == str(tmp_path / '.web.config.part.json')


def test_fresh_download(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    fs = FakeFs()
    assert download(fs, 'app/local/big.bin', source(), partial, retries=0) == (hashlib.sha256(DATA).hexdigest(), 0, len(DATA))
    assert fs.reads == [(0, len(DATA))]
    with open(partial.path, 'rb') as handle:
        assert handle.read() == DATA
    with open(partial.sidecar) as handle:
        assert json.load(handle) == source()


def test_interrupted_download_keeps_its_bytes_and_the_next_run_resumes(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    with pytest.raises(ApiConnectionError, match=r'was lost while reading the answer; 4500 of 10240 bytes are kept in '
                                                 r'.*\.big\.bin\.part: run the task again to resume'):
        download(FakeFs(cuts=[4500]), 'app/local/big.bin', source(), partial, retries=0)
    assert partial.size() == 4500
    assert not os.path.exists(tmp_path / 'big.bin')

    fs = FakeFs()
    assert download(fs, 'app/local/big.bin', source(), partial, retries=0) == (hashlib.sha256(DATA).hexdigest(), 4500, 5740)
    assert fs.reads == [(4500, 5740)]
    with open(partial.path, 'rb') as handle:
        assert handle.read() == DATA


def test_a_changed_remote_file_restarts_from_zero(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    with pytest.raises(ApiConnectionError):
        download(FakeFs(cuts=[4500]), 'app/local/big.bin', source(), partial, retries=0)
    changed = b'x' * 9000
    fs = FakeFs(changed)
    new_source = source(size=9000, mod_time='2026-11-25T09:00:00Z')
    assert download(fs, 'app/local/big.bin', new_source, partial, retries=0) == (hashlib.sha256(changed).hexdigest(), 0, 9000)
    assert fs.reads == [(0, 9000)]
    with open(partial.sidecar) as handle:
        assert json.load(handle) == new_source


def test_a_partial_file_without_its_record_is_not_trusted(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    with open(partial.path, 'wb') as handle:
        handle.write(b'garbage')
    fs = FakeFs()
    assert download(fs, 'app/local/big.bin', source(), partial, retries=0)[:2] == (hashlib.sha256(DATA).hexdigest(), 0)
    assert fs.reads == [(0, len(DATA))]


def test_lost_connections_are_resumed_within_the_run(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    fs = FakeFs(cuts=[3000, 7777])
    assert download(fs, 'app/local/big.bin', source(), partial, retries=2) == (hashlib.sha256(DATA).hexdigest(), 0, len(DATA))
    assert fs.reads == [(0, len(DATA)), (3000, len(DATA) - 3000), (7777, len(DATA) - 7777)]


def test_in_run_resumes_are_bounded_by_retries(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    with pytest.raises(ApiConnectionError, match='7777 of 10240 bytes are kept'):
        download(FakeFs(cuts=[3000, 7777]), 'app/local/big.bin', source(), partial, retries=1)
    assert partial.size() == 7777


def test_an_attempt_without_progress_is_not_repeated(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    fs = FakeFs(cuts=[0])
    with pytest.raises(ApiConnectionError, match='0 of 10240 bytes are kept'):
        download(fs, 'app/local/big.bin', source(), partial, retries=3)
    assert fs.reads == [(0, len(DATA))]


def test_a_file_that_ends_early_is_discarded(tmp_path):
    partial = PartialDownload(str(tmp_path / 'big.bin'))
    with pytest.raises(ApiError, match=r'the file ended after 10240 of 20000 bytes; it changed during the download'):
        download(FakeFs(), 'app/local/big.bin', source(size=20000), partial, retries=0)
    assert not os.path.exists(partial.path) and not os.path.exists(partial.sidecar)


def test_empty_file(tmp_path):
    partial = PartialDownload(str(tmp_path / 'empty'))
    fs = FakeFs(b'')
    assert download(fs, 'app/local/empty', source(size=0), partial, retries=0) == (hashlib.sha256(b'').hexdigest(), 0, 0)
    assert fs.reads == []
    assert partial.size() == 0


# -- quick check, destinations ------------------------------------------------------------------

def test_quick_check(tmp_path):
    local = tmp_path / 'f'
    local.write_bytes(b'12345')
    os.utime(local, ns=(MOD_TIME_NS, MOD_TIME_NS))
    assert quick_check_matches(os.stat(local), {'Size': 5, 'ModTime': MOD_TIME})
    assert not quick_check_matches(os.stat(local), {'Size': 6, 'ModTime': MOD_TIME})
    assert not quick_check_matches(os.stat(local), {'Size': 5, 'ModTime': '2026-11-25T08:40:27.389001794Z'})
    assert not quick_check_matches(os.stat(local), {'Size': 5, 'ModTime': 'garbage'})
    assert not quick_check_matches(None, {'Size': 5, 'ModTime': MOD_TIME})


def test_iso_time():
    assert iso_time(MOD_TIME_NS) == MOD_TIME
    assert iso_time(1795596027 * 10 ** 9) == '2026-11-25T08:40:27Z'


def test_file_dest(tmp_path):
    assert file_dest(str(tmp_path / 'x.conf'), 'app/local/web.config') == str(tmp_path / 'x.conf')
    assert file_dest(str(tmp_path) + '/new/', 'app/local/web.config') == str(tmp_path) + '/new/web.config'
    assert file_dest(str(tmp_path), 'app/local/web.config') == str(tmp_path / 'web.config')


def test_tree_dest(tmp_path):
    dest = str(tmp_path / 'out')
    assert tree_dest(dest, 'app/local', 'app/local/sub/a.txt') == os.path.join(dest, 'sub', 'a.txt')
    assert tree_dest(dest, '', 'app/local/a.txt') == os.path.join(dest, 'app', 'local', 'a.txt')
    with pytest.raises(OptionError, match='outside dest'):
        tree_dest(dest, 'app', 'app/../../escape')
