# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark nomad_iis_fs on many allocations (bench/README.md has the method and figures).

    .venv/bin/python bench/bench_many_allocations.py [--repeat 1] [--output results.json]

A sandbox of 4 nodes runs job web with 16 allocations; the application is 50 MB in 1,000 files.
(d) a cold push to the whole job with max_parallel 1, 4 and 16, against what users write without
    it (a loop: over the allocations calling the module once each) and against curl PUTting the
    same zip parts to each allocation one after the other, and four allocations at a time;
(e) the unchanged re-run on 16 allocations against the same on 1;
(f) the module's own CPU time for 16 allocations against 1.
Every push is checked on every allocation (sha256 of each file, through the inspection endpoint).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from _bench import (  # bench/ is sys.path[0] when this script runs
    Runner,
    Sandbox,
    build_parts,
    load_average,
    log,
    machine,
    median,
    write_app,
)

NODES = 4
ALLOCATIONS = 16
APP_FOLDER = 'local/app'
APP_FILES = 1000
APP_BYTES = 50 * 1000 * 1000
PARALLEL = (1, 4, 16)
CURL_AT_ONCE = 4
# (f) CPU for 16 <= 1.5x CPU for 1; (d) wall at max_parallel 4 <= 0.4x the loop; (e) re-run on 16 <= 3x on 1.
TARGETS = {'cpu': 1.5, 'wall': 0.4, 'noop': 3.0}

CLUSTER = {
    'nodes': [{'name': 'win-node-%d' % (index + 1)} for index in range(NODES)],
    'jobs': [{'id': 'web', 'groups': [{'name': 'web', 'count': ALLOCATIONS, 'tasks': [{'name': 'app'}]}]}],
}


class Bench:
    """The runs of one repetition, each checked on every allocation it wrote to."""

    def __init__(self, runner, sandbox, src, hashes, parts):
        self.runner = runner
        self.sandbox = sandbox
        self.src = src
        self.hashes = hashes
        self.parts = parts

    def clear(self, allocs=None):
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda alloc: self.sandbox.clear(APP_FOLDER, alloc), allocs or self.sandbox.allocs))

    def check(self, allocs=None):
        """Every file of the application, intact, in each allocation."""
        for alloc in allocs or self.sandbox.allocs:
            files = self.sandbox.state(hash_files=True, alloc=alloc)['tasks']['app']['files']
            found = dict((path[len(APP_FOLDER) + 1:], info['sha256']) for path, info in files.items()
                         if path.startswith(APP_FOLDER + '/') and info['type'] == 'file')
            if found != self.hashes:
                missing = sorted(set(self.hashes) - set(found))[:3]
                wrong = sorted(rel for rel in set(found) & set(self.hashes) if found[rel] != self.hashes[rel])[:3]
                raise RuntimeError('allocation %s: %d of %d files, missing e.g. %s, different e.g. %s'
                                   % (alloc['id'], len(found), len(self.hashes), missing, wrong))

    def push(self, name, max_parallel=None, alloc=None, changed=True):
        """One module run: the job (``max_parallel``) or one allocation; checks ``changed``."""
        if alloc is None:
            args = self.runner.connection(job='web', path=APP_FOLDER, src=self.src + '/', max_parallel=max_parallel)
            count = ALLOCATIONS
        else:
            args = self.runner.connection(alloc_id=alloc['id'], path=APP_FOLDER, src=self.src + '/')
            count = 1
        result, measured = self.runner.playbook(name, {'nomad_iis.management.nomad_iis_fs': args})
        entries = result['allocations']
        if len(entries) != count or result['changed'] != changed or any(e['changed'] != changed for e in entries):
            raise RuntimeError('%s: changed=%s on %d allocation(s)' % (name, result['changed'], len(entries)))
        if changed:
            measured['parts'] = entries[0]['parts']
        return measured

    def loop(self):
        """What users write without max_parallel: a loop calling the module once per allocation."""
        task = {'nomad_iis.management.nomad_iis_fs': self.runner.connection(
            alloc_id='{{ item }}', path=APP_FOLDER, src=self.src + '/'),
            'loop': [alloc['id'] for alloc in self.sandbox.allocs]}
        result, measured = self.runner.playbook('loop over 16 allocations', task, processes=ALLOCATIONS)
        if not all(item['changed'] for item in result['results']):
            raise RuntimeError('the loop left an allocation unchanged')
        return measured

    def curl(self, at_once):
        """curl PUTting the zip parts to every allocation, ``at_once`` allocations at a time (each
        allocation's parts one after the other, as the module sends them)."""
        def one_allocation(alloc):
            for part in self.parts.paths:
                self.runner.curl('-o', '/dev/null', '-X', 'PUT', '-H', 'Content-Type: application/zip', '-H', 'Expect:',
                                 '-T', part, self.sandbox.fs_url(APP_FOLDER, alloc))
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=at_once) as pool:
            list(pool.map(one_allocation, self.sandbox.allocs))
        return {'seconds': time.perf_counter() - start}


