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

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NotFound, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils import _task_dir
from ansible_collections.nomad_iis.management.plugins.module_utils._task_dir import TaskDir
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    manifest_body,
    manifest_dir,
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

    def __iter__(self):
        return iter(self.chunks())


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
    def download(self, alloc_id, task, path, action, hints=None, needs=None):
        self.calls.append(('GET', path))
        if self.files.get(path) is not None:
            yield FakeAnswer(self.files[path])
            return
        below = sorted(p for p, data in self.files.items() if p.startswith(path + '/') and data is not None)
        if not self._exists(path):
            raise NotFound('%s failed: 404' % action, status=404)
        buffer = io.BytesIO()  # a folder: a zip of its files, as upstream sends it
        with zipfile.ZipFile(buffer, 'w') as archive:
            for name in below:
                archive.writestr(name[len(path) + 1:], self.files[name])
        yield FakeAnswer(buffer.getvalue())

    def delete(self, alloc_id, task, path, action):
        self.calls.append(('DELETE', path))
        names = [p for p in self.files if p == path or p.startswith(path + '/')]
        if not names:  # upstream answers a missing path with 500
            raise ApiError('%s failed: 500 Internal Server Error' % action, status=500)
        for name in names:
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


def entry_of(mtime, size=1, sha256='x'):
    return {'size': size, 'sha256': sha256, 'mtime': mtime}


def test_manifests_are_read_from_their_parts_or_the_file_of_earlier_versions():
    local_dir = manifest_dir('local')
    node = FakeNode({
        local_dir + '/001-a.json': manifest_body('local', {'a': entry_of('t1'), 'b': entry_of('t1')}),
        local_dir + '/002-b.json': manifest_body('local', {'a': entry_of('t2')}),  # later: wins for 'a'
        local_dir + '/003-c.json': b'not json',  # unreadable: not taken, and never removed unread
        manifest_path('legacy'): manifest_body('legacy', {'a': entry_of('t0')}),
        manifest_path('other'): manifest_body('elsewhere', {'a': entry_of('t0')}),
    })
    folder = task_dir(node)
    manifest = folder.read_manifest('local')
    assert manifest.files == {'a': entry_of('t2'), 'b': entry_of('t1')}
    assert (manifest.parts, manifest.legacy) == (['001-a.json', '002-b.json'], False)
    legacy = folder.read_manifest('legacy')
    assert (legacy.files, legacy.parts, legacy.legacy) == ({'a': entry_of('t0')}, [], True)
    assert folder.read_manifest('other').files == {}
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
    folder.push(plan, got, hot=False, entry=entry)
    assert node.calls[:2] == [('DELETE', 'local/changed.txt'), ('DELETE', 'local/extra.txt')]
    assert node.calls[2] == ('PUT', 'local', ('added/deep.txt', 'changed.txt'))
    # The manifest goes last, as a new part; the file of earlier versions it replaces is removed.
    (method, where, names), delete = node.calls[3:]
    assert (method, where, len(names)) == ('PATCH', manifest_dir('local'), 1)
    assert delete == ('DELETE', manifest_path('local'))
    assert entry['parts'] == 1 and entry['bytes_sent'] > 0
    assert node.files['local/changed.txt'] == b'new!' and 'local/extra.txt' not in node.files
    manifest = folder.read_manifest('local')
    assert set(manifest.files) == {'added/deep.txt', 'changed.txt', 'same.txt'} and manifest.parts == list(names)


def test_files_of_the_same_size_without_a_manifest_are_compared_by_content(tmp_path):
    node = FakeNode({'local/a.txt': b'aaaa', 'local/b.txt': b'bbbb'})
    local = local_files({'a.txt': b'aaaa', 'b.txt': b'BBBB'}, tmp_path)
    plan, dummy = task_dir(node).plan_push('local', lambda: local, delete=False)
    assert (plan.unchanged, plan.changed) == (['a.txt'], ['b.txt'])
    assert sorted(node.calls) == sorted([('GET', manifest_dir('local')), ('GET', manifest_path('local')),
                                         ('GET', 'local/a.txt'), ('GET', 'local/b.txt')])


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


# -- a push that fails halfway says what it left behind ------------------------------------------------

class FailingNode(FakeNode):
    """Fails the uploads for which ``fails(path, names)`` is true, after recording them; and, with
    ``unlisted``, the listing that follows."""

    def __init__(self, files, fails, unlisted=False):
        super().__init__(files)
        self.fails = fails
        self.unlisted = unlisted
        self.failed = False

    def upload(self, alloc_id, task, path, body, size, action, is_zip=False, hot=False, clean=False):
        with zipfile.ZipFile(io.BytesIO(body.read())) as archive:
            names = tuple(sorted(archive.namelist()))
        if self.fails(path, names):
            self.failed = True
            raise ApiError('%s failed: 500 Internal Server Error from http://node:5004' % action, status=500)
        body.seek(0)
        super().upload(alloc_id, task, path, body, size, action, is_zip, hot, clean)

    def get_json(self, route, *path_args, action, params=None):
        if self.failed and self.unlisted:
            raise ApiError('%s failed: 500' % action, status=500)
        return super().get_json(route, *path_args, action=action, params=params)


