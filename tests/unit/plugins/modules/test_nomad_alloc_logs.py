# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_alloc_logs: finding the last N lines with a widening window, the content cap, what is
asked of Nomad for each way of reading, and the framed stream."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalFile
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.modules import nomad_alloc_logs
from ansible_collections.nomad_iis.management.plugins.modules.nomad_alloc_logs import (
    ContentSink,
    DestSink,
    LineTail,
    LogReader,
    choose_task,
    read_log,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'


def tail_of(data, lines, chunk_size=None, whole=True):
    tail = LineTail(lines)
    chunk_size = chunk_size or max(len(data), 1)
    for start in range(0, len(data), chunk_size):
        tail.feed(data[start:start + chunk_size])
    start = tail.start(whole)
    return None if start is None else data[start:]


@pytest.mark.parametrize('data, lines, expected', [
    (b'a\nb\nc\n', 2, b'b\nc\n'),
    (b'a\nb\nc', 2, b'b\nc'),
    (b'a\nb\nc\n', 1, b'c\n'),
    (b'a\nb\nc', 1, b'c'),
    (b'a\nb\nc\n', 3, b'a\nb\nc\n'),
    (b'a\nb\nc\n', 10, b'a\nb\nc\n'),
    (b'a\nb\nc\n', 0, b''),
    (b'', 5, b''),
    (b'\n\n\n', 2, b'\n\n'),
    (b'one line without a break', 1, b'one line without a break'),
    (b'x\r\ny\r\n', 1, b'y\r\n'),
])
@pytest.mark.parametrize('chunk_size', [None, 1, 2, 3])
def test_line_tail(data, lines, expected, chunk_size):
    assert tail_of(data, lines, chunk_size) == expected


def test_line_tail_needs_more_data_unless_it_has_the_whole_log():
    # A window that starts in the middle of the log: its first line may be cut, so it shows one
    # line less than it has breaks for.
    assert tail_of(b'rt of a line\nb\nc\n', 3, whole=False) is None
    assert tail_of(b'rt of a line\nb\nc\n', 2, whole=False) == b'b\nc\n'
    assert tail_of(b'whole\nb\nc\n', 3, whole=True) == b'whole\nb\nc\n'


class WindowReader(LogReader):
    """A LogReader over a log in memory: ``origin=end`` windows as Nomad serves them."""

    def __init__(self, log):
        super().__init__(None, ALLOC_ID, 'app', 'stdout')
        self.log = log
        self.requests = []

    def chunks(self, origin, offset, follow_seconds=None):
        self.requests.append((origin, offset, follow_seconds))
        data = self.log[max(len(self.log) - offset, 0):] if origin == 'end' else self.log[offset:]
        for start in range(0, len(data), 7000):
            yield data[start:start + 7000]


def test_tail_widens_the_window_until_it_holds_the_lines(monkeypatch):
    monkeypatch.setattr(nomad_alloc_logs, 'MIN_WINDOW', 1000)
    monkeypatch.setattr(nomad_alloc_logs, 'BYTES_PER_LINE', 10)
    lines = [(b'%05d ' % n) + b'x' * (n % 700) + b'\n' for n in range(200)]
    reader = WindowReader(b''.join(lines))
    sink = ContentSink(10 ** 6, keep_end=True)
    read_log(reader, dict(tail_lines=5, tail_bytes=None, offset=None, follow=None), sink)
    assert bytes(sink.buffer) == b''.join(lines[-5:])
    windows = [offset for _origin, offset, _follow in reader.requests]
    assert windows[0] == 1000 and all(b == 2 * a for a, b in zip(windows, windows[1:]))
    assert sum(len(line) for line in lines[-5:]) <= windows[-1]


def test_tail_of_a_log_shorter_than_the_window():
    reader = WindowReader(b'a\nb\n')
    sink = ContentSink(10 ** 6, keep_end=True)
    read_log(reader, dict(tail_lines=5, tail_bytes=None, offset=None, follow=None), sink)
    assert bytes(sink.buffer) == b'a\nb\n'
    assert len(reader.requests) == 1


def test_tail_lines_then_follow_streams_from_the_tail():
    reader = WindowReader(b'a\nb\nc\nd\n')
    sink = ContentSink(10 ** 6, keep_end=True)
    read_log(reader, dict(tail_lines=2, tail_bytes=None, offset=None, follow=3), sink)
    assert reader.requests[-1] == ('end', 4, 3)
    assert bytes(sink.buffer) == b'c\nd\n'


@pytest.mark.parametrize('params, expected_requests, content', [
    (dict(tail_lines=None, tail_bytes=None, offset=None, follow=None), [('start', 0, None)], b'0123456789'),
    (dict(tail_lines=None, tail_bytes=None, offset=5, follow=None), [('start', 5, None)], b'56789'),
    (dict(tail_lines=None, tail_bytes=3, offset=None, follow=None), [('end', 3, None)], b'789'),
    (dict(tail_lines=None, tail_bytes=3, offset=None, follow=10), [('end', 3, 10)], b'789'),
    (dict(tail_lines=None, tail_bytes=0, offset=None, follow=None), [], b''),
    # Nomad reads origin=end offset=0 from the start of the newest file: the module asks whether
    # there is a last byte, follows from it, and drops it.
    (dict(tail_lines=None, tail_bytes=0, offset=None, follow=10), [('end', 1, None), ('end', 1, 10)], b''),
    (dict(tail_lines=0, tail_bytes=None, offset=None, follow=10), [('end', 16384, None), ('end', 1, None), ('end', 1, 10)], b''),
])
def test_what_is_asked_of_nomad(params, expected_requests, content):
    reader = WindowReader(b'0123456789')
    sink = ContentSink(100, keep_end=False)
    read_log(reader, params, sink)
    assert reader.requests == expected_requests
    assert bytes(sink.buffer) == content


class GrowingReader(WindowReader):
    """An empty log that gets ``new`` written while it is followed."""

    def chunks(self, origin, offset, follow_seconds=None):
        self.requests.append((origin, offset, follow_seconds))
        if follow_seconds:
            yield b'new'


def test_following_an_empty_log_from_its_end_keeps_the_first_byte():
    reader = GrowingReader(b'')
    sink = ContentSink(100, keep_end=False)
    read_log(reader, dict(tail_lines=None, tail_bytes=0, offset=None, follow=10), sink)
    assert reader.requests == [('end', 1, None), ('end', 1, 10)]
    assert bytes(sink.buffer) == b'new'


def test_content_cap_keeps_the_start_and_stops_reading():
    sink = ContentSink(5, keep_end=False)
    assert sink.write(b'abc')
    assert not sink.write(b'defgh')
    assert sink.result() == dict(content='abcde', truncated=True, size=5)


def test_content_cap_exactly_reached_is_not_truncated():
    sink = ContentSink(5, keep_end=False)
    assert sink.write(b'abcde')
    assert sink.result() == dict(content='abcde', truncated=False, size=5)


def test_content_cap_keeps_the_end_without_a_broken_character():
    sink = ContentSink(5, keep_end=True)
    sink.write(b'abc')
    sink.write('d\u00e9\u20ac'.encode('utf-8'))  # d, 2 bytes, 3 bytes: the cut lands in the middle of the euro sign
    assert sink.truncated
    assert sink.result()['content'] == '\u00e9\u20ac'
    sink = ContentSink(4, keep_end=True)
    sink.write('\u20acab'.encode('utf-8'))
    assert sink.result()['content'] == 'ab'


def test_content_with_invalid_utf8_is_replaced():
    sink = ContentSink(100, keep_end=False)
    sink.write(b'ok \xff\n')
    assert sink.result()['content'] == 'ok \ufffd\n'


def test_dest_sink_streams_into_a_writer_and_always_takes_more(tmp_path):
    local = LocalFile(str(tmp_path / 'logs' / 'app.log'))
    with local.writer() as writer:
        assert DestSink(writer).write(b'new\n') is True
        assert local.keep(writer, None).changed
    assert (tmp_path / 'logs' / 'app.log').read_bytes() == b'new\n'


def test_choose_task():
    one = {'ID': ALLOC_ID, 'TaskStates': {'app': {}}}
    two = {'ID': ALLOC_ID, 'TaskStates': {'site': {}, 'logship': {}}}
    assert choose_task(one, None) == 'app'
    assert choose_task(two, 'logship') == 'logship'
    with pytest.raises(OptionError, match="has the tasks 'logship', 'site': set task"):
        choose_task(two, None)
    with pytest.raises(OptionError, match="has no task 'web' \\(its tasks: logship, site\\)"):
        choose_task(two, 'web')


def frame(data, offset):
    return json.dumps({'Offset': offset, 'Data': base64.b64encode(data).decode(), 'File': 'alloc/logs/app.stdout.0'}).encode()


def test_framed_stream_is_decoded_as_it_arrives(server):
    # Frames split across chunks, heartbeats in between, as Nomad writes them (no separators).
    body = frame(b'first\n', 6) + b'{}' + frame(b'second\n', 13) + b'{}'
    server.reply(Reply(200, chunks=[body[:10], body[10:31], body[31:]], headers={'Content-Type': 'application/json'}))
    reader = LogReader(NomadClient(addr=server.url(), retries=0), ALLOC_ID, 'app', 'stderr')
    assert b''.join(reader.chunks('end', 100)) == b'first\nsecond\n'
    query = urllib.parse.parse_qs(server.requests[0].query)
    assert server.requests[0].path_only == '/v1/client/fs/logs/' + ALLOC_ID
    assert {k: v[0] for k, v in query.items()} == dict(task='app', type='stderr', origin='end', offset='100',
                                                       follow='false', plain='false', namespace='default')


def test_follow_stops_at_the_deadline_while_only_heartbeats_come(server):
    server.reply(Reply(200, chunks=[frame(b'x\n', 2)] + [b'{}'] * 50, pause=0.1))
    reader = LogReader(NomadClient(addr=server.url(), retries=0), ALLOC_ID, 'app', 'stdout')
    assert b''.join(reader.chunks('end', 0, follow_seconds=1)) == b'x\n'
    assert urllib.parse.parse_qs(server.requests[0].query)['follow'] == ['true']


def test_a_denial_sent_as_500_points_at_the_token(server):
    # Nomad's logs endpoint reports an ACL denial without a status code: a 500.
    server.reply(Reply(500, b'Permission denied'))
    reader = LogReader(NomadClient(addr=server.url(), token='secret-token', retries=0), ALLOC_ID, 'app', 'stdout')
    with pytest.raises(ApiError) as caught:
        b''.join(reader.chunks('start', 0))
    assert str(caught.value) == ("reading the stdout log of task 'app' in allocation %s failed: 500 Permission denied "
                                 "from %s (check nomad_token)" % (ALLOC_ID, server.url()))


@pytest.mark.parametrize('option, value, message', [
    ('tail_lines', 10 ** 30, 'tail_lines must be at most 36028797018963967, not 10'),
    ('tail_bytes', 2 ** 63, 'tail_bytes must be at most 9223372036854775807, not 9223372036854775808'),
    ('offset', 10 ** 19, 'offset must be at most 9223372036854775807, not 10000000000000000000'),
    ('follow', 10 ** 12, 'follow must be at most 2147483647 seconds, not 1000000000000'),
])
def test_numbers_too_large_for_nomad_or_a_clock_are_refused(server, run_module, option, value, message):
    result = run_module(nomad_alloc_logs, {'nomad_addr': server.url(), 'alloc_id': ALLOC_ID, option: value})
    assert result['failed'] and result['msg'].startswith(message)
    assert not server.requests


def test_the_largest_tail_lines_reads_the_whole_log():
    reader = WindowReader(b'a\nb\nc\n')
    sink = ContentSink(1024, keep_end=True)
    read_log(reader, dict(tail_lines=nomad_alloc_logs.MAX_TAIL_LINES, tail_bytes=None, offset=None, follow=None), sink)
    assert sink.text() == 'a\nb\nc\n'
    assert reader.requests == [('end', nomad_alloc_logs.MAX_TAIL_LINES * nomad_alloc_logs.BYTES_PER_LINE, None)]
    assert reader.requests[0][1] <= 2 ** 63 - 1  # Nomad's int64
