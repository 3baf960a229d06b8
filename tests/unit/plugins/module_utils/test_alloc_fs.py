# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_alloc_fs: allocation paths, Nomad's nanosecond times, walking and listing a tree (level by level in
parallel), bounded reads, and resumable downloads that keep their bytes only for the same remote file."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import threading
import time
import urllib.parse

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import (
    AllocFs,
    download,
    normalize_path,
    parse_rfc3339_ns,
    remote_identity,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    ApiError,
    NotFound,
    OptionError,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalFile, PartialFile
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

ALLOC = {'ID': '8f3a21bc-5d2e-4c8b-9a01-0123456789ab', 'TaskStates': {'app': {}, 'logship': {}}}


@pytest.mark.parametrize('path, normalized', [
    ('/', ''),
    ('', ''),
    ('alloc/logs', 'alloc/logs'),
    ('/app/local/', 'app/local'),
    ('./app//local/./web.config', 'app/local/web.config'),
    ('app/local/../tmp', 'app/tmp'),
    ('app\\local\\web.config', 'app/local/web.config'),
])
def test_normalize_path(path, normalized):
    assert normalize_path(path) == normalized


@pytest.mark.parametrize('path', ['..', '../etc', 'app/../../x', '/../x'])
def test_paths_out_of_the_allocation_are_refused(path):
    with pytest.raises(OptionError, match='leads out of the allocation directory'):
        normalize_path(path)


@pytest.mark.parametrize('path', ['app/lo\x00cal', '\x00', 'app/local/web.config\x00.txt'])
def test_a_nul_character_is_refused_before_it_reaches_nomad(path):
    with pytest.raises(OptionError) as error:
        normalize_path(path)
    assert str(error.value) == 'path %r holds a NUL character, which no file name can hold' % path


@pytest.mark.parametrize('text, nanoseconds', [
    ('1970-01-01T00:00:00Z', 0),
    ('2024-05-01T10:00:00.123456789Z', 1714557600123456789),
    ('2024-05-01T10:00:00.5Z', 1714557600500000000),
    ('2024-05-01T12:00:00.123456789+02:00', 1714557600123456789),
    ('2024-05-01T09:30:00.000000001-00:30', 1714557600000000001),
    ('2024-05-01 10:00:00Z', 1714557600000000000),
])
def test_parse_rfc3339_ns(text, nanoseconds):
    assert parse_rfc3339_ns(text) == nanoseconds


@pytest.mark.parametrize('text', [None, '', 'yesterday', '2024-05-01T10:00:00'])
def test_parse_rfc3339_ns_refuses(text):
    assert parse_rfc3339_ns(text) is None


def entry(name, is_dir=False, mode=None):
    return {'Name': name, 'IsDir': is_dir, 'Size': 1, 'FileMode': mode or ('drwxr-xr-x' if is_dir else '-rw-r--r--'),
            'ModTime': '2024-05-01T10:00:00Z'}


TREE = {
    '/': [entry('app', True), entry('alloc', True)],
    'app': [entry('local', True), entry('secrets', True), entry('link', mode='Lrwxrwxrwx')],
    'app/local': [entry('web.config'), entry('sub', True)],
    'app/local/sub': [entry('deep.txt')],
    'app/secrets': [entry('token')],
    'alloc': [],
}


@pytest.fixture
def fs(server):
    def route(request):
        query = urllib.parse.parse_qs(request.query)
        if request.path_only.startswith('/v1/client/fs/ls/'):
            return Reply(200, TREE[query['path'][0]])
        if request.path_only.startswith('/v1/client/fs/readat/'):
            data = b'0123456789'
            offset = int(query['offset'][0])
            limit = int(query.get('limit', ['0'])[0])
            return Reply(200, data[offset:offset + limit] if limit > 0 else data[offset:])
        return Reply(404, b'')
    server.route = route
    return AllocFs(NomadClient(addr=server.url(), retries=0), ALLOC)


def test_walk_lists_each_directory_before_its_contents(fs):
    assert [path for path, _info in fs.walk('app')] == [
        'app/link', 'app/local', 'app/local/sub', 'app/local/sub/deep.txt', 'app/local/web.config', 'app/secrets',
        'app/secrets/token']


def test_walk_with_depth_and_skip(fs):
    assert [path for path, _info in fs.walk('', depth=2, skip=fs.is_protected)] == [
        'alloc', 'app', 'app/link', 'app/local', 'app/secrets']
    assert [path for path, _info in fs.walk('app', skip=fs.is_protected)] == [
        'app/link', 'app/local', 'app/local/sub', 'app/local/sub/deep.txt', 'app/local/web.config', 'app/secrets']


def test_is_protected(fs):
    assert fs.is_protected('app/secrets')
    assert fs.is_protected('logship/private')
    assert not fs.is_protected('other/secrets')
    assert not fs.is_protected('app/local/secrets')


def test_read_sends_offset_and_limit(fs, server):
    assert b''.join(fs.read('app/local/web.config', 3, 4)) == b'3456'
    assert b''.join(fs.read('app/local/web.config', 8)) == b'89'
    sent = [urllib.parse.parse_qs(r.query) for r in server.requests]
    assert [(q['offset'], q.get('limit')) for q in sent] == [(['3'], ['4']), (['8'], None)]


def test_read_stops_at_the_limit_when_the_server_ignores_it(server):
    server.route = lambda request: Reply(200, b'0123456789')
    fs = AllocFs(NomadClient(addr=server.url(), retries=0), ALLOC)
    assert b''.join(fs.read('x', 0, 4)) == b'0123'


# -- list_files ---------------------------------------------------------------------------------

class FakeLs:
    """Nomad's /v1/client/fs/ls for a tree {folder: [(name, is_dir, size)]}."""

    def __init__(self, tree, missing=()):
        self.tree = tree
        self.missing = set(missing)
        self.threads = set()
        self.calls = []

    def get_json(self, path, *path_args, action, params=None):
        self.threads.add(threading.get_ident())
        folder = params['path'].rstrip('/')
        self.calls.append(folder)
        if folder in self.missing or folder not in self.tree:
            raise NotFound('%s failed: 404' % action, status=404)
        return [{'Name': name, 'IsDir': is_dir, 'Size': size, 'ModTime': 't-' + name}
                for name, is_dir, size in self.tree[folder]]


def tree(width=12, depth=3):
    """A tree with ``width`` folders per level; each folder holds one file and its subfolders."""
    folders = {}

    def fill(path, level):
        entries = [('file.txt', False, level)]
        if level < depth:
            for index in range(width if level == 0 else 2):
                name = 'd%02d' % index
                entries.append((name, True, 0))
                fill('%s/%s' % (path, name), level + 1)
        folders[path] = entries

    fill('app/local', 0)
    return folders


def test_list_files_in_parallel():
    nomad = FakeLs(tree())
    files = AllocFs(nomad, ALLOC).list_files('app/local')
    expected = {}
    for folder, entries in nomad.tree.items():
        rel_dir = folder[len('app/local/'):] if folder != 'app/local' else ''
        for name, is_dir, size in entries:
            if not is_dir:
                rel = '%s/%s' % (rel_dir, name) if rel_dir else name
                expected[rel] = {'size': size, 'mtime': 't-' + name}
    assert files == expected
    assert sorted(nomad.calls) == sorted(nomad.tree)
    assert len(nomad.threads) > 1


def test_list_files_of_a_missing_folder():
    assert AllocFs(FakeLs({}), ALLOC).list_files('app/local') == {}


def test_list_files_a_subfolder_gone_while_listing():
    nomad = FakeLs(tree(), missing={'app/local/d03/d01'})
    with pytest.raises(ApiError, match="404"):
        AllocFs(nomad, ALLOC).list_files('app/local')


# -- remote_identity and download ---------------------------------------------------------------

DATA = bytes(range(256)) * 40  # 10240 bytes
MOD_TIME = '2026-11-25T08:40:27.389001793Z'
ALLOC_ID = ALLOC['ID']


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

    def read(self, path, offset=0, limit=None, action=None, reuse_buffer=False):
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


def test_remote_identity():
    info = {'Name': 'big.bin', 'Size': 5, 'ModTime': MOD_TIME, 'IsDir': False}
    assert remote_identity(ALLOC_ID, 'app/big.bin', info) == source(size=5, path='app/big.bin')


# -- download ----------------------------------------------------------------

def test_fresh_download(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    fs = FakeFs()
    assert download(fs, 'app/local/big.bin', source(), partial, retries=0) == (hashlib.sha256(DATA).hexdigest(), 0, len(DATA))
    assert fs.reads == [(0, len(DATA))]
    with open(partial.path, 'rb') as handle:
        assert handle.read() == DATA
    with open(partial.sidecar) as handle:
        assert json.load(handle) == source()


def test_interrupted_download_keeps_its_bytes_and_the_next_run_resumes(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
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
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
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
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    with open(partial.path, 'wb') as handle:
        handle.write(b'garbage')
    fs = FakeFs()
    assert download(fs, 'app/local/big.bin', source(), partial, retries=0)[:2] == (hashlib.sha256(DATA).hexdigest(), 0)
    assert fs.reads == [(0, len(DATA))]


def test_lost_connections_are_resumed_within_the_run(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    fs = FakeFs(cuts=[3000, 7777])
    assert download(fs, 'app/local/big.bin', source(), partial, retries=2) == (hashlib.sha256(DATA).hexdigest(), 0, len(DATA))
    assert fs.reads == [(0, len(DATA)), (3000, len(DATA) - 3000), (7777, len(DATA) - 7777)]


def test_in_run_resumes_are_bounded_by_retries(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    with pytest.raises(ApiConnectionError, match='7777 of 10240 bytes are kept'):
        download(FakeFs(cuts=[3000, 7777]), 'app/local/big.bin', source(), partial, retries=1)
    assert partial.size() == 7777


def test_an_attempt_without_progress_is_not_repeated(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    fs = FakeFs(cuts=[0])
    with pytest.raises(ApiConnectionError) as error:
        download(fs, 'app/local/big.bin', source(), partial, retries=3)
    assert fs.reads == [(0, len(DATA))]
    assert 'kept' not in str(error.value)
    assert os.listdir(str(tmp_path)) == []  # no byte came: no partial file, no record


def test_an_http_error_before_the_first_byte_leaves_nothing_behind(tmp_path):
    class Refusing(FakeFs):
        def read(self, path, offset=0, limit=None, action=None, reuse_buffer=False):
            raise ApiError('%s failed: 500 boom from http://nomad:4646' % action, status=500)
            yield  # pylint: disable=unreachable
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    with pytest.raises(ApiError, match='500 boom'):
        download(Refusing(), 'app/local/big.bin', source(), partial, retries=3)
    assert os.listdir(str(tmp_path)) == []


def test_a_file_that_ends_early_is_discarded(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    with pytest.raises(ApiError, match=r'the file ended after 10240 of 20000 bytes; it changed during the download'):
        download(FakeFs(), 'app/local/big.bin', source(size=20000), partial, retries=0)
    assert not os.path.exists(partial.path) and not os.path.exists(partial.sidecar)


def test_empty_file(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'empty')))
    fs = FakeFs(b'')
    assert download(fs, 'app/local/empty', source(size=0), partial, retries=0) == (hashlib.sha256(b'').hexdigest(), 0, 0)
    assert fs.reads == []
    assert partial.size() == 0


def test_fetch_puts_in_place_only_what_differs_and_keeps_the_remote_time(tmp_path):
    fs = AllocFs(None, ALLOC)
    fs.read = FakeFs().read
    info = {'Size': len(DATA), 'ModTime': MOD_TIME}
    local = LocalFile(str(tmp_path / 'out' / 'big.bin'))
    fetched = fs.fetch('app/local/big.bin', info, local, retries=0)
    assert (fetched.changed, fetched.sha256, fetched.resumed_from, fetched.bytes_transferred) == (
        True, hashlib.sha256(DATA).hexdigest(), 0, len(DATA))
    assert (tmp_path / 'out' / 'big.bin').read_bytes() == DATA
    assert os.stat(str(tmp_path / 'out' / 'big.bin')).st_mtime_ns == parse_rfc3339_ns(MOD_TIME)
    assert os.listdir(str(tmp_path / 'out')) == ['big.bin']
    assert fs.fetch('app/local/big.bin', info, local, retries=0).changed is False
    assert os.listdir(str(tmp_path / 'out')) == ['big.bin']


class SlowFs(FakeFs):
    """FakeFs whose bytes trickle in, so that downloads started together overlap."""

    def read(self, path, offset=0, limit=None, action=None, reuse_buffer=False):
        for chunk in super().read(path, offset, limit, action):
            time.sleep(0.002)
            yield chunk


def fetch_in_another_process(dest, start, outcomes):
    start.wait(10)
    fs = AllocFs(None, ALLOC)
    fs.read = SlowFs(DATA * 10).read
    try:
        fetched = fs.fetch('app/local/big.bin', {'Size': len(DATA) * 10, 'ModTime': MOD_TIME}, LocalFile(dest),
                           retries=0, patience=30)
        outcomes.put(('ok', fetched.sha256))
    except Exception as exc:  # pylint: disable=broad-except
        outcomes.put(('failed', '%s: %s' % (type(exc).__name__, exc)))


def test_runs_fetching_into_one_file_at_the_same_time_take_turns(tmp_path):
    # Separate processes, as separate ansible-playbook runs are, started at the same moment.
    context = multiprocessing.get_context('fork')
    start, outcomes = context.Barrier(4), context.Queue()
    dest = str(tmp_path / 'big.bin')
    runs = [context.Process(target=fetch_in_another_process, args=(dest, start, outcomes)) for dummy in range(4)]
    for run in runs:
        run.start()
    results = [outcomes.get(timeout=60) for dummy in runs]
    for run in runs:
        run.join(10)
    assert results == [('ok', hashlib.sha256(DATA * 10).hexdigest())] * 4
    with open(dest, 'rb') as handle:
        assert handle.read() == DATA * 10
    assert os.listdir(str(tmp_path)) == ['big.bin']
