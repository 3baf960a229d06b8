# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_local_dest: dest as a file or a directory, atomic writes that replace only what differs,
check mode that writes nothing, resumable partial files, safe names from a server."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import (
    FileState,
    LocalDest,
    LocalFile,
    PartialFile,
    attachment_filename,
    resume_offset,
    sha256_file,
)

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def sha(data):
    return hashlib.sha256(data).hexdigest()


# -- LocalFile.receive / replace ---------------------------------------------------------------

def test_receive_writes_the_chunks_through_a_temporary_file(tmp_path):
    dest = tmp_path / 'out.bin'
    chunks = [b'abc', b'', b'def' * 1000]
    written = LocalFile(str(dest)).receive(iter(chunks))
    assert (written.changed, written.sha256, written.size) == (True, sha(b''.join(chunks)), 3003)
    assert dest.read_bytes() == b''.join(chunks)
    assert os.listdir(tmp_path) == ['out.bin']


def test_receive_leaves_an_identical_file_alone(tmp_path):
    dest = tmp_path / 'app.log'
    dest.write_bytes(b'line\n')
    before = dest.stat().st_mtime_ns
    written = LocalFile(str(dest)).receive([b'line\n'])
    assert written.changed is False
    assert dest.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['app.log']


def test_receive_replaces_a_different_file_and_says_so_in_the_diff(tmp_path):
    dest = tmp_path / 'logs' / 'app.log'
    written = LocalFile(str(dest)).receive([b'new\n'])
    assert written.changed is True and written.size == 4
    assert written.diff['before'] == {} and written.diff['after'] == {'size': 4, 'sha256': sha(b'new\n')}
    assert dest.read_bytes() == b'new\n'
    written = LocalFile(str(dest)).receive([b'newer\n'])
    assert written.diff['before'] == {'size': 4, 'sha256': sha(b'new\n')}
    assert dest.read_bytes() == b'newer\n'


def test_check_mode_writes_nothing_not_even_the_parents(tmp_path):
    dest = tmp_path / 'logs' / 'app.log'
    assert LocalFile(str(dest), check_mode=True).receive([b'new\n']).changed is True
    assert not (tmp_path / 'logs').exists()
    dest.parent.mkdir()
    dest.write_bytes(b'one')
    assert LocalFile(str(dest), check_mode=True).receive([b'one']).changed is False
    assert LocalFile(str(dest), check_mode=True).receive([b'two']).changed is True
    assert dest.read_bytes() == b'one'
    assert os.listdir(str(dest.parent)) == ['app.log']


def test_a_custom_comparison_decides_sameness(tmp_path):
    dest = tmp_path / 'folder.zip'
    dest.write_bytes(b'zip one')
    assert LocalFile(str(dest)).receive([b'zip two'], same=lambda path: True).changed is False
    assert dest.read_bytes() == b'zip one'
    seen = []
    local = LocalFile(str(dest), check_mode=True)
    assert local.receive([b'zip two'], same=lambda path: seen.append(open(path, 'rb').read()) or False).changed
    assert seen == [b'zip two'] and dest.read_bytes() == b'zip one'
    assert os.listdir(str(tmp_path)) == ['folder.zip']


def test_replace_always_writes_and_can_check_before(tmp_path):
    dest = tmp_path / 'shot.png'
    dest.write_bytes(b'same')
    assert LocalFile(str(dest)).replace([b'same']).changed is True

    def refuse(writer):
        assert writer.head == b'bad'
        raise LocalFileError('not a PNG')

    with pytest.raises(LocalFileError):
        LocalFile(str(dest)).replace([b'bad'], check=refuse)
    assert dest.read_bytes() == b'same' and os.listdir(str(tmp_path)) == ['shot.png']


def test_a_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        LocalFile(str(tmp_path / 'f')).receive([b'x'])
    finally:
        os.umask(old)
    assert mode(tmp_path / 'f') == 0o640


def test_an_existing_file_keeps_its_mode(tmp_path):
    dest = tmp_path / 'f'
    dest.write_bytes(b'old')
    os.chmod(dest, 0o604)
    LocalFile(str(dest)).receive([b'new'])
    assert dest.read_bytes() == b'new' and mode(dest) == 0o604


