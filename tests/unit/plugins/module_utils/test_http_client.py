# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP layer (through the Nomad client): URLs and quoted path arguments, error messages and
their hints, NotFound, retries, per-request timeouts, answers read in chunks as they arrive."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import itertools
import os
import threading
import time
import urllib.parse

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    ApiError,
    ApiResponseError,
    NotFound,
    OptionError,
)
from ansible_collections.nomad_iis.management.plugins.module_utils import _http_client
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import (
    fill_path,
    header_value_problem,
    join_host_port,
    url_credentials,
    without_credentials,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalFile
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient

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


def test_booleans_in_query_strings(client, server):
    client.get_json('/v1/client/fs/logs/x', action='reading logs', params=dict(follow=False, plain=True))
    assert query(server.requests[0])['follow'] == ['false'] and query(server.requests[0])['plain'] == ['true']


def test_json_body_is_posted(client, server):
    client.request_json('POST', '/v1/client/metadata', action='setting metadata', body={'Meta': {'rack': None}})
    request = server.requests[0]
    assert request.method == 'POST' and request.body == b'{"Meta": {"rack": null}}'
    assert request.headers['Content-Type'] == 'application/json'


def test_empty_200_answer_is_none(client, server):
    server.reply(Reply(200, b''))
    assert client.request_json('PUT', '/v1/agent/force-leave', action='forcing node x to leave') is None


def test_address_with_a_path_prefix(server):
    client = NomadClient(addr=server.url() + '/nomad/')
    client.get_json('/v1/agent/self', action='reading the agent')
    assert server.requests[0].path_only == '/nomad/v1/agent/self'


@pytest.mark.parametrize('addr, message', [
    ('127.0.0.1:4646', "nomad_addr '127.0.0.1:4646' is not an http:// or https:// URL with a host name"),
    ('unix:///var/run/nomad.sock', "nomad_addr 'unix:///var/run/nomad.sock' is not an http:// or https:// URL"),
    ('http://:4646', "nomad_addr 'http://:4646' is not an http:// or https:// URL with a host name"),
    ('http://host:99999', "nomad_addr 'http://host:99999' is not a valid URL"),
    ('http://host:4646/?pretty=1', "nomad_addr 'http://host:4646/?pretty=1' must not have a query string"),
    ('http://user:hunter2@host:4646', "nomad_addr 'http://********@host:4646' must not contain credentials"),
    ('ftp://user:hunter2@host:4646', "nomad_addr 'ftp://********@host:4646' must not contain credentials"),
    ('http://user:hunter2@host:99999', "nomad_addr 'http://********@host:99999' is not a valid URL"),
])
def test_bad_addresses(addr, message):
    with pytest.raises(OptionError) as error:
        NomadClient(addr=addr)
    assert str(error.value).startswith(message)
    assert 'hunter2' not in str(error.value)


@pytest.mark.parametrize('url, secrets, shown', [
    ('http://user:hunter2@host:4646', ['hunter2'], 'http://********@host:4646'),
    ('https://c0ffee-token@host', ['c0ffee-token'], 'https://********@host'),
    ('http://user:p@ss:w0rd@host/x', ['p@ss:w0rd'], 'http://********@host/x'),
    ('http://host:4646', [], 'http://host:4646'),
    ('http://host/a@b', [], 'http://host/a@b'),
])
def test_credentials_in_urls_are_found_and_hidden(url, secrets, shown):
    assert url_credentials(url) == secrets
    assert without_credentials(url) == shown


@pytest.mark.parametrize('token, problem', [
    (TOKEN + '\n', 'it ends with a line break, as a value read from a file or written as a YAML block scalar does'),
    (TOKEN + '\r\n', 'it ends with a line break'),
    (TOKEN[:8] + '\n' + TOKEN[8:], 'it holds a line break'),
    (TOKEN + '\x00', 'it holds a control character'),
    (TOKEN[:8] + '\x1b' + TOKEN[8:], 'it holds a control character'),
    (TOKEN + '\u00e9', 'it holds a character outside printable ASCII'),
    (' ' + TOKEN, 'it starts or ends with white space'),
])
def test_a_token_a_header_cannot_carry_is_refused_without_quoting_it(server, token, problem):
    with pytest.raises(OptionError) as error:
        NomadClient(addr=server.url(), token=token)
    message = str(error.value)
    assert message.startswith('nomad_token (or NOMAD_TOKEN) cannot be sent as the HTTP header X-Nomad-Token: '
                              + problem)
    assert message.endswith('its value is not shown')
    assert TOKEN[:8] not in message and TOKEN[-8:] not in message
    assert not server.requests


@pytest.mark.parametrize('value', ['plain-token', 'with inner space', 'tab\tinside', 'Bearer eyJ.abc-_.x'])
def test_header_values_http_can_carry(value):
    assert header_value_problem(value) is None


def test_404_message_quotes_the_body(client, server):
    server.reply(Reply(404, b'Unknown allocation "8f3a21bc-0000-0000-0000-000000000000"'))
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/client/fs/ls/8f3a21bc-0000-0000-0000-000000000000', action="listing 'local' of allocation 8f3a21bc")
    assert str(error.value) == ("listing 'local' of allocation 8f3a21bc failed: 404 Unknown allocation "
                                '"8f3a21bc-0000-0000-0000-000000000000" from %s' % server.url())


def test_500_message_and_no_retry(client, server):
    server.reply(Reply(500, b'alloc lookup failed: index error: UUID must be 36 characters\n'))
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/allocation/8f3a', action="reading allocation '8f3a'")
    assert str(error.value) == ("reading allocation '8f3a' failed: 500 alloc lookup failed: index error: "
                                'UUID must be 36 characters from %s' % server.url())
    assert len(server.requests) == 1


def test_empty_error_body_uses_the_reason_phrase(client, server):
    server.reply(Reply(404, b''))
    with pytest.raises(ApiError, match='failed: 404 Not Found from'):
        client.get_json('/v1/nope', action='reading nothing')


def test_long_error_bodies_are_cut(client, server):
    server.reply(Reply(500, b'<html>' + b'x' * 5000 + b'</html>'))
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/x', action='reading x')
    assert len(str(error.value)) < 700 and '...' in str(error.value)


def test_redirects_are_not_followed(client, server, make_server):
    other = make_server()
    server.reply(Reply(307, b'', headers={'Location': other.url() + '/elsewhere'}))
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/agent/self', action='reading the agent')
    assert error.value.status == 307
    assert 'check nomad_addr: an API does not redirect' in str(error.value)
    assert other.requests == [], 'the token must not travel to another host'


def test_unreachable_address(sleeps, unused_port):
    client = NomadClient(addr='http://127.0.0.1:%d' % unused_port, token=TOKEN, sleep=sleeps)
    with pytest.raises(ApiConnectionError) as error:
        client.get_json('/v1/client/metadata', action=ACTION)
    assert str(error.value) == ("reading metadata of node 'abc' failed: cannot connect to http://127.0.0.1:%d: "
                                'connection refused (check nomad_addr) (gave up after 4 attempts)' % unused_port)
    assert error.value.status is None and error.value.attempts == 4
    assert sleeps == [1, 2, 4]


def test_unresolvable_host(sleeps):
    client = NomadClient(addr='http://nomad.invalid:4646', retries=0, sleep=sleeps)
    with pytest.raises(ApiConnectionError) as error:
        client.get_json('/v1/agent/self', action='reading the agent')
    assert str(error.value).startswith('reading the agent failed: cannot resolve the host of http://nomad.invalid:4646: ')
    assert str(error.value).endswith('(check nomad_addr)')


@pytest.mark.parametrize('timeout', [2 ** 31, 10 ** 30])
def test_a_timeout_no_clock_can_hold_is_refused(timeout):
    with pytest.raises(OptionError) as error:
        NomadClient(timeout=timeout)
    assert str(error.value) == 'timeout must be at most 2147483647 seconds, not %d' % timeout


def test_timeout(server, sleeps):
    server.reply(Reply(200, {}, delay=2))
    client = NomadClient(addr=server.url(), timeout=1, retries=0, sleep=sleeps)
    with pytest.raises(ApiConnectionError) as error:
        client.get_json('/v1/agent/self', action='reading the agent')
    assert str(error.value) == 'reading the agent failed: no answer from %s within 1 seconds (check nomad_addr)' % server.url()


@pytest.mark.parametrize('method', ['PUT', 'POST', 'DELETE'])
def test_a_write_sent_without_an_answer_has_an_unknown_outcome(server, sleeps, method):
    server.reply(Reply(200, {}, delay=2))
    client = NomadClient(addr=server.url(), timeout=1, retries=3, sleep=sleeps)
    with pytest.raises(ApiConnectionError) as error:
        client.open(method, '/v1/client/metadata', action='recycling the pools', data=b'{}').close()
    assert str(error.value) == (
        'recycling the pools failed: the request was sent, but no answer came from %s within 1 seconds; whether it '
        'took effect is unknown (it may have been carried out: check the state before repeating it) '
        '(raise timeout if the server needs longer)' % server.url())
    assert error.value.outcome_unknown and 'nomad_addr' not in str(error.value)
    assert len(server.requests) == 1 and sleeps == []  # sent once: a write is not repeated


def test_a_write_whose_connection_closes_without_an_answer_has_an_unknown_outcome(server):
    def hang_up(request):
        raise ConnectionAbortedError('the server hangs up')
    server.route = hang_up
    client = NomadClient(addr=server.url(), retries=0)
    with pytest.raises(ApiConnectionError) as error:
        client.open('PUT', '/v1/x', action='uploading', data=b'abc').close()
    assert str(error.value).startswith('uploading failed: the request was sent, but the connection to %s was closed '
                                       'without an answer: ' % server.url())
    assert 'whether it took effect is unknown' in str(error.value) and error.value.outcome_unknown


def test_a_write_that_could_not_be_sent_points_at_the_address(unused_port):
    client = NomadClient(addr='http://127.0.0.1:%d' % unused_port, retries=0)
    with pytest.raises(ApiConnectionError) as error:
        client.open('PUT', '/v1/x', action='uploading', data=b'abc').close()
    assert str(error.value) == 'uploading failed: cannot connect to http://127.0.0.1:%d: connection refused ' \
        '(check nomad_addr)' % unused_port
    assert not error.value.outcome_unknown


def test_invalid_json(client, server):
    server.reply(Reply(200, b'<html>Nomad UI</html>'))
    with pytest.raises(ApiResponseError) as error:
        client.get_json('/v1/agent/self', action='reading the agent')
    assert str(error.value).startswith('reading the agent failed: the answer from %s is not valid JSON' % server.url())
    assert str(error.value).endswith(': <html>Nomad UI</html>')


@pytest.mark.parametrize('status', [429, 502, 503, 504])
def test_get_is_retried_on_transient_statuses(client, server, sleeps, status):
    server.reply(Reply(status, b'busy'), Reply(status, b'busy'), Reply(200, {'ok': True}))
    assert client.get_json('/v1/agent/self', action='reading the agent') == {'ok': True}
    assert len(server.requests) == 3
    assert sleeps == [1, 2]


@pytest.mark.parametrize('status', [400, 401, 403, 404, 405, 409, 500, 501])
def test_other_statuses_are_not_retried(client, server, sleeps, status):
    server.reply(Reply(status, b'no'))
    with pytest.raises(ApiError):
        client.get_json('/v1/agent/self', action='reading the agent')
    assert len(server.requests) == 1 and sleeps == []


def test_gives_up_after_retries(client, server, sleeps):
    server.route = lambda request: Reply(503, b'No cluster leader')
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/agent/self', action='reading the agent')
    assert str(error.value) == ('reading the agent failed: 503 No cluster leader from %s (gave up after 4 attempts)'
                                % server.url())
    assert len(server.requests) == 4 and sleeps == [1, 2, 4]


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_writes_are_not_retried_unless_idempotent(client, server, sleeps, method):
    server.route = lambda request: Reply(503, b'busy')
    with pytest.raises(ApiError):
        client.request_json(method, '/v1/agent/join', action='joining', params=dict(address='a'))
    assert len(server.requests) == 1 and sleeps == []


def test_idempotent_writes_are_retried(client, server, sleeps):
    server.reply(Reply(502, b'bad gateway'), Reply(200, {'Meta': {}}))
    client.request_json('POST', '/v1/client/metadata', action='setting metadata', body={'Meta': {'a': 'b'}}, idempotent=True)
    assert [r.body for r in server.requests] == [b'{"Meta": {"a": "b"}}'] * 2


def test_file_bodies_are_rewound_before_a_retry(client, server):
    server.reply(Reply(503, b''), Reply(200, b''))
    body = io.BytesIO(b'0123456789')
    with client.open('PUT', '/upload', action='uploading', data=body, idempotent=True,
                     headers={'Content-Length': '10'}) as response:
        assert response.status == 200
    assert [r.body for r in server.requests] == [b'0123456789'] * 2


def test_unrewindable_bodies_are_sent_once(client, server):
    server.route = lambda request: Reply(503, b'')

    def generate():
        yield b'abc'

    with pytest.raises(ApiError):
        client.open('PUT', '/upload', action='uploading', data=generate(), idempotent=True)
    assert len(server.requests) == 1


def test_retries_zero(server, sleeps):
    server.route = lambda request: Reply(503, b'')
    with pytest.raises(ApiError) as error:
        NomadClient(addr=server.url(), retries=0, sleep=sleeps).get_json('/v1/x', action='reading x')
    assert len(server.requests) == 1 and 'gave up' not in str(error.value)


def test_connection_errors_of_writes_are_not_retried(sleeps, unused_port):
    client = NomadClient(addr='http://127.0.0.1:%d' % unused_port, sleep=sleeps)
    with pytest.raises(ApiConnectionError) as error:
        client.request_json('PUT', '/v1/client/pool/recycle', action='recycling')
    assert error.value.attempts == 1 and sleeps == []


def test_retry_after_is_honoured_and_capped(client, server, sleeps):
    server.reply(Reply(429, b'', headers={'Retry-After': '7'}), Reply(503, b'', headers={'Retry-After': '3600'}),
                 Reply(503, b'', headers={'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT'}), Reply(200, {}))
    client.get_json('/v1/x', action='reading x')
    assert sleeps == [7, 30, 4]


def test_backoff_is_configurable(server):
    import time
    server.reply(Reply(503, b''), Reply(503, b''), Reply(200, {}))
    client = NomadClient(addr=server.url(), backoff_factor=0.01)
    started = time.monotonic()
    client.get_json('/v1/x', action='reading x')
    assert time.monotonic() - started < 1


def test_chunks_arrive_before_the_answer_ends(client, server):
    gate = threading.Event()
    server.reply(Reply(200, chunks=[b'first', b'second'], gate=gate))
    with client.open('GET', '/v1/client/fs/cat/x', action='reading x') as answer:
        chunks = iter(answer)
        assert next(chunks) == b'first'  # would hang (and time out) if reads waited to fill a chunk
        gate.set()
        assert b''.join(chunks) == b'second'


def test_an_answer_streams_into_a_local_file(client, server, tmp_path):
    data = os.urandom(300 * 1024)
    server.reply(Reply(200, chunks=[data[i:i + 50000] for i in range(0, len(data), 50000)]))
    dest = tmp_path / 'web.config'
    with client.open('GET', '/v1/client/fs/cat/x', action='fetching x') as answer:
        written = LocalFile(str(dest)).receive(answer)
    assert (written.sha256, written.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert dest.read_bytes() == data
    assert os.listdir(tmp_path) == ['web.config']


@pytest.mark.parametrize('with_length', [False, True])
def test_a_download_can_reuse_one_buffer(client, server, tmp_path, with_length):
    data = os.urandom(300 * 1024)
    if with_length:
        server.reply(Reply(200, data))
    else:  # the body ends when the connection closes
        server.reply(Reply(200, chunks=[data[i:i + 50000] for i in range(0, len(data), 50000)]))
    with client.open('GET', '/v1/client/fs/cat/x', action='fetching x') as answer:
        views = answer.chunks(chunk_size=64 * 1024, reuse_buffer=True)
        first = next(views)
        assert isinstance(first, memoryview) and len(first) == 64 * 1024  # filled before it is yielded
        written = LocalFile(str(tmp_path / 'f')).receive(itertools.chain([first], views))
        assert answer.received == len(data)
    assert (written.sha256, written.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert (tmp_path / 'f').read_bytes() == data


def test_a_download_into_one_buffer_that_is_cut_off(client, server, tmp_path):
    server.reply(Reply(200, b'only a part', content_length=1000))
    with pytest.raises(ApiConnectionError, match='received 11 bytes, 989 more were announced'):
        with client.open('GET', '/v1/client/fs/cat/x', action='fetching x') as answer:
            LocalFile(str(tmp_path / 'f')).receive(answer.chunks(reuse_buffer=True))
    assert os.listdir(tmp_path) == []


def test_a_chunked_answer_cut_off_while_filling_the_buffer_hands_on_what_arrived(client, server):
    server.reply(Reply(200, headers={'Transfer-Encoding': 'chunked'}, chunks=[b'5\r\nhello\r\n', b'6\r\n world\r\n']))
    received = []
    with pytest.raises(ApiConnectionError, match='received 11 bytes, then the answer ended before its last chunk'):
        with client.open('GET', '/v1/client/fs/readat/x', action='fetching x') as answer:
            for chunk in answer.chunks(reuse_buffer=True):
                received.append(bytes(chunk))
    assert b''.join(received) == b'hello world'


def test_interrupted_download_leaves_nothing_behind(client, server, tmp_path):
    dest = tmp_path / 'web.config'
    dest.write_bytes(b'old')
    server.reply(Reply(200, b'only a part', content_length=1000))
    with pytest.raises(ApiConnectionError) as error:
        with client.open('GET', '/v1/client/fs/cat/x', action='fetching x') as answer:
            LocalFile(str(dest)).receive(answer)
    assert str(error.value).startswith('fetching x failed: the connection to %s was lost while reading the answer'
                                       % server.url())
    assert dest.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['web.config']


# -- Conventions every caller gets -------------------------------------------------------------------

def test_path_arguments_are_quoted_as_one_segment_each(client, server):
    server.reply(Reply(200, {}), Reply(200, {}))
    client.get_json('/v1/job/{}/allocations', 'a/b?c%d e', action='listing')
    client.get_json('/v1/client/fs/ls/{}', '8f3a21bc-5d2e-4c8b-9a01-0123456789ab', action='listing')
    assert server.requests[0].path_only == '/v1/job/a%2Fb%3Fc%25d%20e/allocations'
    assert server.requests[1].path_only == '/v1/client/fs/ls/8f3a21bc-5d2e-4c8b-9a01-0123456789ab'


def test_a_path_template_takes_exactly_its_arguments():
    assert fill_path('/v1/node/{}/allocations', ('x',)) == '/v1/node/x/allocations'
    assert fill_path('/v1/nodes', ()) == '/v1/nodes'
    with pytest.raises(ValueError):
        fill_path('/v1/node/{}', ())
    with pytest.raises(ValueError):
        fill_path('/v1/nodes', ('x',))


def test_404_is_not_found(client, server):
    server.reply(Reply(404, b'alloc not found'))
    with pytest.raises(NotFound) as error:
        client.get_json('/v1/allocation/{}', 'x', action='reading allocation x')
    assert error.value.status == 404 and isinstance(error.value, ApiError)


def test_a_request_can_carry_its_own_hints(client, server):
    server.reply(Reply(501, b'Invalid method'), Reply(403, b'Permission denied'))
    with pytest.raises(ApiError) as error:
        client.request_json('PUT', '/v1/agent/join', action='joining x', hints={501: 'only a server agent can do this'})
    assert str(error.value) == 'joining x failed: 501 Invalid method from %s (only a server agent can do this)' % server.url()
    with pytest.raises(ApiError) as error:
        client.get_json('/v1/agent/pprof/heap', action='profiling', hints={501: 'not this one'})
    assert str(error.value).endswith('(check nomad_token)')


def test_a_request_can_have_its_own_timeout(server, sleeps):
    client = NomadClient(addr=server.url(), timeout=0.3, retries=0, sleep=sleeps)
    server.reply(Reply(200, b'{}', delay=0.8))
    assert client.get_json('/v1/agent/pprof/profile', action='profiling', timeout=5) == {}
    server.reply(Reply(200, b'{}', delay=0.8))
    with pytest.raises(ApiConnectionError, match='no answer from .* within 0.3 seconds'):
        client.get_json('/v1/agent/self', action='reading the agent')


def test_join_host_port():
    assert join_host_port('10.0.0.5', 4646) == '10.0.0.5:4646'
    assert join_host_port('fe80::1', 4646) == '[fe80::1]:4646'
    assert join_host_port('[fe80::1]', 4646) == '[fe80::1]:4646'


# -- Connections kept open (HTTP/1.1 keep-alive) ------------------------------------------------

@pytest.fixture
def kept_server(make_server):
    return make_server(keep_alive=True)


@pytest.fixture
def kept_client(kept_server, sleeps):
    return NomadClient(addr=kept_server.url(), token=TOKEN, sleep=sleeps)


def test_requests_share_a_connection_the_server_keeps_open(kept_client, kept_server, tmp_path):
    kept_server.reply(Reply(200, {'a': 1}), Reply(200, b''), Reply(200, chunks=None, body=b'x' * 5000))
    body = tmp_path / 'part.zip'
    body.write_bytes(os.urandom(100000))
    assert kept_client.get_json('/v1/a', action='reading a') == {'a': 1}
    with body.open('rb') as handle:
        kept_client.open('PUT', '/v1/b', action='uploading b', data=handle, idempotent=True).close()
    with kept_client.open('GET', '/v1/c', action='reading c') as answer:
        assert b''.join(answer.chunks(reuse_buffer=True)) == b'x' * 5000
    assert kept_server.connections == 1
    assert [r.body for r in kept_server.requests] == [b'', body.read_bytes(), b'']


def test_an_answer_left_unread_closes_its_connection(kept_client, kept_server):
    kept_server.reply(Reply(200, b'y' * 100000), Reply(200, {'b': 2}))
    with kept_client.open('GET', '/v1/a', action='reading a') as answer:
        assert answer.read(10) == b'y' * 10
    assert kept_client.get_json('/v1/b', action='reading b') == {'b': 2}  # not the rest of a's answer
    assert kept_server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_not_reused(kept_client, kept_server, sleeps):
    kept_server.reply(Reply(200, {'a': 1}, close=True), Reply(200, {'b': 2}, close=True), Reply(200, {'c': 3}))
    assert kept_client.get_json('/v1/a', action='reading a') == {'a': 1}
    time.sleep(0.1)  # the server's close reaches the client
    assert kept_client.open('POST', '/v1/b', action='recycling b').read() == b'{"b": 2}'
    time.sleep(0.1)
    assert kept_client.get_json('/v1/c', action='reading c') == {'c': 3}
    assert kept_server.connections == 3 and len(kept_server.requests) == 3 and sleeps == []


def test_a_read_on_a_connection_found_closed_too_late_is_sent_again_at_once(kept_client, kept_server, sleeps, monkeypatch):
    # The server closes the connection between the check and the request.
    monkeypatch.setattr(_http_client, '_open_and_quiet', lambda sock: True)
    kept_server.reply(Reply(200, {'a': 1}, close=True), Reply(200, {'b': 2}))
    assert kept_client.get_json('/v1/a', action='reading a') == {'a': 1}
    time.sleep(0.1)
    assert kept_client.get_json('/v1/b', action='reading b') == {'b': 2}
    assert kept_server.connections == 2 and sleeps == []


def test_a_write_on_a_connection_found_closed_too_late_is_not_sent_again(kept_client, kept_server, sleeps, monkeypatch):
    monkeypatch.setattr(_http_client, '_open_and_quiet', lambda sock: True)
    kept_server.reply(Reply(200, {'a': 1}, close=True), Reply(200, {'b': 2}))
    assert kept_client.get_json('/v1/a', action='reading a') == {'a': 1}
    time.sleep(0.1)
    with pytest.raises(ApiConnectionError) as error:
        kept_client.open('POST', '/v1/b', action='recycling b').close()
    assert str(error.value).startswith('recycling b failed: ')
    assert len(kept_server.requests) == 1 and sleeps == []


def test_threads_share_the_open_connections(kept_client, kept_server):
    kept_server.route = lambda request: Reply(200, {'path': request.path_only})

    def read(index):
        return kept_client.get_json('/v1/{}', str(index), action='reading %d' % index)['path']

    threads = 6
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        paths = list(pool.map(read, range(120)))
    assert paths == ['/v1/%d' % index for index in range(120)]
    assert kept_server.connections <= threads


def test_without_keep_alive_each_request_has_its_own_connection(client, server):
    for dummy in range(3):
        client.get_json('/v1/a', action='reading a')
    assert server.connections == 3
