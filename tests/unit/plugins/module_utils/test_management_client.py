# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Management API client: paths validated and encoded twice, credentials, the body limit, and
per route the capability a 403 names and the hints of upstream's bare statuses."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import (
    CAPABILITIES,
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


ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'


@pytest.mark.parametrize('call, route, capability', [
    (lambda c: c.status(ALLOC_ID, 'app', 'reading'), '/api/v1/allocs/%s/app/status' % ALLOC_ID, 'Status'),
    (lambda c: c.pool_action(ALLOC_ID, 'app', 'stop', 'stopping'), '/api/v1/allocs/%s/app/stop' % ALLOC_ID,
     'AppPoolLifecycle'),
    (lambda c: c.debug('reading'), '/api/v1/debug', 'Debug'),
    (lambda c: c.delete(ALLOC_ID, 'app', 'local/a b', 'deleting'), '/api/v1/allocs/%s/app/fs/local%%252Fa%%2520b' % ALLOC_ID,
     'FilesystemAccess'),
    (lambda c: c.screenshot(ALLOC_ID, 'app', '/', 'shooting').close(), '/api/v1/allocs/%s/app/screenshot' % ALLOC_ID,
     'Screenshots'),
])
def test_each_route_names_the_capability_a_403_lacked(server, call, route, capability):
    server.reply(Reply(403))
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_token='t0ken', retries=0)
    with pytest.raises(ApiError) as failure:
        call(client)
    assert server.requests[-1].path_only == route
    assert str(failure.value).endswith('a token needs the %s capability)' % capability)
    assert capability in CAPABILITIES


def test_a_dump_needs_the_status_too_and_a_404_means_not_on_this_node(server):
    server.reply(Reply(403), Reply(404))
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_token='t0ken', retries=3)
    with pytest.raises(ApiError, match=r'needs the Status and ProcDump capabilities \(the status is read first\)'):
        client.procdump(ALLOC_ID, 'app', 'default', 'dumping', timeout=5)
    with pytest.raises(ApiError, match=r'404 Not Found from .* \(the allocation or task is not running on this node\)$'):
        client.procdump(ALLOC_ID, 'app', 'default', 'dumping', timeout=5)
    assert server.requests[-1].query == 'appPoolName=default'


@pytest.mark.parametrize('status, hint', [
    (404, 'the site has no http binding (the driver loads http://localhost:<port> of the first one), or the '
          'allocation or task is not running on this node'),
    (500, 'the driver could not start Chromium or load the page; on first use it runs "playwright install '
          '--with-deps chromium"'),
    (401, 'check api_key / api_token: missing, wrong or expired'),
])
def test_what_the_statuses_mean_for_a_screenshot(server, status, hint):
    server.reply(Reply(status))
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_token='header.payload.signature', retries=3)
    with pytest.raises(ApiError) as failure:
        client.screenshot(ALLOC_ID, 'app', '/', 'taking a screenshot')
    assert hint in str(failure.value) and 'header.payload.signature' not in str(failure.value)
    assert len(server.requests) == 1  # never retried: each request launches a browser


def test_without_credentials_a_403_says_so(server):
    server.reply(Reply(403))
    client = ManagementClient('http://127.0.0.1:%d' % server.port, retries=0)
    with pytest.raises(ApiError, match='no api_key or api_token is set'):
        client.status(ALLOC_ID, 'app', 'reading')


def test_clean_and_hot_uploads(server):
    server.reply(Reply(200), Reply(200))
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_key='k')
    client.upload(ALLOC_ID, 'app', 'local', b'PK', 2, 'emptying', is_zip=True, clean=True)
    client.upload(ALLOC_ID, 'app', 'local/x', b'ab', 2, 'patching', hot=True)
    first, second = server.requests
    assert (first.method, first.query, first.headers['Content-Type']) == ('PUT', 'clean=true', 'application/zip')
    assert (second.method, second.query, second.headers['Content-Type']) == ('PATCH', '', 'application/octet-stream')


# Names a Windows node can hold: no separators, no characters Windows refuses, not '.' or '..',
# no trailing dot or space (Windows drops them), and no device name (CON, LPT1.txt...).
DEVICES = {'CON', 'PRN', 'AUX', 'NUL'} | {'%s%d' % (port, n) for port in ('COM', 'LPT') for n in range(1, 10)}
NAME = st.text(st.characters(blacklist_categories=('Cs', 'Cc'), blacklist_characters='/\\<>:"|?*'),
               min_size=1, max_size=40).filter(lambda n: n not in ('.', '..') and not n.endswith(('.', ' '))
                                               and n.strip() == n and n.split('.', 1)[0].upper() not in DEVICES)


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
    with client.download(alloc_id, 'app', path, 'downloading %r' % path) as answer:
        assert answer.read() == content
    client.delete(alloc_id, 'app', path, 'deleting %r' % path)
    assert path not in inspect_state(sandbox, alloc_id)['tasks']['app']['files']