def test_a_writer_not_committed_leaves_the_destination_alone(tmp_path):
    dest = tmp_path / 'f'
    dest.write_bytes(b'old')
    with LocalFile(str(dest)).writer() as writer:
        writer.write(b'new')
        assert (writer.sha256, writer.size) == (sha(b'new'), 3)
        assert os.path.exists(writer.tmp_path) and os.path.dirname(writer.tmp_path) == str(tmp_path)
    assert dest.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['f']


def test_a_failure_while_writing_removes_the_temporary_file(tmp_path):
    def chunks():
        yield b'part'
        raise RuntimeError('connection lost')

    with pytest.raises(RuntimeError):
        LocalFile(str(tmp_path / 'f')).receive(chunks())
    assert os.listdir(tmp_path) == []


def test_temporary_names_are_unique_per_writer(tmp_path):
    local = LocalFile(str(tmp_path / 'f'))
    with local.writer() as first, local.writer() as second:
        assert first.tmp_path != second.tmp_path


def test_parents_are_made(tmp_path):
    LocalFile(str(tmp_path / 'a' / 'b' / 'f')).receive([b'x'])
    assert (tmp_path / 'a' / 'b' / 'f').read_bytes() == b'x'


def test_a_file_in_the_way_of_the_parents(tmp_path):
    (tmp_path / 'file').write_bytes(b'x')
    with pytest.raises(LocalFileError, match=r"dest '.*file/sub/f': '.*file' is not a directory"):
        LocalFile(str(tmp_path / 'file' / 'sub' / 'f')).receive([b'x'])


def test_a_file_in_the_way_of_the_parents_is_named_when_reading_too(tmp_path):
    (tmp_path / 'file').write_bytes(b'x')
    local = LocalFile(str(tmp_path / 'file' / 'f'), check_mode=True)
    for read in (local.stat, local.state):
        with pytest.raises(LocalFileError) as error:
            read()
        assert str(error.value) == "dest %r: %r is not a directory" % (local.path, str(tmp_path / 'file'))


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_read_only_directory_is_one_message_naming_dest(tmp_path, read_only, check_mode):
    (tmp_path / 'ro').mkdir()
    read_only(tmp_path / 'ro')
    local = LocalFile(str(tmp_path / 'ro' / 'f'), check_mode=check_mode)
    if check_mode:  # nothing is written in check mode, so nothing fails
        assert local.receive([b'x']).changed
    else:
        with pytest.raises(LocalFileError) as error:
            local.receive([b'x'])
        assert str(error.value) == "dest %r: cannot write next to it: Permission denied" % local.path
    with pytest.raises(LocalFileError) as error:
        LocalFile(str(tmp_path / 'ro' / 'sub' / 'f')).receive([b'x'])
    assert str(error.value) == "dest %r: cannot create the directory %r: Permission denied" % (
        str(tmp_path / 'ro' / 'sub' / 'f'), str(tmp_path / 'ro' / 'sub'))
    assert os.listdir(str(tmp_path / 'ro')) == []


def test_state_and_holds(tmp_path):
    local = LocalFile(str(tmp_path / 'f'))
    assert local.state() is None and not local.holds(1, sha(b'x'))
    (tmp_path / 'f').write_bytes(b'x')
    assert local.state() == FileState(1, sha(b'x'))
    assert local.holds(1, sha(b'x')) and not local.holds(2, sha(b'x')) and not local.holds(1, sha(b'y'))
    with pytest.raises(LocalFileError, match='is a directory'):
        LocalFile(str(tmp_path)).state()


def test_sha256_file(tmp_path):
    (tmp_path / 'f').write_bytes(b'abc')
    assert sha256_file(str(tmp_path / 'f')) == sha(b'abc')
    with pytest.raises(LocalFileError, match="src '.*missing': cannot read it: No such file or directory"):
        sha256_file(str(tmp_path / 'missing'))


# -- LocalDest ---------------------------------------------------------------------------------

def test_a_file_dest_takes_the_file_under_its_own_name(tmp_path):
    dest = LocalDest(str(tmp_path / 'new' / 'shot.png')).require_directory_for(1)
    assert not dest.is_dir
    assert dest.path_for() == str(tmp_path / 'new' / 'shot.png')
    assert dest.file('server.png').path == str(tmp_path / 'new' / 'shot.png')


