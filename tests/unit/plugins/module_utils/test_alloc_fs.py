# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Allocation paths, Nomad's nanosecond times, walking a tree and bounded reads."""

from __future__ import annotations

import urllib.parse

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import (
    AllocFs,
    normalize_path,
    parse_rfc3339_ns,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
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
