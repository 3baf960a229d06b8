# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The incremental StreamFrame decoder: any chunking, heartbeats, base64, file events, bad input."""

from __future__ import annotations

import base64
import json
import random
import re

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import StreamDecodeError
from ansible_collections.nomad_iis.management.plugins.module_utils._stream_frames import (
    FILE_DELETED,
    FILE_TRUNCATED,
    StreamFrame,
    StreamFrameDecoder,
    iter_stream_frames,
)


def frame(offset=None, data=None, file=None, event=None):
    obj = {}
    if offset is not None:
        obj['Offset'] = offset
    if data is not None:
        obj['Data'] = base64.b64encode(data).decode()
    if file is not None:
        obj['File'] = file
    if event is not None:
        obj['FileEvent'] = event
    return json.dumps(obj, separators=(',', ':'), ensure_ascii=False).encode()  # raw UTF-8, to split inside it


# Everything that makes splitting hard: heartbeats, whitespace, braces and escaped quotes and
# backslashes inside strings, non-ASCII file names, binary data, and events.
STREAM = b''.join([
    b'{}',
    frame(5, b'hello', 'alloc/logs/app.stdout.0'),
    b'{}',
    frame(9, b'{"not":"a frame"}\\', 'alloc/logs/we{ird}"na\\me\u00e9.log'),
    b'\n{}\r\n',
    frame(13, bytes(range(256)), 'alloc/logs/app.stdout.0'),
    frame(0, None, 'alloc/logs/app.stdout.0', FILE_TRUNCATED),
    frame(3, b'new', 'alloc/logs/app.stdout.0'),
    b'{ }',
    frame(None, None, 'alloc/logs/app.stdout.0', FILE_DELETED),
])
EXPECTED = [
    StreamFrame(5, b'hello', 'alloc/logs/app.stdout.0', None),
    StreamFrame(9, b'{"not":"a frame"}\\', 'alloc/logs/we{ird}"na\\me\u00e9.log', None),
    StreamFrame(13, bytes(range(256)), 'alloc/logs/app.stdout.0', None),
    StreamFrame(0, b'', 'alloc/logs/app.stdout.0', FILE_TRUNCATED),
    StreamFrame(3, b'new', 'alloc/logs/app.stdout.0', None),
    StreamFrame(0, b'', 'alloc/logs/app.stdout.0', FILE_DELETED),
]


def decode(chunks):
    decoder = StreamFrameDecoder()
    frames = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
    decoder.close()
    return frames


def test_whole_stream_in_one_chunk():
    assert decode([STREAM]) == EXPECTED


def test_split_at_every_byte_boundary():
    for cut in range(len(STREAM) + 1):
        assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED, 'cut at %d' % cut


def test_split_twice_at_every_pair_of_boundaries_near_escapes():
    # The hardest spots are around backslashes and quotes; cut twice within each frame there.
    start = STREAM.index(b'we{ird}')
    for first in range(start - 20, start + 40):
        for second in range(first, start + 60):
            assert decode([STREAM[:first], STREAM[first:second], STREAM[second:]]) == EXPECTED


def test_one_byte_at_a_time():
    assert decode([STREAM[i:i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_random_chunking():
    rng = random.Random(1234)
    for dummy in range(200):
        chunks, pos = [], 0
        while pos < len(STREAM):
            size = rng.randint(0, 40)
            chunks.append(STREAM[pos:pos + size])
            pos += size
        assert decode(chunks) == EXPECTED


def test_frames_merged_across_reads_are_returned_together():
    decoder = StreamFrameDecoder()
    first, second = frame(1, b'a', 'f'), frame(2, b'b', 'f')
    assert decoder.feed(first[:-3]) == []
    assert decoder.feed(first[-3:] + second + b'{}' + second[:4]) == [StreamFrame(1, b'a', 'f', None),
                                                                      StreamFrame(2, b'b', 'f', None)]
    assert decoder.feed(second[4:]) == [StreamFrame(2, b'b', 'f', None)]
    decoder.close()


def test_only_heartbeats():
    assert decode([b'{}' * 50, b'{}{', b'}']) == []


def test_empty_stream():
    assert decode([]) == [] and decode([b'', b'  \n']) == []


def test_frame_with_only_an_offset_is_kept():
    assert decode([b'{"Offset":42}']) == [StreamFrame(42, b'', None, None)]


def test_unknown_fields_are_ignored():
    assert decode([b'{"Offset":1,"Data":"YQ==","Extra":{"x":[1,"}"]}}']) == [StreamFrame(1, b'a', None, None)]


def test_the_decoder_holds_only_the_unfinished_frame():
    decoder = StreamFrameDecoder()
    one = frame(1, b'x' * 65536, 'alloc/logs/app.stdout.0')
    for dummy in range(100):
        decoder.feed(one[:1000])
        decoder.feed(one[1000:])
        assert len(decoder._buffer) == 0  # pylint: disable=protected-access
    decoder.feed(one[:5000])
    assert len(decoder._buffer) == 5000  # pylint: disable=protected-access


def test_iter_stream_frames():
    assert list(iter_stream_frames(iter([STREAM[:100], STREAM[100:]]))) == EXPECTED


@pytest.mark.parametrize('chunks, message', [
    ([b'{"Offset":5,"Data":"aGVs'], 'stream ended in the middle of a frame'),
    ([b'{"File":"a\\'], 'stream ended in the middle of a frame'),
    ([b'[1,2]'], "unexpected b'[1,2]' in a frame stream"),
    ([b'{}garbage'], "unexpected b'garbage' in a frame stream"),
    ([b'{"Offset":}'], 'invalid stream frame'),
    ([b'{"Offset":1,"Data":"not base64!"}'], 'invalid base64 in stream frame at offset 1'),
])
def test_malformed_streams(chunks, message):
    with pytest.raises(StreamDecodeError, match=re.escape(message)):
        decode(chunks)


def test_runaway_frame_is_refused():
    decoder = StreamFrameDecoder(max_frame_size=1000)
    with pytest.raises(StreamDecodeError, match='larger than 1000 bytes'):
        decoder.feed(b'{"Data":"' + b'A' * 2000)