def planned(node, tmp_path, local):
    folder = task_dir(node)
    plan, got = folder.plan_push('local', lambda: local_files(local, tmp_path), delete=False)
    return folder, plan, got


def test_a_failed_upload_names_the_files_it_deleted_and_did_not_send_again(tmp_path):
    node = FailingNode({'local/a.txt': b'old-a', 'local/b.txt': b'old-b', 'local/same.txt': b's'},
                       fails=lambda path, names: path == 'local')
    folder, plan, got = planned(node, tmp_path, {'a.txt': b'new-a!', 'b.txt': b'new-b!', 'c.txt': b'c', 'same.txt': b's'})
    entry = dict(bytes_sent=0, parts=0)
    with pytest.raises(ApiError) as error:
        folder.push(plan, got, hot=False, entry=entry)
    assert str(error.value) == (
        "uploading to 'local' in allocation 8f3a21bc task 'app' failed: 500 Internal Server Error from "
        "http://node:5004; 'local' in allocation 8f3a21bc task 'app' is left without 2 file(s) this push deleted to "
        "replace them: 'a.txt', 'b.txt'; they are missing there until a push succeeds, so run the task again")
    assert error.value.status == 500
    assert entry == dict(bytes_sent=0, parts=0, missing=['a.txt', 'b.txt'])
    assert 'local/a.txt' not in node.files and node.files['local/same.txt'] == b's'


def test_when_even_the_listing_fails_the_message_says_it_cannot_tell(tmp_path):
    node = FailingNode({'local/a.txt': b'old-a'}, fails=lambda path, names: path == 'local', unlisted=True)
    folder, plan, got = planned(node, tmp_path, {'a.txt': b'new-a!'})
    with pytest.raises(ApiError, match=r"; this push deleted up to 1 file\(s\) to replace them, and which of them are "
                                       r"now missing in 'local' in allocation 8f3a21bc task 'app' could not be read"):
        folder.push(plan, got, hot=False, entry=dict(bytes_sent=0, parts=0))


def test_a_failed_upload_of_new_files_only_is_passed_on_as_it_is(tmp_path):
    node = FailingNode({}, fails=lambda path, names: path == 'local')
    folder, plan, got = planned(node, tmp_path, {'a.txt': b'a'})
    entry = dict(bytes_sent=0, parts=0)
    with pytest.raises(ApiError) as error:
        folder.push(plan, got, hot=False, entry=entry)
    assert str(error.value).endswith('500 Internal Server Error from http://node:5004') and 'missing' not in entry


def test_a_failed_manifest_says_every_file_was_sent(tmp_path):
    node = FailingNode({'local/a.txt': b'old-a'}, fails=lambda path, names: path.startswith('private/'))
    folder, plan, got = planned(node, tmp_path, {'a.txt': b'new-a!'})
    with pytest.raises(ApiError, match='; every file was sent, only the record of what the folder holds '
                                       r'\(its manifest\) was not written, so the next run compares the files by content'):
        folder.push(plan, got, hot=False, entry=dict(bytes_sent=0, parts=0))
    assert node.files['local/a.txt'] == b'new-a!'


# -- concurrent runs ------------------------------------------------------------------------------

def push_run(node, tmp_path, files, name):
    """Plan a push of ``files`` into local (reading the manifest); return a function that carries it out."""
    (tmp_path / name).mkdir()
    folder, plan, got = planned(node, tmp_path / name, files)
    return lambda: folder.push(plan, got, hot=True, entry=dict(bytes_sent=0, parts=0))


def test_concurrent_pushes_of_different_files_keep_every_runs_record(tmp_path):
    node = FakeNode({'local/old.txt': b'old'})
    # Every run reads the manifest before any of them writes it, as runs started together do.
    runs = [push_run(node, tmp_path, {'f%d.txt' % index: b'%d' % index}, 'run%d' % index) for index in range(3)]
    for run in runs:
        run()
    manifest = task_dir(node).read_manifest('local')
    assert sorted(manifest.files) == ['f0.txt', 'f1.txt', 'f2.txt']
    assert len(manifest.parts) == 3  # nobody removed a part it had not read
    # The next push merges them into one part and removes those it read; it sends nothing.
    node.calls = []
    folder, plan, got = planned(node, tmp_path, {'f%d.txt' % index: b'%d' % index for index in range(3)})
    assert plan.unchanged == ['f0.txt', 'f1.txt', 'f2.txt'] and not plan.has_changes
    assert [call for call in node.calls if call[0] == 'GET' and call[1].startswith('local/')] == []
    plan.added, plan.unchanged = ['f0.txt'], ['f1.txt', 'f2.txt']  # make it write, to see the parts merge
    folder.push(plan, got, hot=True, entry=dict(bytes_sent=0, parts=0))
    manifest = task_dir(node).read_manifest('local')
    assert sorted(manifest.files) == ['f0.txt', 'f1.txt', 'f2.txt'] and len(manifest.parts) == 1


