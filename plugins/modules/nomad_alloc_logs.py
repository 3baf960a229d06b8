#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_alloc_logs
short_description: Read a task's stdout or stderr log from a Nomad allocation
version_added: 0.1.0
description:
  - Reads the log of one task of an allocation, as C(nomad alloc logs) does, across the rotated log
    files C(alloc/logs/<task>.<type>.<n>).
  - Reads the whole log, or from a byte O(offset), or its last O(tail_lines) lines or O(tail_bytes)
    bytes; with O(follow), it keeps reading what the task writes for that many seconds.
  - The log goes into RV(content), up to O(max_bytes), or streamed into the file O(dest).
  - Reading is an information-only action (C(changed) is V(false)); with O(dest), C(changed) says
    whether the file's content changed.
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.connection
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad
attributes:
  check_mode:
    support: full
    details:
      - The log is read as in a real run; O(dest) is not written.
  diff_mode:
    support: full
    details:
      - With O(dest), the size and checksum of the file before and after.
  idempotent:
    support: partial
    details:
      - A log that grows, and anything read with O(follow), give different content each time. With
        O(follow) the module is never idempotent.
options:
  alloc_id:
    description:
      - The allocation's full ID, or a unique prefix of it (at least 2 characters), looked up in
        O(nomad_namespace) (V(*) for every namespace).
    type: str
    required: true
  task:
    description:
      - The task whose log to read.
      - May be left out when the allocation has exactly one task.
    type: str
  type:
    description:
      - Which log to read.
    type: str
    choices: [stdout, stderr]
    default: stdout
  tail_lines:
    description:
      - Read only the last this many lines; V(0) reads nothing from before, which makes sense with
        O(follow).
      - The module reads a window from the end of the log and widens it until it holds enough lines
        (or the whole log), so long lines cost no more than their bytes.
      - With O(follow), the lines are located just before the stream starts; a line written in that
        instant can make the first line start in the middle.
      - Mutually exclusive with O(tail_bytes) and O(offset).
      - Numbers Nomad cannot take (offsets are 64-bit) are refused, naming the option; any larger
        number of lines than the log has reads the whole log.
    type: int
  tail_bytes:
    description:
      - Read only the last this many bytes; V(0) reads nothing from before, which makes sense with
        O(follow).
      - Mutually exclusive with O(tail_lines) and O(offset).
    type: int
  offset:
    description:
      - Start reading this many bytes after the start of the log (counted across the rotated files
        that still exist).
      - Without O(offset), O(tail_lines) and O(tail_bytes), the whole log is read.
    type: int
  follow:
    description:
      - After reading what is there, keep reading what the task writes for this many seconds, then
        return what was read.
    type: int
  max_bytes:
    description:
      - The most bytes of log returned in RV(content). What is over the limit is dropped and
        RV(truncated) is set - the oldest bytes with O(tail_lines) and O(tail_bytes), else the newest
        (reading then stops at the limit, also when following).
      - Does not apply to O(dest), which receives the whole log.
    type: int
    default: 1048576
  dest:
    description:
      - Write the log into this file, on the host the module runs on, instead of returning it.
      - Streamed into a temporary file next to it and renamed into place when complete; a file with the
        same content is left alone. Missing parent directories are created.
    type: path
notes:
  - The token needs the C(read-logs) or C(read-fs) capability in the allocation's namespace (and
    C(read-job) to resolve O(alloc_id)).
  - Nomad sends the log as a stream of JSON frames; the module decodes them as they arrive and never
    holds more of the log than it returns (O(tail_lines) looks for the line starts in a temporary file).
  - A task that has not started yet has no logs; Nomad answers that with an error.
seealso:
  - module: nomad_iis.management.nomad_alloc_fetch
  - module: nomad_iis.management.nomad_alloc_info
  - name: Nomad client logs API
    description: The endpoint this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/client#stream-logs
author:
  - nomad_iis.management contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find an allocation of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
    status: running
  register: web

- name: Request the site once, so that it logs something
  ansible.builtin.uri:
    url: "http://{{ web.allocations[0].ports.http }}/"

- name: The last 20 lines the task wrote to stdout
  nomad_iis.management.nomad_alloc_logs:
    alloc_id: "{{ web.allocations[0].id }}"
    task: app
    tail_lines: 20
  register: recent

- name: Show them
  ansible.builtin.debug:
    msg: "{{ recent.content.splitlines() }}"

- name: Watch what the task writes to stdout during the next 5 seconds
  nomad_iis.management.nomad_alloc_logs:
    alloc_id: "{{ web.allocations[0].id }}"
    type: stdout
    tail_bytes: 0
    follow: 5

- name: Save the whole stdout log to a file
  nomad_iis.management.nomad_alloc_logs:
    alloc_id: "{{ web.allocations[0].id }}"
    task: app
    dest: /tmp/nomad_iis_examples/app.stdout.log
"""

RETURN = r"""
alloc_id:
  description: The full ID of the allocation.
  returned: success
  type: str
  sample: 8f3a21bc-5d2e-4c8b-9a01-0123456789ab
