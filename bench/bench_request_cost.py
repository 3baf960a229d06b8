# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What one folder listing through Nomad's API costs the client and the sandbox (bench/README.md).

    .venv/bin/python bench/bench_request_cost.py [--requests 500] [--repeat 2]

A push or an unchanged re-run of nomad_iis_fs lists every folder of the application, one request
each (Nomad has no recursive listing). This sends the same ``fs/ls`` request ``--requests`` times,
three ways, and reports CPU time per request of this process and of the sandbox's (medians of the
repetitions):
a new connection per request (urllib's own handlers, what the collection did before it kept
connections open), one kept connection with bare ``http.client`` (the floor), and the collection's
Nomad client.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from _bench import Runner, Sandbox, log  # bench/ is sys.path[0] when this script runs


def sandbox_cpu(pid):
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def measure(name, send, count, pid):
    cpu, server, start = time.process_time(), sandbox_cpu(pid), time.perf_counter()
    for dummy in range(count):
        send()
    row = dict(name=name, wall_ms=(time.perf_counter() - start) * 1000 / count,
               client_ms=(time.process_time() - cpu) * 1000 / count, sandbox_ms=(sandbox_cpu(pid) - server) * 1000 / count)
    log('%-40s wall %.2f ms, client CPU %.2f ms, sandbox CPU %.2f ms per request'
        % (name, row['wall_ms'], row['client_ms'], row['sandbox_ms']))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--requests', type=int, default=500, help='requests per way and repetition')
    parser.add_argument('--repeat', type=int, default=5, help='repetitions of the three ways')
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix='nomad-iis-bench-requests-')
    sandbox = None
    try:
        sandbox = Sandbox(workdir)
        runner = Runner(workdir, sandbox)  # links the collection where Python can import it
        sys.path.insert(0, runner.collections)
        from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import (  # pylint: disable=import-outside-toplevel
            NomadClient,
        )
        addr, alloc_id = sandbox.info['nomad_addr'], sandbox.alloc['id']
        path = '/v1/client/fs/ls/%s?path=alloc' % alloc_id  # the allocation's shared folder, always there
        opener = urllib.request.build_opener()
        kept = http.client.HTTPConnection(urllib.parse.urlsplit(addr).netloc)
        client = NomadClient(addr=addr)

        def new_connection():
            with opener.open(addr + path) as answer:
                answer.read()

        def bare_kept_connection():
            kept.request('GET', path)
            kept.getresponse().read()

        def collection_client():
            client.get_json('/v1/client/fs/ls/{}', alloc_id, params=dict(path='alloc'), action='listing')

        rows = []
        for dummy in range(args.repeat):
            rows.append(measure('a new connection per request (urllib)', new_connection, args.requests, sandbox.info['pid']))
            rows.append(measure('a kept connection, bare http.client', bare_kept_connection, args.requests, sandbox.info['pid']))
            rows.append(measure("a kept connection, the collection's client", collection_client, args.requests,
                                sandbox.info['pid']))
        sys.stdout.write('\n| one `fs/ls` through Nomad\'s API | client CPU | sandbox CPU |\n|---|---|---|\n')
        for name in dict.fromkeys(row['name'] for row in rows):
            mine = [row for row in rows if row['name'] == name]
            sys.stdout.write('| %s | %.2f ms | %.2f ms |\n' % (name, statistics.median(r['client_ms'] for r in mine),
                                                               statistics.median(r['sandbox_ms'] for r in mine)))
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
