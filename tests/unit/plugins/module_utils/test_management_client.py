# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import (
    ManagementClient,
    encode_task_path,
    task_path,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply
from ansible_collections.nomad_iis.management.tests.unit.utils.sandbox import inspect_state, running_sandbox

hypothesis = pytest.importorskip('hypothesis')
st = pytest.importorskip('hypothesis.strategies')


@pytest.mark.parametrize('path', ['/local', '\\local', 'C:\\x', 'c:x', '\\\\server\\share', 'local/../secrets',
                                  '..', 'local\\..\\x', '', '  ', 'local/a:b', 'local/a?b', 'local/a\x01'])
def test_paths_upstream_answers_with_500_are_refused_before_sending(path):
    with pytest.raises(OptionError):
        task_path(path)


@pytest.mark.parametrize('path, expected', [('local', 'local'), ('local\\web.config', 'local/web.config'),
                                            ('local//a/./b', 'local/a/b'), ('local/', 'local')])
def test_paths_are_normalised_to_slashes(path, expected):
    assert task_path(path) == expected


def test_paths_are_encoded_twice():
    assert encode_task_path('local/a+b %.txt') == 'local%252Fa%252Bb%2520%2525.txt'


def test_credentials_are_sent_as_upstream_expects_and_never_shown(server):
    server.reply(Reply(401))
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_key='k3y', api_token='t0ken', retries=0)
    with pytest.raises(ApiError) as failure:
        client.status('8f3a21bc-0000-0000-0000-000000000000', 'app', 'reading the status of task app')
    request = server.requests[-1]
    assert request.headers['X-Api-Key'] == 'k3y'
    assert request.headers['Authorization'] == 'Bearer t0ken'
    assert '401' in str(failure.value) and 'api_key / api_token' in str(failure.value)
    assert 'k3y' not in str(failure.value) and 't0ken' not in str(failure.value)


def test_bodies_over_the_limit_fail_before_sending(server):
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_key='k')
    with pytest.raises(OptionError, match='30000000'):
        client.upload('a', 'app', 'local/big.bin', b'', 30000001, 'uploading local/big.bin')
    assert not server.requests


# Names a Windows node can hold: no separators, no characters Windows refuses, not '.' or '..',
# and no trailing dot or space (Windows drops them).
NAME = st.text(st.characters(blacklist_categories=('Cs', 'Cc'), blacklist_characters='/\\<>:"|?*'),
               min_size=1, max_size=40).filter(lambda n: n not in ('.', '..') and not n.endswith(('.', ' '))
                                               and n.strip() == n)


@pytest.fixture(scope='module')
def sandbox():
    with running_sandbox('--api-key', 'unit-key') as info:
        # Raw uploads need the parent folder: unpack a zip that makes local/prop.
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            archive.writestr('prop/.keep', b'')
        client = ManagementClient(info['nodes'][0]['management_api_url'], api_key='unit-key')
        client.upload(info['allocs'][0]['id'], 'app', 'local', buffer.getvalue(), len(buffer.getvalue()),
                      'making local/prop', is_zip=True, hot=True)
        yield info


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(name=NAME, content=st.binary(max_size=64))
def test_any_file_name_arrives_intact(sandbox, name, content):
    alloc_id = sandbox['allocs'][0]['id']
    client = ManagementClient(sandbox['nodes'][0]['management_api_url'], api_key='unit-key', retries=0)
    path = task_path('local/prop/' + name)
    client.upload(alloc_id, 'app', path, content, len(content), 'uploading %r' % path, hot=True)
    files = inspect_state(sandbox, alloc_id)['tasks']['app']['files']
    assert files[path] == {'type': 'file', 'size': len(content), 'sha256': hashlib.sha256(content).hexdigest()}
    with client.open_download(alloc_id, 'app', path, 'downloading %r' % path) as response:
        assert response.read() == content
    client.delete(alloc_id, 'app', path, 'deleting %r' % path)
    assert path not in inspect_state(sandbox, alloc_id)['tasks']['app']['files']