@pytest.mark.parametrize('suffix', ['/', ''])
def test_a_directory_dest_takes_the_given_name(tmp_path, suffix):
    target = tmp_path / 'shots'
    if not suffix:
        target.mkdir()  # an existing directory counts without the slash
    dest = LocalDest(str(target) + suffix).require_directory_for(2)
    assert dest.is_dir
    assert dest.path_for() == str(target) + suffix
    assert dest.file('a.png').path == os.path.join(str(target) + suffix, 'a.png')


def test_several_allocations_need_a_directory(tmp_path):
    with pytest.raises(OptionError, match=r"dest '.*one.png' must be a directory .* when 2 allocations match"):
        LocalDest(str(tmp_path / 'one.png')).require_directory_for(2)


def test_a_single_file_dest_refuses_directories(tmp_path):
    with pytest.raises(OptionError, match='is a directory'):
        LocalDest(str(tmp_path)).require_file()
    with pytest.raises(OptionError, match='is a directory'):
        LocalDest(str(tmp_path / 'new') + os.sep).require_file()


def test_a_dest_whose_directory_must_exist(tmp_path):
    with pytest.raises(OptionError, match="the directory '.*missing' does not exist"):
        LocalDest(str(tmp_path / 'missing' / 'profile'), make_parents=False).file()
    assert os.listdir(str(tmp_path)) == []
    assert LocalDest(str(tmp_path / 'profile'), make_parents=False).file().receive([b'x']).changed


def test_a_subdirectory_per_allocation(tmp_path):
    dest = LocalDest(str(tmp_path / 'out')).subdir(ALLOC_ID)
    assert dest.is_dir and dest.path == os.path.join(str(tmp_path / 'out'), ALLOC_ID)
    dest.file('web.config').receive([b'x'])
    assert (tmp_path / 'out' / ALLOC_ID / 'web.config').read_bytes() == b'x'


def test_make_directory_not_in_check_mode(tmp_path):
    LocalDest(str(tmp_path / 'a'), check_mode=True).make_directory()
    assert not (tmp_path / 'a').exists()
    LocalDest(str(tmp_path / 'a')).make_directory()
    assert (tmp_path / 'a').is_dir()


# -- PartialFile -------------------------------------------------------------------------------

def identity(size=10240, mod_time='2026-11-25T08:40:27.389001793Z', path='app/local/big.bin'):
    return {'alloc_id': ALLOC_ID, 'path': path, 'size': size, 'mod_time': mod_time}


def test_partial_files_sit_next_to_the_file(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'web.config')))
    assert partial.path == str(tmp_path / '.web.config.part')
    assert partial.sidecar == str(tmp_path / '.web.config.part.json')


def test_resume_keeps_the_bytes_of_the_same_unchanged_file():
    assert resume_offset(identity(), identity(), 4000, 10240) == 4000
    assert resume_offset(identity(), identity(), 10240, 10240) == 10240


@pytest.mark.parametrize('recorded, partial_size', [
    (None, 4000),  # a partial file without a record of what it is
    (identity(), None),  # a record, but no partial file
    (identity(mod_time='2026-11-25T08:40:28Z'), 4000),  # the remote file was modified since
    (identity(size=10239), 4000),  # it changed size
    (identity(path='app/local/other.bin'), 4000),  # another file to the same destination
    (dict(identity(), alloc_id='11112222-3333-4444-5555-666677778888'), 4000),  # another allocation
    (identity(), 10241),  # more bytes than the file has
])
def test_resume_restarts_from_zero(recorded, partial_size):
    assert resume_offset(recorded, identity(), partial_size, 10240) == 0


def test_prepare_records_what_the_bytes_belong_to_and_commit_moves_them(tmp_path):
    local = LocalFile(str(tmp_path / 'big.bin'))
    partial = PartialFile(local)
    assert partial.prepare(identity(), 10240) == 0
    assert partial.recorded() == identity() and partial.size() == 0
    with partial.append() as handle:
        handle.write(b'abc')
    assert partial.prepare(identity(), 10240) == 3
    assert partial.digest(3).hexdigest() == sha(b'abc')
    partial.commit()
    assert (tmp_path / 'big.bin').read_bytes() == b'abc'
    assert os.listdir(str(tmp_path)) == ['big.bin']