def run(bench, results):
    allocs = bench.sandbox.allocs
    for max_parallel in PARALLEL:
        bench.clear()
        measured = bench.push('push, max_parallel %d' % max_parallel, max_parallel)
        bench.check()
        results['parallel'][max_parallel].append(measured)
        log('max_parallel %2d: module %.2f s (CPU %.2f s, peak RSS %.1f MiB), ansible-playbook %.2f s'
            % (max_parallel, measured['seconds'], measured['cpu_seconds'], measured['max_rss_kib'] / 1024,
               measured['playbook_seconds']))

    bench.clear()
    measured = bench.loop()
    bench.check()
    results['loop'].append(measured)
    log('loop: modules %.2f s (CPU %.2f s), ansible-playbook %.2f s'
        % (measured['seconds'], measured['cpu_seconds'], measured['playbook_seconds']))

    for at_once in (1, CURL_AT_ONCE):
        bench.clear()
        measured = bench.curl(at_once)
        bench.check()
        results['curl'][at_once].append(measured)
        log('curl, %d allocation(s) at a time: %.2f s' % (at_once, measured['seconds']))

    # (e) and (f): one allocation, cold and unchanged, against the whole job unchanged.
    bench.clear(allocs[:1])
    measured = bench.push('push to one allocation', alloc=allocs[0])
    bench.check(allocs[:1])
    results['one'].append(measured)
    results['noop_one'].append(bench.push('unchanged, one allocation', alloc=allocs[0], changed=False))
    bench.clear()
    bench.push('push to every allocation', max_parallel=0)  # every allocation holds the application again
    results['noop_job'].append(bench.push('unchanged, 16 allocations', max_parallel=4, changed=False))
    log('one allocation: module %.2f s (CPU %.2f s); unchanged: one %.2f s, 16 %.2f s'
        % (measured['seconds'], measured['cpu_seconds'], results['noop_one'][-1]['seconds'],
           results['noop_job'][-1]['seconds']))


def summarise(results):
    def med(runs, key='seconds'):
        return median([run[key] for run in runs])

    summary = {
        'push_s': dict((str(mp), med(results['parallel'][mp])) for mp in PARALLEL),
        'push_cpu_s': dict((str(mp), med(results['parallel'][mp], 'cpu_seconds')) for mp in PARALLEL),
        'push_playbook_s': dict((str(mp), med(results['parallel'][mp], 'playbook_seconds')) for mp in PARALLEL),
        'push_peak_rss_mib': dict((str(mp), max(r['max_rss_kib'] for r in results['parallel'][mp]) / 1024) for mp in PARALLEL),
        'loop_playbook_s': med(results['loop'], 'playbook_seconds'),
        'loop_modules_s': med(results['loop']),
        'loop_cpu_s': med(results['loop'], 'cpu_seconds'),
        'curl_s': dict((str(n), med(results['curl'][n])) for n in (1, CURL_AT_ONCE)),
        'one_s': med(results['one']),
        'one_cpu_s': med(results['one'], 'cpu_seconds'),
        'noop_one_s': med(results['noop_one']),
        'noop_job_s': med(results['noop_job']),
    }
    # What the user waits for, both ways: the ansible-playbook run.
    summary['wall_ratio'] = summary['push_playbook_s']['4'] / summary['loop_playbook_s']
    summary['cpu_ratio'] = summary['push_cpu_s']['4'] / summary['one_cpu_s']
    summary['noop_ratio'] = summary['noop_job_s'] / summary['noop_one_s']
    summary['met'] = {'wall': summary['wall_ratio'] <= TARGETS['wall'], 'cpu': summary['cpu_ratio'] <= TARGETS['cpu'],
                      'noop': summary['noop_ratio'] <= TARGETS['noop']}
    return summary


