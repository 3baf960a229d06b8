# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_task_dir: a task directory listed through Nomad and written through the Management API; the
plan of a push and the order in which it is carried out."""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NotFound, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._task_dir import TaskDir
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    ZipParts,
    manifest_body,
    manifest_path,
)

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'


def sha(data):
    return hashlib.sha256(data).hexdigest()


class FakeTarget:
    alloc_id = ALLOC_ID
    task = 'app'
    label = "allocation 8f3a21bc task 'app'"
    alloc = {'ID': ALLOC_ID, 'TaskStates': {'app': {}}}


class FakeAnswer:
    def __init__(self, data):
        self.data = data

    def chunks(self, reuse_buffer=False):
        return [memoryview(self.data) if reuse_buffer else self.data]


class FakeNode:
    """The task directory: {path relative to the task dir: bytes, or None for a folder}, as Nomad's fs
    API and the Management API see it; records what the Management API is asked to do."""

    def __init__(self, files):
        self.files = dict(files)
        self.calls = []

    def _entries(self, folder):
        prefix = folder + '/' if folder else ''
        names = {}
        for path, data in self.files.items():
            if path.startswith(prefix) and path != folder:
                name, dummy, rest = path[len(prefix):].partition('/')
                names[name] = names.get(name) or rest != '' or data is None
        return names

    def _exists(self, path):
        return path in self.files or any(p.startswith(path + '/') for p in self.files)

    # Nomad's /v1/client/fs/{stat,ls}/:alloc_id
    def get_json(self, route, *path_args, action, params=None):
        path = params['path'][len('app/'):] if params['path'] != 'app' else ''
        if not self._exists(path):
            raise NotFound('%s failed: 404' % action, status=404)
        is_dir = self.files.get(path, None) is None
        if route.startswith('/v1/client/fs/stat'):
            return {'Name': path.rsplit('/', 1)[-1], 'IsDir': is_dir, 'Size': len(self.files.get(path) or b'')}
        return [{'Name': name, 'IsDir': is_folder, 'Size': 0 if is_folder else len(self.files[path + '/' + name]),
                 'ModTime': 't-%s' % sha(self.files.get(path + '/' + name) or b'')[:8]}
                for name, is_folder in sorted(self._entries(path).items())]

    # The Management API
    @contextlib.contextmanager
    def download(self, alloc_id, task, path, action):
        self.calls.append(('GET', path))
        if self.files.get(path) is None:
            raise NotFound('%s failed: 404' % action, status=404)
        yield FakeAnswer(self.files[path])

    def delete(self, alloc_id, task, path, action):
        self.calls.append(('DELETE', path))
        for name in [p for p in self.files if p == path or p.startswith(path + '/')]:
            del self.files[name]

    def upload(self, alloc_id, task, path, body, size, action, is_zip=False, hot=False, clean=False):
        with zipfile.ZipFile(io.BytesIO(body.read())) as archive:
            names = sorted(archive.namelist())
            for name in names:
                self.files['%s/%s' % (path, name)] = archive.read(name)
        self.calls.append(('PATCH' if hot else 'PUT', path, tuple(names)))


def task_dir(node):
    return TaskDir(node, node, FakeTarget())


def local_files(files, tmp_path):
    result = {}
    for rel, data in files.items():
        source = tmp_path / rel.replace('/', '_')
        source.write_bytes(data)
        result[rel] = {'size': len(data), 'sha256': sha(data), 'source': str(source)}
    return result


def test_stat_list_and_missing_paths():
    node = FakeNode({'local/a.txt': b'a', 'local/sub/b.txt': b'bb'})
    folder = task_dir(node)
    assert folder.stat('local')['IsDir'] and folder.stat('nope') is None
    assert folder.list_files('local') == {'a.txt': {'size': 1, 'mtime': 't-' + sha(b'a')[:8]},
                                          'sub/b.txt': {'size': 2, 'mtime': 't-' + sha(b'bb')[:8]}}
    assert folder.list_files('gone') == {}
    assert not folder.is_empty('local')


def test_manifests():
    node = FakeNode({manifest_path('local'): manifest_body('local', {'a': {'size': 1, 'sha256': 'x', 'mtime': 't'}}),
                     manifest_path('other'): manifest_body('elsewhere', {'a': {}})})
    folder = task_dir(node)
    assert folder.read_manifest('local') == {'a': {'size': 1, 'sha256': 'x', 'mtime': 't'}}
    assert folder.read_manifest('other') == {}
    assert folder.read_manifest('missing') is None


def test_a_push_deletes_what_changes_first_then_sends_parts_then_the_manifest(tmp_path):
    node = FakeNode({'local/changed.txt': b'old!', 'local/same.txt': b'same', 'local/extra.txt': b'x'})
    folder = task_dir(node)
    # The manifest vouches for the remote files as they are.
    listed = folder.list_files('local')
    node.files[manifest_path('local')] = manifest_body('local', {
        'changed.txt': {'size': 4, 'sha256': sha(b'old!'), 'mtime': listed['changed.txt']['mtime']},
        'same.txt': {'size': 4, 'sha256': sha(b'same'), 'mtime': listed['same.txt']['mtime']}})
    local = local_files({'changed.txt': b'new!', 'same.txt': b'same', 'added/deep.txt': b'deep'}, tmp_path)
    plan, got = folder.plan_push('local', lambda: local, delete=True)
    assert (plan.added, plan.changed, plan.removed, plan.unchanged) == (
        ['added/deep.txt'], ['changed.txt'], ['extra.txt'], ['same.txt'])
    assert not [call for call in node.calls if call[0] != 'GET']  # planning writes nothing
    entry = dict(bytes_sent=0, parts=0)
    node.calls = []
    with ZipParts(dict((rel, got[rel]) for rel in plan.to_send), lazy=True) as parts:
        folder.push(plan, got, hot=False, entry=entry, parts=parts)
    assert node.calls[:2] == [('DELETE', 'local/changed.txt'), ('DELETE', 'local/extra.txt')]
    assert node.calls[2] == ('PUT', 'local', ('added/deep.txt', 'changed.txt'))
    assert node.calls[3:] == [('DELETE', manifest_path('local')),
                              ('PATCH', manifest_path('local').rsplit('/', 1)[0], (manifest_path('local').rsplit('/', 1)[1],))]
    assert entry['parts'] == 1 and entry['bytes_sent'] > 0
    assert node.files['local/changed.txt'] == b'new!' and 'local/extra.txt' not in node.files
    assert set(folder.read_manifest('local')) == {'added/deep.txt', 'changed.txt', 'same.txt'}


def test_files_of_the_same_size_without_a_manifest_are_compared_by_content(tmp_path):
    node = FakeNode({'local/a.txt': b'aaaa', 'local/b.txt': b'bbbb'})
    local = local_files({'a.txt': b'aaaa', 'b.txt': b'BBBB'}, tmp_path)
    plan, dummy = task_dir(node).plan_push('local', lambda: local, delete=False)
    assert (plan.unchanged, plan.changed) == (['a.txt'], ['b.txt'])
    assert sorted(node.calls) == sorted([('GET', manifest_path('local')), ('GET', 'local/a.txt'), ('GET', 'local/b.txt')])


def test_a_single_file_is_compared_alone(tmp_path):
    node = FakeNode({'local/web.config': b'<x/>', 'local/other.txt': b'o', 'local/dir/x': b'1'})
    local = local_files({'web.config': b'<y/>'}, tmp_path)
    plan, dummy = task_dir(node).plan_push('local', lambda: local, delete=False, only=['web.config'])
    assert (plan.added, plan.changed, plan.removed) == ([], ['web.config'], [])
    with pytest.raises(OptionError, match="'local/dir' in allocation 8f3a21bc task 'app' is a folder; src is a file"):
        task_dir(node).plan_push('local', lambda: local_files({'dir': b'1'}, tmp_path), delete=False, only=['dir'])


def test_a_push_into_a_file_is_refused(tmp_path):
    node = FakeNode({'local': b'a file'})
    with pytest.raises(OptionError, match="'local' in allocation 8f3a21bc task 'app' is a file, not a folder"):
        task_dir(node).plan_push('local', lambda: {}, delete=False)
