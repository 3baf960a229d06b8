# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Nomad client: the token, namespace and region it sends, its hints, framed streams."""

from __future__ import annotations

import urllib.parse

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.module_utils._stream_frames import StreamFrame

from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

TOKEN = '5e1b7c2a-0d7e-4f4e-9a57-2f6b0c1d9e33'
ACTION = "reading metadata of node 'abc'"


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(server, sleeps):
    return NomadClient(addr=server.url(), token=TOKEN, sleep=sleeps)


def query(request):
    return urllib.parse.parse_qs(request.query)


def test_token_namespace_and_region_are_sent(server, sleeps):
    client = NomadClient(addr=server.url(), token=TOKEN, namespace='web', region='europe', sleep=sleeps)
    server.reply(Reply(200, {'Meta': {'a': 'b'}}))
    assert client.get_json('/v1/client/metadata', action=ACTION, params=dict(node_id='abc')) == {'Meta': {'a': 'b'}}
    request = server.requests[0]
    assert request.method == 'GET' and request.path_only == '/v1/client/metadata'
    assert request.headers['X-Nomad-Token'] == TOKEN
    assert query(request) == {'namespace': ['web'], 'region': ['europe'], 'node_id': ['abc']}
    assert request.headers['User-Agent'] == 'ansible-collection-nomad_iis.management'


def test_no_token_no_header_and_default_namespace(server):
    NomadClient(addr=server.url()).get_json('/v1/agent/self', action='reading the agent')
    assert 'X-Nomad-Token' not in server.requests[0].headers
    assert query(server.requests[0]) == {'namespace': ['default']}


def test_request_params_override_or_drop_defaults(client, server):
    client.get_json('/v1/allocations', action='listing', params=dict(namespace='*', prefix='8f'))
    client.get_json('/v1/agent/servers', action='listing', params=dict(namespace=None, address=['a:1', 'b:2']))
    assert query(server.requests[0]) == {'namespace': ['*'], 'prefix': ['8f']}
    assert query(server.requests[1]) == {'address': ['a:1', 'b:2']}


@pytest.mark.parametrize('options, message', [
    (dict(timeout=0), 'timeout must be a positive number of seconds, not 0'),
    (dict(retries=-1), 'retries must be 0 or more, not -1'),
])
def test_bad_timeout_and_retries(options, message):
    with pytest.raises(OptionError, match=message):
        NomadClient(**options)


def test_from_params_uses_the_module_options(server):
    client = NomadClient.from_params(dict(nomad_addr=server.url(), nomad_token=TOKEN, nomad_namespace='ns',
                                          nomad_region=None, nomad_validate_certs=True, timeout=7, retries=1))
    assert (client.base_url, client.namespace, client.region, client.timeout, client.retries) == (
        server.url(), 'ns', None, 7, 1)


def test_403_message(client, server):
    server.reply(Reply(403, b'Permission denied', headers={'Content-Type': 'text/plain; charset=utf-8'}))
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/client/metadata', action=ACTION)
    assert str(error.value) == ("reading metadata of node 'abc' failed: 403 Permission denied from %s "
                                "(check nomad_token)" % server.url())
    assert (error.value.status, error.value.body, error.value.method) == (403, 'Permission denied', 'GET')
    assert error.value.url == server.url() + '/v1/client/metadata?namespace=default'


def test_403_without_a_token_says_so(server):
    server.reply(Reply(403, b'Permission denied'))
    with pytest.raises(ApiError, match='403 Permission denied from .* [(]check nomad_token: none is set, neither'):
        NomadClient(addr=server.url()).get_json('/v1/client/metadata', action=ACTION)


@pytest.mark.parametrize('reply', [
    Reply(403, ('ACL token %s not found' % TOKEN).encode()),
    Reply(500, ('{"token": "%s"}' % TOKEN).encode()),
    Reply(200, ('not json %s' % TOKEN).encode()),
])
def test_the_token_never_appears_in_errors(client, server, reply):
    server.reply(reply)
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/client/metadata', action=ACTION)
    for text in (str(error.value), repr(error.value), str(error.value.body), str(error.value.url)):
        assert TOKEN not in text
    assert '********' in str(error.value)


def test_stream_frames(client, server):
    body = (b'{"Offset":5,"Data":"aGVsbG8=","File":"alloc/logs/app.stdout.0"}{}'
            b'{"Offset":11,"Data":"IHdvcmxk","File":"alloc/logs/app.stdout.0"}{}'
            b'{"File":"alloc/logs/app.stdout.0","FileEvent":"file deleted"}')
    server.reply(Reply(200, chunks=[body[i:i + 7] for i in range(0, len(body), 7)], pause=0.001))
    frames = list(client.stream_frames('/v1/client/fs/stream/x', action='streaming x', params=dict(path='alloc/logs')))
    assert frames == [
        StreamFrame(5, b'hello', 'alloc/logs/app.stdout.0', None),
        StreamFrame(11, b' world', 'alloc/logs/app.stdout.0', None),
        StreamFrame(0, b'', 'alloc/logs/app.stdout.0', 'file deleted'),
    ]


def test_stream_cut_in_the_middle_of_a_frame(client, server):
    server.reply(Reply(200, chunks=[b'{"Offset":5,"Data":"aGVs']))
    with pytest.raises(Exception, match='stream ended in the middle of a frame'):
        list(client.stream_frames('/v1/client/fs/stream/x', action='streaming x'))