task:
  description: The task whose log was read.
  returned: success
  type: str
  sample: app
type:
  description: The log read, V(stdout) or V(stderr).
  returned: success
  type: str
  sample: stdout
content:
  description:
    - The log read, as text (bytes that are not UTF-8 are replaced by U+FFFD).
  returned: when O(dest) is not set
  type: str
  sample: "127.0.0.1 - - [25/Nov/2026:08:41:02 +0000] \"GET / HTTP/1.1\" 200 703\n"
truncated:
  description: Whether bytes over O(max_bytes) were dropped from RV(content).
  returned: when O(dest) is not set
  type: bool
  sample: false
size:
  description: How many bytes of log RV(content) holds, or O(dest) received.
  returned: success
  type: int
  sample: 64
dest:
  description: The file written.
  returned: when O(dest) is set
  type: str
  sample: /srv/logs/app.stdout.log
sha256:
  description: The SHA-256 checksum of what O(dest) received.
  returned: when O(dest) is set
  type: str
  sample: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
"""

import collections
import os
import tempfile
import time

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import MAX_INT64, MAX_SECONDS, check_at_most
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import resolve_allocation
from ansible_collections.nomad_iis.management.plugins.module_utils._stream_frames import StreamFrameDecoder

# The first window tail_lines reads, per line asked for and at least; it doubles until it is enough
# (at most to the largest offset Nomad takes).
BYTES_PER_LINE = 256
MIN_WINDOW = 16 * 1024
MAX_TAIL_LINES = MAX_INT64 // BYTES_PER_LINE
SPOOL_IN_MEMORY = 1024 * 1024
COPY_CHUNK = 64 * 1024


class LineTail:
    """Finds where the last ``lines`` lines start in data fed to it in chunks, remembering only the
    positions of the last ``lines + 1`` line breaks."""

    def __init__(self, lines):
        self.lines = lines
        self.size = 0
        self.last_byte = None
        self._breaks = collections.deque(maxlen=lines + 1)

    def feed(self, chunk):
        start = 0
        while True:
            found = chunk.find(b'\n', start)
            if found < 0:
                break
            self._breaks.append(self.size + found)
            start = found + 1
        if chunk:
            self.size += len(chunk)
            self.last_byte = chunk[-1:]

    def start(self, whole):
        """The offset where the last ``lines`` lines start, or None if the data does not show it:
        ``whole`` says whether the data is the whole log (then a log with fewer lines starts at 0)."""
        if self.lines == 0:
            return self.size
        # A final line without a line break counts as a line; the break that ends the line before
        # the first wanted one is what marks the start.
        needed = self.lines + 1 if self.last_byte == b'\n' else self.lines
        if len(self._breaks) >= needed:
            return self._breaks[-needed] + 1
        return 0 if whole else None


def first_window(lines):
    return max(lines * BYTES_PER_LINE, MIN_WINDOW)


class ContentSink:
    """Collects log bytes for ``content``, at most ``cap`` of them: keeping the first ones (and then
    asking the reader to stop) or, with ``keep_end``, the last ones."""

    def __init__(self, cap, keep_end):
        self.cap = cap
        self.keep_end = keep_end
        self.buffer = bytearray()
        self.truncated = False

    def write(self, data):
        """Take ``data``; return False when nothing more is wanted."""
        if self.keep_end:
            self.buffer += data
            if len(self.buffer) > self.cap:
                del self.buffer[:len(self.buffer) - self.cap]
                self.truncated = True
            return True
        room = self.cap - len(self.buffer)
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        self.buffer += data
        return not self.truncated

    def text(self):
        data = bytes(self.buffer)
        if self.truncated and self.keep_end:
            # The cut may have split a character: drop its continuation bytes.
            skip = 0
            while skip < min(3, len(data)) and 0x80 <= data[skip] <= 0xBF:
                skip += 1
            data = data[skip:]
        return data.decode('utf-8', 'replace')

    def result(self):
        return dict(content=self.text(), truncated=self.truncated, size=len(self.buffer))


class DestSink:
    """Streams log bytes into a ``FileWriter``; it always takes more."""

    def __init__(self, writer):
        self.writer = writer

    def write(self, data):
        self.writer.write(data)
        return True


class LogReader:
    """One task log of one allocation, read through ``/v1/client/fs/logs`` as framed JSON."""

    def __init__(self, client, alloc_id, task, log_type):
        self.client = client
        self.alloc_id = alloc_id
        self.task = task
        self.log_type = log_type

    def chunks(self, origin, offset, follow_seconds=None):
        """Yield the log's bytes as frames arrive. With ``follow_seconds``, keep following the log
        until that many seconds have passed (Nomad's heartbeat frames come every second, so the
        deadline is checked even while the task writes nothing)."""
        follow = bool(follow_seconds)
        action = 'reading the %s log of task %r in allocation %s' % (self.log_type, self.task, self.alloc_id)
        params = dict(task=self.task, type=self.log_type, origin=origin, offset=offset, follow=follow, plain=False)
        deadline = time.monotonic() + follow_seconds if follow else None
        decoder = StreamFrameDecoder()
        with self.client.open('GET', '/v1/client/fs/logs/{}', self.alloc_id, action=action, params=params) as answer:
            for chunk in answer:
                for frame in decoder.feed(chunk):
                    if frame.data:
                        yield frame.data
                if deadline is not None and time.monotonic() >= deadline:
                    return
        decoder.close()

    def tail_start(self, lines):
        """Find the last ``lines`` lines: return ``(spool, start)``, a temporary file holding a
        window of the end of the log and the offset in it where those lines start."""
        window = first_window(lines)
        while True:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # pylint: disable=consider-using-with
            tail = LineTail(lines)
            for data in self.chunks('end', window):
                spool.write(data)
                tail.feed(data)
            start = tail.start(whole=tail.size < window)
            if start is not None:
                return spool, start
            spool.close()
            window = min(window * 2, MAX_INT64)


def copy_from(spool, start, sink):
    spool.seek(start)
    for chunk in iter(lambda: spool.read(COPY_CHUNK), b''):
        if not sink.write(chunk):
            return


def choose_task(alloc, task):
    tasks = sorted((alloc.get('TaskStates') or {}).keys())
    if task is None:
        if len(tasks) == 1:
            return tasks[0]
        raise OptionError('allocation %s has %s: set task to one of them' % (
            alloc['ID'], 'the tasks %s' % ', '.join(repr(t) for t in tasks) if tasks else 'no task state yet'))
    if tasks and task not in tasks:
        raise OptionError('allocation %s has no task %r (its tasks: %s)' % (alloc['ID'], task, ', '.join(tasks)))
    return task


def validate(params):
    for name in ('tail_lines', 'tail_bytes', 'offset'):
        if params[name] is not None and params[name] < 0:
            raise OptionError('%s must be 0 or more, not %d' % (name, params[name]))
    if params['follow'] is not None and params['follow'] < 1:
        raise OptionError('follow must be 1 or more seconds, not %d' % params['follow'])
    if params['max_bytes'] < 1:
        raise OptionError('max_bytes must be 1 or more, not %d' % params['max_bytes'])
    # Nomad takes offsets as int64; tail_lines becomes one (a window of BYTES_PER_LINE per line).
    check_at_most(params, 'tail_lines', MAX_TAIL_LINES)
    check_at_most(params, 'tail_bytes', MAX_INT64)
    check_at_most(params, 'offset', MAX_INT64)
    check_at_most(params, 'follow', MAX_SECONDS, ' seconds')


def read_log(reader, params, sink):
    follow = params['follow']
    origin, offset = 'start', params['offset'] or 0
    if params['tail_lines'] is not None:
        spool, start = reader.tail_start(params['tail_lines'])
        with spool:
            if not follow:
                copy_from(spool, start, sink)
                return
            offset = spool.seek(0, os.SEEK_END) - start
        origin = 'end'
    elif params['tail_bytes'] is not None:
        origin, offset = 'end', params['tail_bytes']
    skip = 0
    if origin == 'end' and offset == 0:
        # Nomad takes "0 bytes before the end" for the start of the newest log file. Ask for the
        # last byte instead, and drop it if there was one.
        if not follow:
            return
        offset = 1
        skip = 1 if b''.join(reader.chunks('end', 1)) else 0
    for data in reader.chunks(origin, offset, follow):
        if skip:
            data, skip = data[skip:], 0
        if data and not sink.write(data):
            return


def run(module):
    params = module.params
    validate(params)
    alloc = resolve_allocation(module.nomad, params['alloc_id'])
    task = choose_task(alloc, params['task'])
    reader = LogReader(module.nomad, alloc['ID'], task, params['type'])
    result = dict(changed=False, alloc_id=alloc['ID'], task=task, type=params['type'])
    if params['dest'] is None:
        sink = ContentSink(params['max_bytes'], keep_end=params['tail_lines'] is not None or params['tail_bytes'] is not None)
        read_log(reader, params, sink)
        result.update(sink.result())
        return result
    local = module.local_dest(params['dest']).require_file().file()
    before = local.state()
    with local.writer() as writer:
        read_log(reader, params, DestSink(writer))
        written = local.keep(writer, before)
    result.update(changed=written.changed, dest=written.path, sha256=written.sha256, size=written.size)
    if module._diff and written.changed:
        result['diff'] = written.diff
    return result


def main():
    module = NomadModule(
        argument_spec=dict(
            alloc_id=dict(type='str', required=True),
            task=dict(type='str'),
            type=dict(type='str', choices=['stdout', 'stderr'], default='stdout'),
            tail_lines=dict(type='int'),
            tail_bytes=dict(type='int'),
            offset=dict(type='int'),
            follow=dict(type='int'),
            max_bytes=dict(type='int', default=1024 * 1024),
            dest=dict(type='path'),
        ),
        mutually_exclusive=[('tail_lines', 'tail_bytes', 'offset')],
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == '__main__':
    main()
