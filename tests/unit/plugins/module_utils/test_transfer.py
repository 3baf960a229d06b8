# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_transfer: the delta-upload decision (the sync plan, what the manifest vouches for, verification
by content), manifests, local trees from a directory or a zip, zip parts under the limit (eager or
written one ahead of the sender, no temporary file left behind, stored when they do not deflate),
and unpacking a downloaded folder into a local one."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import zipfile

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalDest
from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (
    MANIFEST_VERSION,
    PartStore,
    ZipParts,
    compress_type,
    local_tree,
    local_zip_tree,
    manifest_body,
    manifest_path,
    once,
    parse_manifest,
    plan_sync,
    resolve_verified,
    unpack_into,
    zip_listing,
)

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


def test_kept_parts_are_written_once_for_several_senders_at_once(tmp_path, monkeypatch):
    files = make_files(tmp_path)
    work = tmp_path / 'parts'
    work.mkdir()
    written = []
    original = ZipParts._write  # pylint: disable=protected-access

    def counting(self, names):
        written.append(tuple(names))
        return original(self, names)
    monkeypatch.setattr(ZipParts, '_write', counting)
    with ZipParts(files, limit=LIMIT, tmpdir=str(work), lazy=True, keep=True) as parts:
        seen = {}

        def send(sender):
            seen[sender] = [(path, entries([path])) for path in parts]
        threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(tuple(p for p, dummy in got) for got in seen.values())) == 1  # the same parts
        assert len(seen[0]) == len(parts) > 2
        assert sorted(written) == sorted(set(written)) and len(written) == len(parts)  # each written once
        assert len(os.listdir(work)) == len(parts)  # kept until close
        contents = {}
        for dummy, found in seen[0]:
            contents.update(found)
        assert {name: data for name, (dummy, data) in contents.items()} == {n: f['data'] for n, f in files.items()}
    assert os.listdir(work) == []


def test_no_files(tmp_path):
    with ZipParts({}, tmpdir=str(tmp_path), lazy=True) as parts:
        assert not list(parts)
    with ZipParts({}, tmpdir=str(tmp_path)) as parts:
        assert not list(parts)
    assert os.listdir(tmp_path) == []


# -- plan_sync: the delta-upload decision ----------------------------------------------------------

def sha(data):
    return hashlib.sha256(data).hexdigest()


def local(**files):
    return dict((name.replace('__', '/'), {'size': len(data), 'sha256': sha(data)}) for name, data in files.items())


def remote(**files):
    return dict((name.replace('__', '/'), {'size': len(data), 'mtime': 't-' + name}) for name, data in files.items())


def vouched(remote_files, **contents):
    """A manifest entry for each named remote file, as written right after its upload."""
    return dict((name, {'size': remote_files[name]['size'], 'sha256': sha(data), 'mtime': remote_files[name]['mtime']})
                for name, data in contents.items())


def test_missing_files_are_added_and_other_sizes_changed():
    plan = plan_sync(local(a=b'aa', b=b'bbb'), remote(b=b'b'), {}, delete=False)
    assert (plan.added, plan.changed, plan.unchanged, plan.to_verify, plan.removed) == (['a'], ['b'], [], [], [])
    assert plan.to_send == ['a', 'b'] and plan.has_changes


def test_the_manifest_vouches_for_files_whose_size_and_time_still_match():
    there = remote(same=b'1234', edited=b'abcd')
    manifest = vouched(there, same=b'1234', edited=b'abcd')
    plan = plan_sync(local(same=b'1234', edited=b'ABCD'), there, manifest, delete=False)
    assert (plan.unchanged, plan.changed, plan.to_verify) == (['same'], ['edited'], [])
    assert not plan.added and plan.has_changes


def test_a_file_touched_since_the_manifest_is_verified_by_content():
    there = remote(a=b'1234')
    manifest = vouched(there, a=b'1234')
    there['a']['mtime'] = 'touched'
    plan = plan_sync(local(a=b'1234'), there, manifest, delete=False)
    assert plan.to_verify == ['a'] and not plan.has_changes
    resolve_verified(plan, local(a=b'1234'), {'a': sha(b'1234')})
    assert (plan.unchanged, plan.changed, plan.to_verify) == (['a'], [], [])


def test_verification_by_content_finds_a_change_of_the_same_size():
    plan = plan_sync(local(a=b'1234', b=b'xyzw'), remote(a=b'0000', b=b'xyzw'), {}, delete=False)
    assert plan.to_verify == ['a', 'b']
    resolve_verified(plan, local(a=b'1234', b=b'xyzw'), {'a': sha(b'0000'), 'b': sha(b'xyzw')})
    assert (plan.changed, plan.unchanged) == (['a'], ['b']) and plan.has_changes


def test_delete_removes_what_src_does_not_hold():
    plan = plan_sync(local(a=b'a'), remote(a=b'a', gone=b'g', sub__deep=b'd'), {}, delete=True)
    assert plan.removed == ['gone', 'sub/deep']
    assert plan_sync(local(a=b'a'), remote(a=b'a', gone=b'g'), {}, delete=False).removed == []


def test_an_unchanged_folder_has_nothing_to_do():
    there = remote(a=b'a', b__c=b'bc')
    plan = plan_sync(local(a=b'a', b__c=b'bc'), there, vouched(there, a=b'a', **{'b/c': b'bc'}), delete=True)
    assert not plan.has_changes and plan.to_send == [] and plan.unchanged == ['a', 'b/c']


# -- Manifests ------------------------------------------------------------------------------------

