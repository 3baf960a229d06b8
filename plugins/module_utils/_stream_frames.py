# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Incremental decoder for Nomad's framed streams.

Python versions supported: 3.11 and newer.

``/v1/client/fs/stream``, ``/v1/client/fs/logs`` (without ``plain``) and ``/v1/agent/monitor``
answer with JSON objects written back to back with no separator (``{...}{...}``), each a
StreamFrame: ``Offset``, ``Data`` (base64), ``File`` and ``FileEvent``, all optional. ``{}`` is a
heartbeat, sent every second. The decoder takes the body in chunks of any size, split anywhere,
and holds only the frame it has not seen the end of yet.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import base64
import binascii
import collections
import json
import re

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import StreamDecodeError

# FileEvent values (client/lib/streamframer): the file was truncated (the stream restarts at
# offset 0), or deleted (the stream ends).
FILE_TRUNCATED = 'file truncated'
FILE_DELETED = 'file deleted'

# A frame holds at most 64 KiB of data (about 87 KiB as base64); far more means a broken stream.
MAX_FRAME_SIZE = 4 * 1024 * 1024

StreamFrame = collections.namedtuple('StreamFrame', ['offset', 'data', 'file', 'file_event'])

# Within a frame, only quotes and braces matter outside strings, and only quotes and backslashes
# inside them; searching for those with a regex keeps the scan in C even for big base64 strings.
_OUTSIDE_STRING = re.compile(rb'["{}]')
_INSIDE_STRING = re.compile(rb'["\\]')
_NON_SPACE = re.compile(rb'[^ \t\r\n]')


class StreamFrameDecoder:
    """Feed it bytes with ``feed()``; it returns the complete frames found so far.

    Heartbeats are dropped. Call ``close()`` at the end of the stream to check that no frame was
    cut off.
    """

    def __init__(self, max_frame_size=MAX_FRAME_SIZE):
        self._max_frame_size = max_frame_size
        self._buffer = bytearray()  # the start of the frame being read, nothing before it
        self._pos = 0  # how far the buffer has been scanned
        self._depth = 0
        self._in_string = False

    def feed(self, chunk):
        self._buffer += chunk
        frames = []
        while self._scan():
            frame = self._take_frame()
            if frame is not None:
                frames.append(frame)
        if len(self._buffer) > self._max_frame_size:
            raise StreamDecodeError('stream frame larger than %d bytes: the stream is not a Nomad frame stream'
                                    % self._max_frame_size)
        return frames

    def close(self):
        if self._buffer:
            raise StreamDecodeError('stream ended in the middle of a frame (%d bytes left undecoded)' % len(self._buffer))

    def _scan(self):
        """Advance over the buffer; True when it holds a complete frame at ``[:self._pos]``."""
        buf = self._buffer
        while True:
            if self._depth == 0:
                start = _NON_SPACE.search(buf, self._pos)
                if start is None:
                    del buf[:]
                    self._pos = 0
                    return False
                if buf[start.start()] != ord('{'):
                    raise StreamDecodeError('unexpected %r in a frame stream: frames must be JSON objects'
                                            % bytes(buf[start.start():start.start() + 20]))
                del buf[:start.start()]
                self._depth, self._pos = 1, 1
            elif self._in_string:
                match = _INSIDE_STRING.search(buf, self._pos)
                if match is None:
                    self._pos = len(buf)
                    return False
                if match.group() == b'\\':
                    if match.end() >= len(buf):
                        self._pos = match.start()  # the escaped character has not arrived yet
                        return False
                    self._pos = match.end() + 1
                else:
                    self._in_string = False
                    self._pos = match.end()
            else:
                match = _OUTSIDE_STRING.search(buf, self._pos)
                if match is None:
                    self._pos = len(buf)
                    return False
                self._pos = match.end()
                token = match.group()
                if token == b'"':
                    self._in_string = True
                elif token == b'{':
                    self._depth += 1
                else:
                    self._depth -= 1
                    if self._depth == 0:
                        return True

    def _take_frame(self):
        raw = bytes(self._buffer[:self._pos])
        del self._buffer[:self._pos]
        self._pos = 0
        return decode_frame(raw)


def decode_frame(raw):
    """Decode one frame's JSON bytes into a ``StreamFrame``, or None for a heartbeat."""
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise StreamDecodeError('invalid stream frame %r: %s' % (raw[:80], exc)) from None
    if not isinstance(obj, dict):
        raise StreamDecodeError('invalid stream frame %r: not a JSON object' % raw[:80])
    encoded = obj.get('Data') or ''
    file_name = obj.get('File') or None
    file_event = obj.get('FileEvent') or None
    offset = obj.get('Offset') or 0
    # Go's StreamFrame.IsHeartbeat: nothing set at all.
    if not encoded and not file_name and not file_event and not offset:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise StreamDecodeError('invalid base64 in stream frame at offset %s: %s' % (offset, exc)) from None
    return StreamFrame(offset, data, file_name, file_event)


def iter_stream_frames(chunks):
    """Yield the frames (heartbeats dropped) of a stream given as an iterable of byte chunks."""
    decoder = StreamFrameDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()