def test_a_part_another_run_removed_first_is_no_error(tmp_path):
    node = FakeNode({})
    first = push_run(node, tmp_path, {'a.txt': b'a'}, 'first')
    first()
    # Two runs read the same part; each removes it after writing its own.
    second = push_run(node, tmp_path, {'b.txt': b'b'}, 'second')
    third = push_run(node, tmp_path, {'c.txt': b'c'}, 'third')
    second()
    third()  # its DELETE of the part the second run removed gets upstream's 500: no matter
    manifest = task_dir(node).read_manifest('local')
    assert sorted(manifest.files) == ['a.txt', 'b.txt', 'c.txt'] and len(manifest.parts) == 2


def test_a_record_another_run_made_stale_is_not_carried_on(tmp_path):
    node = FakeNode({})
    push_run(node, tmp_path, {'a.txt': b'v1'}, 'first')()
    slow = push_run(node, tmp_path, {'b.txt': b'b'}, 'slow')  # reads a.txt's v1 record
    push_run(node, tmp_path, {'a.txt': b'v22'}, 'fast')()  # replaces a.txt meanwhile
    slow()
    manifest = task_dir(node).read_manifest('local')
    assert manifest.files['a.txt']['size'] == 3  # the fast run's record, not the slow run's stale copy


def test_a_manifest_being_written_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(_task_dir, 'MANIFEST_READ_PAUSE', 0)

    class Busy(FakeNode):
        busy = 2

        def download(self, alloc_id, task, path, action, hints=None, needs=None):
            if path == manifest_dir('local') and self.busy:
                self.busy -= 1
                raise ApiError('%s failed: 500 Internal Server Error (%s)' % (action, hints[500]), status=500)
            return super().download(alloc_id, task, path, action, hints, needs)
    node = Busy({})
    push_run(node, tmp_path, {'a.txt': b'a'}, 'first')()
    node.busy = 2
    assert sorted(task_dir(node).read_manifest('local').files) == ['a.txt']
    node.busy = 9
    with pytest.raises(ApiError, match=r"pushing to 'local' in allocation 8f3a21bc task 'app' \(reading what the "
                                       r"manifest says it holds\) failed: 500 .*another run may be writing the manifest"):
        task_dir(node).read_manifest('local')


def test_a_push_the_token_does_not_allow_is_named_as_a_push():
    class Forbidden(FakeNode):
        @contextlib.contextmanager
        def download(self, alloc_id, task, path, action, hints=None, needs=None):
            raise ApiError('%s failed: 403 Forbidden from http://node:5004 (a token needs %s)' % (action, needs),
                           status=403)
            yield  # pylint: disable=unreachable
    with pytest.raises(ApiError) as error:
        task_dir(Forbidden({})).plan_push('local', lambda: {}, delete=False)
    assert str(error.value) == (
        "pushing to 'local' in allocation 8f3a21bc task 'app' (reading what the manifest says it holds) failed: "
        "403 Forbidden from http://node:5004 (a token needs the FilesystemAccess capability, as every push does)")


def test_a_push_that_meets_another_run_pushing_the_same_file_says_so(tmp_path):
    class Raced(FakeNode):
        def upload(self, alloc_id, task, path, body, size, action, is_zip=False, hot=False, clean=False):
            if path == 'local':  # another run unpacked the same file first: upstream refuses to overwrite it
                self.files['local/same.txt'] = b'same'
                raise ApiError('%s failed: 500 Internal Server Error from http://node:5004' % action, status=500)
            super().upload(alloc_id, task, path, body, size, action, is_zip, hot, clean)
    node = Raced({})
    folder, plan, got = planned(node, tmp_path, {'same.txt': b'same'})
    entry = dict(bytes_sent=0, parts=0)
    with pytest.raises(ApiError) as error:
        folder.push(plan, got, hot=False, entry=entry)
    assert str(error.value).endswith(
        "; 'local' in allocation 8f3a21bc task 'app' holds 1 file(s) this push was to add ('same.txt'): another run "
        "may be pushing to it at the same time (unpacking refuses to overwrite a file), so run the task again once it "
        "is done")
    assert 'missing' not in entry
    # Run again: the file is there, with the same content.
    folder, plan, got = planned(node, tmp_path, {'same.txt': b'same'})
    assert not plan.has_changes