def print_summary(summary, extra):
    out = sys.stdout
    out.write('\n| push of 50 MB / 1,000 files to 16 allocations | wall | CPU | ansible-playbook |\n|---|---|---|---|\n')
    for mp in PARALLEL:
        out.write('| nomad_iis_fs job, max_parallel %d | %.2f s | %.2f s | %.2f s |\n'
                  % (mp, summary['push_s'][str(mp)], summary['push_cpu_s'][str(mp)], summary['push_playbook_s'][str(mp)]))
    out.write('| loop: over the allocations, one module run each | %.2f s (16 runs) | %.2f s | %.2f s |\n'
              % (summary['loop_modules_s'], summary['loop_cpu_s'], summary['loop_playbook_s']))
    out.write('| curl PUT of the %d parts, one allocation after the other | %.2f s | | |\n'
              % (extra['parts'], summary['curl_s']['1']))
    out.write('| curl PUT of the %d parts, %d allocations at a time | %.2f s | | |\n'
              % (extra['parts'], CURL_AT_ONCE, summary['curl_s'][str(CURL_AT_ONCE)]))
    out.write('| nomad_iis_fs, one allocation | %.2f s | %.2f s | |\n' % (summary['one_s'], summary['one_cpu_s']))
    out.write('\n| target | measured | met |\n|---|---|---|\n')
    out.write('| CPU for 16 (max_parallel 4) <= %.1fx CPU for 1 | %.2fx | %s |\n'
              % (TARGETS['cpu'], summary['cpu_ratio'], 'yes' if summary['met']['cpu'] else 'NO'))
    out.write('| wall at max_parallel 4 <= %.1fx the loop (ansible-playbook runs) | %.2fx | %s |\n'
              % (TARGETS['wall'], summary['wall_ratio'], 'yes' if summary['met']['wall'] else 'NO'))
    out.write('| unchanged re-run on 16 <= %.1fx on 1 (%.2f s / %.2f s) | %.2fx | %s |\n'
              % (TARGETS['noop'], summary['noop_job_s'], summary['noop_one_s'], summary['noop_ratio'],
                 'yes' if summary['met']['noop'] else 'NO'))
    out.write('\nzip parts: %d (%d bytes), built once in %.2f s for curl; load average: %s at the start, %s at the end\n'
              % (extra['parts'], extra['parts_bytes'], extra['parts_seconds'], extra['load_start'], extra['load_end']))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--repeat', type=int, default=1, help='runs of each measurement; medians are reported')
    parser.add_argument('--output', help='write every measurement and the summary as JSON here')
    parser.add_argument('--workdir', help='where to put the sandbox and the data (default: a new temporary directory)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    workdir = tempfile.mkdtemp(prefix='nomad-iis-bench-many-', dir=args.workdir)
    sandbox = None
    results = {'parallel': dict((mp, []) for mp in PARALLEL), 'loop': [], 'curl': {1: [], CURL_AT_ONCE: []},
               'one': [], 'noop_one': [], 'noop_job': []}
    load_start = load_average()
    try:
        log('work directory %s' % workdir)
        config = os.path.join(workdir, 'cluster.json')
        with open(config, 'w', encoding='utf-8') as handle:
            json.dump(CLUSTER, handle)  # JSON is YAML
        sandbox = Sandbox(workdir, config)
        if len(sandbox.allocs) != ALLOCATIONS:
            raise RuntimeError('the sandbox runs %d allocations' % len(sandbox.allocs))
        log('sandbox pid %d: %d nodes, %d allocations' % (sandbox.info['pid'], len(sandbox.info['nodes']), len(sandbox.allocs)))
        runner = Runner(workdir, sandbox)
        src = os.path.join(workdir, 'app')
        hashes = write_app(src, APP_FILES, APP_BYTES)
        parts_dir = os.path.join(workdir, 'parts')
        os.makedirs(parts_dir)
        parts, parts_seconds = build_parts(src, parts_dir, runner.collections)
        with parts:
            extra = {'parts': len(parts.paths), 'parts_seconds': parts_seconds,
                     'parts_bytes': sum(os.path.getsize(p) for p in parts.paths)}
            bench = Bench(runner, sandbox, src, hashes, parts)
            for rep in range(args.repeat):
                log('repetition %d/%d' % (rep + 1, args.repeat))
                run(bench, results)
        extra.update(load_start=load_start, load_end=load_average())
        summary = summarise(results)
        print_summary(summary, extra)
        report = {'machine': machine(), 'repeat': args.repeat, 'summary': summary, 'extra': extra,
                  'runs': json.loads(json.dumps(results))}
        sys.stdout.write('\nmachine: %s\n' % json.dumps(report['machine']))
        if args.output:
            with open(args.output, 'w', encoding='utf-8') as handle:
                json.dump(report, handle, indent=2)
        return 0 if all(summary['met'].values()) else 1
    finally:
        if sandbox is not None:
            sandbox.stop()
        if args.keep:
            log('kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