def test_a_read_only_directory_is_not_reported_as_a_failed_cleanup(tmp_path, read_only):
    local = LocalFile(str(tmp_path / 'big.bin'))
    partial = PartialFile(local)
    read_only(tmp_path)
    with pytest.raises(LocalFileError) as error:
        partial.prepare(identity(), 10240)
    assert str(error.value) == ("dest %r: cannot write the partial download '.big.bin.part' next to it: "
                                "Permission denied" % local.path)


def test_a_stale_partial_download_in_a_read_only_directory(tmp_path, read_only):
    local = LocalFile(str(tmp_path / 'big.bin'))
    partial = PartialFile(local)
    partial.prepare(identity(), 10240)
    read_only(tmp_path)
    with pytest.raises(LocalFileError) as error:
        partial.prepare(identity(size=99), 99)  # the remote file changed: the old bytes must go
    assert str(error.value) == ("dest %r: cannot remove the stale partial download '.big.bin.part' next to it: "
                                "Permission denied" % local.path)


def test_an_empty_partial_download_is_dropped_and_one_with_bytes_kept(tmp_path):
    partial = PartialFile(LocalFile(str(tmp_path / 'big.bin')))
    partial.prepare(identity(), 10240)
    partial.drop_if_empty()
    assert os.listdir(str(tmp_path)) == []
    partial.prepare(identity(), 10240)
    with partial.append() as handle:
        handle.write(b'abc')
    partial.drop_if_empty()
    assert sorted(os.listdir(str(tmp_path))) == ['.big.bin.part', '.big.bin.part.json']


def test_runs_fetching_into_one_file_take_turns(tmp_path):
    local = LocalFile(str(tmp_path / 'big.bin'))
    order = []

    def second_run():
        with PartialFile(local).exclusive(patience=10):
            order.append('second')
    with PartialFile(local).exclusive(patience=10) as partial:
        with open(partial.lock_path) as handle:
            assert handle.read() == str(os.getpid())
        waiter = threading.Thread(target=second_run)
        waiter.start()
        time.sleep(0.5)
        order.append('first')
    waiter.join(10)
    assert order == ['first', 'second']
    assert os.listdir(str(tmp_path)) == []  # the lock file goes with its last holder


def test_a_run_that_holds_the_file_without_progress_is_named(tmp_path):
    local = LocalFile(str(tmp_path / 'big.bin'))
    with PartialFile(local).exclusive(patience=10):
        started = time.monotonic()
        with pytest.raises(LocalFileError) as error:
            with PartialFile(local).exclusive(patience=1):
                pass
        assert 1 <= time.monotonic() - started < 5
    assert str(error.value) == (
        "dest %r: another run (process %d on this host) is fetching into it, and its partial download "
        "'.big.bin.part' has not changed for 1 seconds; run the task again once that run is done"
        % (local.path, os.getpid()))


# -- attachment_filename ----------------------------------------------------------------------

@pytest.mark.parametrize('header, name', [
    # As ASP.NET Core writes it (and the sandbox): a token plus filename*.
    ("attachment; filename=screenshot_%s_app_2026-11-25-08-59-51.png; "
     "filename*=UTF-8''screenshot_%s_app_2026-11-25-08-59-51.png" % (ALLOC_ID, ALLOC_ID),
     'screenshot_%s_app_2026-11-25-08-59-51.png' % ALLOC_ID),
    ('attachment; filename="my dump.dmp"', 'my dump.dmp'),
    ("attachment; filename=fallback.png; filename*=UTF-8''%C3%BCber.png", 'über.png'),
    ('attachment; filename="..\\\\..\\\\evil.png"', 'evil.png'),
    ('attachment; filename="../../etc/passwd"', 'passwd'),
    ('attachment; filename="a:b?.png"', 'a_b_.png'),
    ('attachment; filename=".."', None),
    ('attachment; filename=""', None),
    ('inline', None),
    ('', None),
])
def test_attachment_filename(header, name):
    assert attachment_filename({'Content-Disposition': header}) == name


def test_attachment_filename_without_the_header():
    assert attachment_filename({}) is None
    assert attachment_filename(None) is None
