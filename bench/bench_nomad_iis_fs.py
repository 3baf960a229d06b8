# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark nomad_iis_fs against curl on one sandbox (bench/README.md has the method and figures).

    .venv/bin/python bench/bench_nomad_iis_fs.py [--repeat 3] [--output results.json] [--profile]

(a) fetch of a 1 GiB file: nomad_iis_fs state=fetched vs ``curl -o`` on the same Management API URL,
    and the module's peak RSS;
(b) upload of a 200 MB / 5,000-file application: nomad_iis_fs vs curl PUTting the same zip parts
    (built with the module's own ZipParts);
(c) the unchanged re-run of (b) vs one ansible.builtin.uri GET of the same Management API.

How the module, curl and the sandbox are run and measured: _bench.py. One sandbox (the demo cluster)
serves the whole run; everything is written below one temporary directory, removed at the end unless
--keep is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from _bench import (  # bench/ is sys.path[0] when this script runs
    API_KEY,
    MIB,
    Runner,
    Sandbox,
    build_parts,
    check_file,
    count_files,
    load_average,
    log,
    machine,
    median,
    write_app,
)

BIG_FILE = 'local/big.bin'
BIG_SIZE = 1024 * MIB
APP_FOLDER = 'local/app'
APP_FILES = 5000
APP_BYTES = 200 * 1000 * 1000
TARGETS = {'download': 1.3, 'upload': 1.5, 'noop': 3.0}
DOWNLOAD_RSS_LIMIT_MIB = 100


# -- Data ---------------------------------------------------------------------------------------

def write_big_file(path, size):
    """``size`` random bytes (nothing for a transport or the disk to shortcut); return the sha256."""
    digest = hashlib.sha256()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        for dummy in range(size // (8 * MIB)):
            chunk = os.urandom(8 * MIB)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


# -- Runs ---------------------------------------------------------------------------------------

def bench_download(runner, sandbox, big_sha256, repeat, results):
    out = os.path.join(runner.workdir, 'downloads')
    os.makedirs(out)
    for rep in range(repeat):
        dest = os.path.join(out, 'curl.bin')
        curl = runner.curl('-o', dest, sandbox.fs_url(BIG_FILE))
        check_file(dest, BIG_SIZE, big_sha256)
        os.remove(dest)
        results['download']['baseline'].append(curl)

        dest = os.path.join(out, 'module.bin')
        result, module = runner.playbook('fetch 1 GiB', {
            'nomad_iis.management.nomad_iis_fs': runner.module_args(path=BIG_FILE, state='fetched', dest=dest)})
        entry = result['allocations'][0]
        if not result['changed'] or entry['sha256'] != big_sha256 or entry['size'] != BIG_SIZE:
            raise RuntimeError('the fetch returned %r' % entry)
        check_file(dest, BIG_SIZE, big_sha256)
        os.remove(dest)
        results['download']['module'].append(module)

        # Context, not the target: Ansible's own way of downloading a URL to a file.
        dest = os.path.join(out, 'get_url.bin')
        dummy, get_url = runner.playbook('get_url 1 GiB', {'ansible.builtin.get_url': {
            'url': sandbox.fs_url(BIG_FILE), 'dest': dest, 'headers': {'X-Api-Key': API_KEY}, 'timeout': 120}})
        check_file(dest, BIG_SIZE, big_sha256)
        os.remove(dest)
        results['download']['get_url'].append(get_url)
        log('download %d/%d: curl %.2f s, module %.2f s (playbook %.2f s), module peak RSS %.1f MiB, get_url %.2f s'
            % (rep + 1, repeat, curl['seconds'], module['seconds'], module['playbook_seconds'], module['max_rss_kib'] / 1024,
               get_url['seconds']))


def bench_upload(runner, sandbox, src, parts, repeat, results):
    remote_dir = os.path.join(sandbox.task_dir, *APP_FOLDER.split('/'))
    push = {'nomad_iis.management.nomad_iis_fs': runner.module_args(path=APP_FOLDER, src=src + '/')}
    for rep in range(repeat):
        sandbox.clear(APP_FOLDER)
        curl = {'seconds': 0.0, 'cpu_seconds': 0.0, 'max_rss_kib': 0, 'requests': len(parts.paths)}
        for part in parts.paths:
            measured = runner.curl('-o', '/dev/null', '-X', 'PUT', '-H', 'Content-Type: application/zip',
                                   '-H', 'Expect:', '-T', part, sandbox.fs_url(APP_FOLDER))
            curl['seconds'] += measured['seconds']
            curl['cpu_seconds'] += measured['cpu_seconds']
            curl['max_rss_kib'] = max(curl['max_rss_kib'], measured['max_rss_kib'])
        if count_files(remote_dir) != APP_FILES:
            raise RuntimeError('curl left %d files in %s' % (count_files(remote_dir), APP_FOLDER))
        results['upload']['baseline'].append(curl)

        sandbox.clear(APP_FOLDER)
        result, module = runner.playbook('push 5,000 files', push)
        entry = result['allocations'][0]
        if not result['changed'] or len(entry['added']) != APP_FILES or count_files(remote_dir) != APP_FILES:
            raise RuntimeError('the push returned changed=%s, %d added' % (result['changed'], len(entry['added'])))
        module.update(parts=entry['parts'], bytes_sent=entry['bytes_sent'])
        results['upload']['module'].append(module)
        log('upload %d/%d: curl %.2f s (%d PUTs), module %.2f s (playbook %.2f s, %d parts), peak RSS %.1f MiB'
            % (rep + 1, repeat, curl['seconds'], len(parts.paths), module['seconds'], module['playbook_seconds'],
               entry['parts'], module['max_rss_kib'] / 1024))

        result, module = runner.playbook('push again', push)
        if result['changed']:
            raise RuntimeError('the re-run changed something: %r' % result['allocations'][0])
        results['noop']['module'].append(module)
        result, uri = runner.playbook('one GET', {'ansible.builtin.uri': {
            'url': sandbox.status_url(), 'headers': {'X-Api-Key': API_KEY}}})
        if result.get('status') != 200:
            raise RuntimeError('the GET answered %r' % result.get('status'))
        results['noop']['baseline'].append(uri)
        log('no-op %d/%d: module %.2f s (playbook %.2f s), uri GET %.2f s (playbook %.2f s)'
            % (rep + 1, repeat, module['seconds'], module['playbook_seconds'], uri['seconds'], uri['playbook_seconds']))


# -- Report -------------------------------------------------------------------------------------

def summarise(results):
    """Medians per measurement; ``ratio`` is the median of the paired (interleaved) runs' ratios,
    which is steadier than a ratio of medians when the machine's load drifts."""
    summary = {}
    for kind, runs in results.items():
        if not runs['module']:
            continue  # not measured (--only)
        pairs = list(zip(runs['module'], runs['baseline']))
        entry = {
            'baseline_s': median([b['seconds'] for b in runs['baseline']]),
            'baseline_cpu_s': median([b['cpu_seconds'] for b in runs['baseline']]),
            'module_s': median([m['seconds'] for m in runs['module']]),
            'module_cpu_s': median([m['cpu_seconds'] for m in runs['module']]),
            'module_playbook_s': median([m['playbook_seconds'] for m in runs['module']]),
            'module_peak_rss_mib': max(m['max_rss_kib'] for m in runs['module']) / 1024,
            'ratio': median([m['seconds'] / b['seconds'] for m, b in pairs]),
            'ratios': [round(m['seconds'] / b['seconds'], 2) for m, b in pairs],
            'target': TARGETS[kind],
        }
        if runs.get('get_url'):
            entry['get_url_s'] = median([g['seconds'] for g in runs['get_url']])
            entry['get_url_cpu_s'] = median([g['cpu_seconds'] for g in runs['get_url']])
            entry['get_url_peak_rss_mib'] = max(g['max_rss_kib'] for g in runs['get_url']) / 1024
            entry['module_to_get_url'] = median([m['seconds'] / g['seconds'] for m, g in zip(runs['module'], runs['get_url'])])
        if kind == 'noop':
            entry['baseline_playbook_s'] = median([b['playbook_seconds'] for b in runs['baseline']])
            entry['playbook_ratio'] = median([m['playbook_seconds'] / b['playbook_seconds'] for m, b in pairs])
        entry['met'] = entry['ratio'] <= entry['target']
        summary[kind] = entry
    if 'download' in summary:
        summary['download']['rss_met'] = summary['download']['module_peak_rss_mib'] < DOWNLOAD_RSS_LIMIT_MIB
    return summary


def print_summary(summary, extra):
    out = sys.stdout
    out.write('\n| measurement | baseline | nomad_iis_fs (module process) | ratio (runs) | target | met |\n'
              '|---|---|---|---|---|---|\n')
    if 'download' in summary:
        down = summary['download']
        out.write('| (a) fetch 1 GiB | curl -o: %.2f s (CPU %.2f s) | %.2f s (CPU %.2f s; ansible-playbook %.2f s), '
                  'peak RSS %.1f MiB | %.2f (%s) | <= %.1fx, RSS < %d MiB | %s |\n'
                  % (down['baseline_s'], down['baseline_cpu_s'], down['module_s'], down['module_cpu_s'],
                     down['module_playbook_s'], down['module_peak_rss_mib'], down['ratio'], ', '.join(map(str, down['ratios'])),
                     down['target'], DOWNLOAD_RSS_LIMIT_MIB, 'yes' if down['met'] and down['rss_met'] else 'NO'))
    if 'upload' in summary:
        up, noop = summary['upload'], summary['noop']
        out.write('| (b) push 200 MB / 5,000 files | curl PUT of %d parts: %.2f s (CPU %.2f s) | %.2f s (CPU %.2f s; '
                  'ansible-playbook %.2f s), peak RSS %.1f MiB | %.2f (%s) | <= %.1fx | %s |\n'
                  % (extra['parts'], up['baseline_s'], up['baseline_cpu_s'], up['module_s'], up['module_cpu_s'],
                     up['module_playbook_s'], up['module_peak_rss_mib'], up['ratio'], ', '.join(map(str, up['ratios'])),
                     up['target'], 'yes' if up['met'] else 'NO'))
        out.write('| (c) unchanged re-run of (b) | uri GET: %.2f s (CPU %.2f s; ansible-playbook %.2f s) | %.2f s (CPU %.2f s; '
                  'ansible-playbook %.2f s) | %.2f (%s); playbooks %.2f | <= %.1fx | %s |\n'
                  % (noop['baseline_s'], noop['baseline_cpu_s'], noop['baseline_playbook_s'], noop['module_s'],
                     noop['module_cpu_s'], noop['module_playbook_s'], noop['ratio'], ', '.join(map(str, noop['ratios'])),
                     noop['playbook_ratio'], noop['target'], 'yes' if noop['met'] else 'NO'))
        out.write('\nbuilding the %d zip parts (%d bytes) with ZipParts took %.2f s (not in the curl figure)\n'
                  % (extra['parts'], extra['parts_bytes'], extra['parts_seconds']))
    if 'download' in summary:
        down = summary['download']
        out.write('(a) for context: ansible.builtin.get_url of the same URL took %.2f s (CPU %.2f s, peak RSS %.1f MiB); '
                  'nomad_iis_fs / get_url = %.2f\n'
                  % (down['get_url_s'], down['get_url_cpu_s'], down['get_url_peak_rss_mib'], down['module_to_get_url']))
    if 'download' in summary and 'noop' in summary:
        # A module that started (as the uri GET of (c) does) and then received as fast as curl.
        floor = summary['noop']['baseline_s'] + summary['download']['baseline_s']
        out.write('(a) floor for any module: start-up (the uri GET of (c), %.2f s) + curl (%.2f s) = %.2f s, %.2fx curl\n'
                  % (summary['noop']['baseline_s'], summary['download']['baseline_s'], floor,
                     floor / summary['download']['baseline_s']))
    out.write('loopback: %s; load average: %s at the start, %s at the end\n'
              % (extra['loopback'], extra['load_start'], extra['load_end']))


def shape_loopback(rate):
    """A token bucket of ``rate`` on lo; refuses to replace a queueing discipline someone else set."""
    current = subprocess.run(['tc', 'qdisc', 'show', 'dev', 'lo'], check=True, capture_output=True, text=True).stdout
    if not current.startswith('qdisc noqueue'):
        raise SystemExit('lo already has a queueing discipline (%s); not replacing it' % current.strip())
    # The burst must hold a whole loopback packet (up to 64 KiB with GSO).
    subprocess.run(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '100ms'],
                   check=True)


def unshape_loopback():
    subprocess.run(['tc', 'qdisc', 'del', 'dev', 'lo', 'root'], check=True)
    log('loopback limit removed')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--repeat', type=int, default=3, help='runs of each measurement; medians are reported')
    parser.add_argument('--output', help='write every measurement and the summary as JSON here')
    parser.add_argument('--workdir', help='where to put the sandbox and the data (default: a new temporary directory)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument('--profile', action='store_true',
                        help='run the module under cProfile (slower; the .prof files stay in the work directory)')
    parser.add_argument('--only', choices=('download', 'upload'),
                        help='run only (a), or only (b) and (c); the summary then covers those')
    parser.add_argument('--shape-loopback', metavar='RATE',
                        help="limit the loopback interface to RATE (tc's syntax, e.g. 1gbit) for the run, as a network "
                             "between controller and node would; needs root and tc, and slows everything on lo meanwhile")
    args = parser.parse_args(argv)
    # SIGTERM ends the run through the finally blocks: the sandbox is stopped, lo is unshaped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    workdir = tempfile.mkdtemp(prefix='nomad-iis-bench-', dir=args.workdir)
    profile_dir = None
    if args.profile:
        profile_dir = os.path.join(workdir, 'profiles')
        os.makedirs(profile_dir)
    sandbox = None
    results = {kind: {'baseline': [], 'module': []} for kind in TARGETS}
    results['download']['get_url'] = []
    load_start = load_average()
    shaped = False
    try:
        if args.shape_loopback:
            shape_loopback(args.shape_loopback)
            shaped = True
            log('loopback limited to %s' % args.shape_loopback)
        log('work directory %s' % workdir)
        sandbox = Sandbox(workdir)
        log('sandbox pid %d, Nomad %s, Management API %s' % (sandbox.info['pid'], sandbox.info['nomad_addr'], sandbox.api_url))
        runner = Runner(workdir, sandbox, profile_dir)

        extra = {'loopback': args.shape_loopback or 'unshaped'}
        if args.only != 'upload':
            log('writing the 1 GiB file into the task directory')
            big_sha256 = write_big_file(os.path.join(sandbox.task_dir, *BIG_FILE.split('/')), BIG_SIZE)
            bench_download(runner, sandbox, big_sha256, args.repeat, results)
            os.remove(os.path.join(sandbox.task_dir, *BIG_FILE.split('/')))

        if args.only != 'download':
            log('writing the 5,000-file application')
            src = os.path.join(workdir, 'app')
            write_app(src, APP_FILES, APP_BYTES)
            parts_dir = os.path.join(workdir, 'parts')
            os.makedirs(parts_dir)
            parts, parts_seconds = build_parts(src, parts_dir, runner.collections)
            with parts:
                extra.update(parts=len(parts.paths), parts_seconds=parts_seconds,
                             parts_bytes=sum(os.path.getsize(p) for p in parts.paths))
                log('%d zip parts, %d bytes, built in %.2f s' % (extra['parts'], extra['parts_bytes'], parts_seconds))
                bench_upload(runner, sandbox, src, parts, args.repeat, results)

        extra['load_start'], extra['load_end'] = load_start, load_average()
        summary = summarise(results)
        report = {'machine': machine(), 'repeat': args.repeat, 'profiled': args.profile, 'summary': summary,
                  'extra': extra, 'runs': results}
        print_summary(summary, extra)
        sys.stdout.write('\nmachine: %s\n' % json.dumps(report['machine']))
        if args.output:
            with open(args.output, 'w', encoding='utf-8') as handle:
                json.dump(report, handle, indent=2)
        if args.profile:
            sys.stdout.write('profiles: %s\n' % profile_dir)
        return 0 if all(entry.get('met') is not False and entry.get('rss_met') is not False
                        for entry in summary.values()) else 1
    finally:
        if sandbox is not None:
            sandbox.stop()
        if shaped:
            unshape_loopback()
        if args.keep or args.profile:
            log('kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
