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

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NotFound, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import (
    CAPABILITIES,
    ManagementClient,
    encode_task_path,
    folder_download_problem,
    task_path,
    windows_key,
    windows_name_problem,
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


@pytest.mark.parametrize('path, problem', [
    ('local/readme.', "the name 'readme.' has a trailing dot or space, which Windows drops"),
    ('local/web.config ', "the name 'web.config ' has a trailing dot or space"),
    ('local/sub./x', "the name 'sub.' has a trailing dot or space"),
    ('local/CON', "the name 'CON' has a device name on Windows"),
    ('local/con.txt', "the name 'con.txt' has a device name on Windows"),
    ('local/LPT9.tar.gz', "the name 'LPT9.tar.gz' has a device name on Windows"),
    ('local/AUX .log', "the name 'AUX .log' has a device name on Windows"),
    ('local/' + 'x' * 256, 'has more than the 255 characters Windows allows in a name'),
    ('local/a:b', "the name 'a:b' has a character Windows does not allow in file names"),
])
def test_names_windows_would_refuse_or_store_under_another_name_are_refused(path, problem):
    with pytest.raises(OptionError) as error:
        task_path(path)
    assert str(error.value).startswith('path %r: ' % path) and problem in str(error.value)


@pytest.mark.parametrize('name', ['CONFIG', 'con-x.txt', 'COM0', 'LPT10', '.hidden', 'a.b', ' lead', 'x' * 255,
                                  '\U0001f600' * 127])
def test_names_windows_stores_as_they_are(name):
    assert windows_name_problem(name) is None and task_path('local/' + name) == 'local/' + name


def test_windows_compares_names_case_insensitively():
    assert windows_key('local/Index.HTML') == windows_key('LOCAL/index.html')
    assert windows_key('straße') != windows_key('STRASSE')  # NTFS upper-cases character by character
    assert windows_key('Straße/ǆ/ﬁle') == 'STRAßE/Ǆ/ﬁLE'  # the characters around them still change


@pytest.mark.parametrize('path, refused', [('local', False), ('local/sub dir', False), ('local/dösiß', True),
                                           ('local/\u65e5\u672c/x', False), ('\u65e5\u672c', True)])
def test_folders_upstream_cannot_download(path, refused):
    assert bool(folder_download_problem(path)) == refused


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


@pytest.mark.parametrize('kwargs, option, header', [
    (dict(api_key='k3y-s3cret\n'), 'api_key (or NOMAD_IIS_API_KEY)', 'X-Api-Key'),
    (dict(api_key='k3y\x00s3cret'), 'api_key (or NOMAD_IIS_API_KEY)', 'X-Api-Key'),
    (dict(api_token='eyJ.s3cret.sig\n'), 'api_token (or NOMAD_IIS_API_TOKEN)', 'Authorization'),
    (dict(api_token='eyJ.s3cr\u00eat'), 'api_token (or NOMAD_IIS_API_TOKEN)', 'Authorization'),
])
def test_credentials_a_header_cannot_carry_are_refused_before_sending(server, kwargs, option, header):
    url = 'http://127.0.0.1:%d' % server.port
    for check in (lambda: ManagementClient(url, **kwargs), lambda: ManagementClient.check_params(dict(kwargs))):
        with pytest.raises(OptionError) as error:
            check()
        assert str(error.value).startswith('%s cannot be sent as the HTTP header %s: ' % (option, header))
        assert 's3c' not in str(error.value)
    assert not server.requests


def test_an_api_url_with_credentials_is_refused_early_without_quoting_them():
    with pytest.raises(OptionError) as error:
        ManagementClient.check_params(dict(api_url='http://admin:hunter2@10.0.0.5:5004'))
    assert str(error.value).startswith("api_url 'http://********@10.0.0.5:5004' must not contain credentials")
    ManagementClient.check_params(dict(api_url='http://10.0.0.5:5004', api_key='k', api_token='t'))


def test_a_404_from_another_service_points_at_api_url(server):
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_key='k', retries=0)
    server.reply(Reply(404, b'404 page not found\n'), Reply(404, b'<html>Not Found</html>'), Reply(404))
    for call in (lambda: client.status(ALLOC_ID, 'app', 'reading the status'),
                 lambda: client.screenshot(ALLOC_ID, 'app', '/', 'taking a screenshot').close()):
        with pytest.raises(NotFound) as error:
            call()
        assert str(error.value).endswith(
            "(the answer is not the Management API's, whose 404 has an empty body: check api_url (or the node "
            "attribute driver.iis.management_api_port), which may point at another service)")
    # Upstream's own 404 (empty): the usual causes, and api_url among them.
    with pytest.raises(NotFound, match=r'unknown allocation or task on this node .*or api_url \(or the node '
                                       r'attribute driver.iis.management_api_port\) pointing at another service'):
        client.status(ALLOC_ID, 'app', 'reading the status')


def test_a_413_for_a_body_under_the_limit_blames_what_is_in_between(server):
    client = ManagementClient('http://127.0.0.1:%d' % server.port, api_key='k', retries=0)
    server.reply(Reply(413, b'<html>413 Request Entity Too Large</html>'))
    with pytest.raises(ApiError) as error:
        client.upload(ALLOC_ID, 'app', 'local', b'x' * 150, 150, 'uploading to local', is_zip=True)
    message = str(error.value)
    assert ('(the body of 150 bytes is under the Management API limit of 30000000 bytes, so something between here '
            "and the node (a proxy) or the node's own configuration has a lower limit: raise it)") in message
    assert 'over the Management API limit' not in message


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


# Names a Windows node can hold: no separators, not '.' or '..', and nothing windows_name_problem
# refuses (characters Windows refuses, a trailing dot or space, device names).
NAME = st.text(st.characters(blacklist_categories=('Cs', 'Cc'), blacklist_characters='/\\<>:"|?*'),
               min_size=1, max_size=40).filter(lambda n: n not in ('.', '..') and windows_name_problem(n) is None
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
    with client.download(alloc_id, 'app', path, 'downloading %r' % path) as answer:
        assert answer.read() == content
    client.delete(alloc_id, 'app', path, 'deleting %r' % path)
    assert path not in inspect_state(sandbox, alloc_id)['tasks']['app']['files']