def test_manifests_live_in_the_private_dir_one_per_folder():
    assert manifest_path('local').startswith('private/.nomad_iis_fs/') and manifest_path('local').endswith('.json')
    assert manifest_path('local') != manifest_path('local/api')


def test_a_manifest_round_trip():
    files = {'a': {'size': 1, 'sha256': sha(b'a'), 'mtime': 't'}}
    assert parse_manifest(manifest_body('local', files), 'local') == files


@pytest.mark.parametrize('data', [
    b'not json', b'[]', b'{}', None,
    json.dumps({'version': MANIFEST_VERSION + 1, 'path': 'local', 'files': {'a': {}}}).encode(),
    json.dumps({'version': MANIFEST_VERSION, 'path': 'other', 'files': {'a': {}}}).encode(),
    json.dumps({'version': MANIFEST_VERSION, 'path': 'local', 'files': ['a']}).encode(),
])
def test_a_manifest_of_another_version_or_folder_vouches_for_nothing(data):
    assert parse_manifest(data, 'local') == {}


# -- Local trees ------------------------------------------------------------------------------------

def test_local_tree(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'a.txt').write_bytes(b'a')
    (tmp_path / 'sub' / 'b.txt').write_bytes(b'bb')
    tree = local_tree(str(tmp_path))
    assert sorted(tree) == ['a.txt', 'sub/b.txt']
    assert tree['sub/b.txt'] == {'size': 2, 'sha256': sha(b'bb'), 'source': str(tmp_path / 'sub' / 'b.txt')}


def test_local_zip_tree(tmp_path):
    archive = tmp_path / 'app.zip'
    with zipfile.ZipFile(str(archive), 'w') as handle:
        handle.writestr('dir/', b'')
        handle.writestr('dir/a.txt', b'aaa')
        handle.writestr('b.txt', b'b')
    tree = local_zip_tree(str(archive))
    assert sorted(tree) == ['b.txt', 'dir/a.txt']
    assert tree['dir/a.txt'] == {'size': 3, 'sha256': sha(b'aaa'), 'source': (str(archive), 'dir/a.txt')}


@pytest.mark.parametrize('name', ['../evil.txt', '/etc/passwd', 'a/../../b'])
def test_a_zip_whose_entries_escape_is_refused(tmp_path, name):
    archive = tmp_path / 'evil.zip'
    with zipfile.ZipFile(str(archive), 'w') as handle:
        handle.writestr(name, b'x')
    with pytest.raises(OptionError, match='escapes its folder'):
        local_zip_tree(str(archive))


def test_a_broken_zip(tmp_path):
    (tmp_path / 'bad.zip').write_bytes(b'PK\x03\x04 not really')
    with pytest.raises(LocalFileError, match='cannot read the zip'):
        local_zip_tree(str(tmp_path / 'bad.zip'))


# -- Unpacking a downloaded folder ------------------------------------------------------------------

def folder_zip(path, files):
    with zipfile.ZipFile(str(path), 'w') as handle:
        for name, data in files.items():
            handle.writestr(name, data)
    return str(path)


def test_unpack_writes_what_differs_and_deletes_extras(tmp_path):
    archive = folder_zip(tmp_path / 'f.zip', {'a.txt': b'a', 'sub/b.txt': b'b', '../escape.txt': b'x'})
    dest = tmp_path / 'out'
    dest.mkdir()
    (dest / 'a.txt').write_bytes(b'a')
    (dest / 'stray.txt').write_bytes(b's')
    assert unpack_into(archive, LocalDest(str(dest), check_mode=True), delete=True) == (['sub/b.txt'], ['stray.txt'])
    assert sorted(os.listdir(str(dest))) == ['a.txt', 'stray.txt']
    assert unpack_into(archive, LocalDest(str(dest)), delete=True) == (['sub/b.txt'], ['stray.txt'])
    assert sorted(os.listdir(str(dest))) == ['a.txt', 'sub'] and (dest / 'sub' / 'b.txt').read_bytes() == b'b'
    assert not (tmp_path / 'escape.txt').exists()
    assert unpack_into(archive, LocalDest(str(dest)), delete=True) == ([], [])


def test_zip_listings_compare_contents_not_bytes(tmp_path):
    one = folder_zip(tmp_path / 'one.zip', {'a': b'1', 'b': b'2'})
    two = tmp_path / 'two.zip'
    with zipfile.ZipFile(str(two), 'w', compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr(zipfile.ZipInfo('a', date_time=(2001, 1, 1, 0, 0, 0)), b'1')
        handle.writestr('b', b'2')
    assert zip_listing(one) == zip_listing(str(two))
    assert zip_listing(str(tmp_path / 'missing.zip')) is None


def test_a_part_store_shares_parts_per_set_of_files(tmp_path):
    files = make_files(tmp_path, count=6)
    same = dict((name, dict(info, sha256='s-' + name)) for name, info in files.items())
    store = PartStore(shared=True)
    first = store.parts_for(same)
    assert store.parts_for(dict(same)) is first
    fewer = dict(same)
    fewer.pop(sorted(fewer)[0])
    assert store.parts_for(fewer) is not first
    paths = list(first)
    assert all(os.path.exists(path) for path in paths)
    store.close()
    assert not any(os.path.exists(path) for path in paths)


def test_once():
    calls = []
    value = once(lambda: calls.append(1) or {'a': 1})
    threads = [threading.Thread(target=value) for dummy in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert value() == {'a': 1} and calls == [1]
