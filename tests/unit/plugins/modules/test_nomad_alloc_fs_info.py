# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_alloc_fs_info: text or base64, reads that end inside a character, and the module against a
scripted Nomad (missing paths, directories, bounded reads, bad input refused before any request)."""

from __future__ import annotations

import base64
import urllib.parse

import pytest


from ansible_collections.nomad_iis.management.plugins.modules import nomad_alloc_fs_info
from ansible_collections.nomad_iis.management.plugins.modules.nomad_alloc_fs_info import decode_content
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
TEXT = 'caf\u00e9 \u20ac\n'.encode('utf-8')  # 'café €\n': 10 bytes, the euro sign at 6..8


@pytest.mark.parametrize('data, at_end, expected', [
    (b'hello', True, ('hello', 5, False)),
    (b'', True, ('', 0, False)),
    (TEXT, True, ('caf\u00e9 \u20ac\n', 10, False)),
    # Cut inside the euro sign before the end of the file: the text stops before it.
    (TEXT[:7], False, ('caf\u00e9 ', 6, False)),
    (TEXT[:8], False, ('caf\u00e9 ', 6, False)),
    # The same bytes at the end of the file are not UTF-8.
    (TEXT[:7], True, (base64.b64encode(TEXT[:7]).decode(), 7, True)),
    # Nothing but the start of a character: no progress as text, so base64.
    (TEXT[6:7], False, (base64.b64encode(TEXT[6:7]).decode(), 1, True)),
    (b'\x00\xff\xfe binary', False, (base64.b64encode(b'\x00\xff\xfe binary').decode(), 10, True)),
])
def test_decode_content(data, at_end, expected):
    assert decode_content(data, at_end) == expected


FILES = {
    'app/local/web.config': TEXT,
}


def route(request):
    query = urllib.parse.parse_qs(request.query)
    path = request.path_only
    if path == '/v1/allocations':
        return Reply(200, [{'ID': ALLOC_ID, 'TaskStates': {'app': {}}}])
    wanted = query.get('path', [''])[0]
    if path.startswith('/v1/client/fs/stat/'):
        if wanted in FILES:
            return Reply(200, {'Name': wanted.rsplit('/', 1)[1], 'IsDir': False, 'Size': len(FILES[wanted]),
                               'FileMode': '-rw-r--r--', 'ModTime': '2026-11-25T08:40:27Z', 'ContentType': 'text/plain'})
        if wanted == 'app/local':
            return Reply(200, {'Name': 'local', 'IsDir': True, 'Size': 4096, 'FileMode': 'drwxr-xr-x',
                               'ModTime': '2026-11-25T08:40:27Z', 'ContentType': 'application/octet-stream'})
        return Reply(404, b'stat /var/nomad/alloc/x/%s: no such file or directory' % wanted.encode())
    if path.startswith('/v1/client/fs/ls/'):
        return Reply(200, [{'Name': 'web.config', 'IsDir': False, 'Size': len(TEXT), 'FileMode': '-rw-r--r--',
                            'ModTime': '2026-11-25T08:40:27Z'}])
    if path.startswith('/v1/client/fs/readat/'):
        offset, limit = int(query['offset'][0]), int(query['limit'][0])
        return Reply(200, FILES[wanted][offset:offset + limit])
    return Reply(404, b'')


@pytest.fixture
def nomad(server):
    server.route = route
    return server


def test_missing_path_is_not_an_error(nomad, run_module):
    result = run_module(nomad_alloc_fs_info, dict(nomad_addr=nomad.url(), alloc_id=ALLOC_ID[:6], path='app/local/nothing'))
    assert result['changed'] is False and result['exists'] is False and 'stat' not in result
    assert result['alloc_id'] == ALLOC_ID


def test_directory_is_listed(nomad, run_module):
    result = run_module(nomad_alloc_fs_info, dict(nomad_addr=nomad.url(), alloc_id=ALLOC_ID, path='/app/local/'))
    assert result['path'] == 'app/local' and result['stat']['is_dir'] is True
    assert [f['path'] for f in result['files']] == ['app/local/web.config']


def test_bounded_read_leaves_a_cut_character_for_the_next_read(nomad, run_module):
    result = run_module(nomad_alloc_fs_info, dict(nomad_addr=nomad.url(), alloc_id=ALLOC_ID, path='app/local/web.config', read_bytes=8))
    assert (result['content'], result['content_base64'], result['bytes_read'], result['next_offset'], result['eof']) == (
        'caf\u00e9 ', False, 6, 6, False)
    result = run_module(nomad_alloc_fs_info, dict(nomad_addr=nomad.url(), alloc_id=ALLOC_ID, path='app/local/web.config',
                                                  read_bytes=100, offset=6))
    assert (result['content'], result['bytes_read'], result['next_offset'], result['eof']) == ('\u20ac\n', 4, 10, True)
    assert 'files' not in result


def test_reading_a_directory_is_refused(nomad, run_module):
    result = run_module(nomad_alloc_fs_info, dict(nomad_addr=nomad.url(), alloc_id=ALLOC_ID, path='app/local', read_bytes=8))
    assert result['failed'] is True
    assert result['msg'] == "read_bytes needs a file, but 'app/local' in allocation %s is a directory" % ALLOC_ID


@pytest.mark.parametrize('args, message', [
    (dict(depth=2), 'depth is only used with recurse=true'),
    (dict(depth=0, recurse=True), 'depth must be 1 or more, not 0'),
    (dict(read_bytes=0), 'read_bytes must be 1 or more, not 0'),
    (dict(read_bytes=1, offset=-1), 'offset must be 0 or more, not -1'),
    (dict(path='app/../../etc'), "path 'app/../../etc' leads out of the allocation directory"),
    (dict(alloc_id='8'), "alloc_id '8' is too short"),
])
def test_bad_input_is_refused_before_any_request(nomad, run_module, args, message):
    result = run_module(nomad_alloc_fs_info, dict(dict(nomad_addr=nomad.url(), alloc_id=ALLOC_ID), **args))
    assert result['failed'] is True and result['msg'].startswith(message)
    assert nomad.requests == []
