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

The module runs as ansible-playbook runs it (local connection). Its interpreter is a small wrapper
that starts the real Python, waits for it with os.wait4() and records the module process's wall
time and peak RSS (ru_maxrss, from the kernel: no sampling). curl and ansible-playbook are timed
the same way. One sandbox (python -m nomad_iis_sandbox serve, free ports) serves the whole run and
is stopped by its PID at the end; everything is written below one temporary directory, removed
at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
API_KEY = 'bench-api-key'
TASK = 'app'
MIB = 1024 * 1024
BIG_FILE = 'local/big.bin'
BIG_SIZE = 1024 * MIB
APP_FOLDER = 'local/app'
APP_FILES = 5000
APP_BYTES = 200 * 1000 * 1000
TARGETS = {'download': 1.3, 'upload': 1.5, 'noop': 3.0}
DOWNLOAD_RSS_LIMIT_MIB = 100
READY_TIMEOUT = 120

# The module's interpreter: run the real Python, record wall time and peak RSS of that process.
WRAPPER = '''#!%(python)s
import json, os, subprocess, sys, time
argv = [%(python)r]
if os.environ.get('BENCH_PROFILE'):
    # Not python -m cProfile: AnsiballZ drops its __main__'s directory (then the stdlib's) from sys.path.
    argv += ['-c', 'import cProfile, runpy, sys; out = sys.argv[1]; sys.argv = sys.argv[2:]; '
             'cProfile.runctx("runpy.run_path(sys.argv[0], run_name=name)", {}, {"runpy": runpy, "sys": sys, "name": "__main__"}, out)',
             os.path.join(os.environ['BENCH_PROFILE'], '%%d.prof' %% time.time_ns())]
start = time.perf_counter()
child = subprocess.Popen(argv + sys.argv[1:])
dummy, status, usage = os.wait4(child.pid, 0)
elapsed = time.perf_counter() - start
child.returncode = os.waitstatus_to_exitcode(status)
with open(os.environ['BENCH_MEASURE'], 'a') as log:
    log.write(json.dumps({'seconds': elapsed, 'cpu_seconds': usage.ru_utime + usage.ru_stime,
                          'max_rss_kib': usage.ru_maxrss}) + '\\n')
sys.exit(child.returncode)
'''


def log(message):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'), message))
    sys.stderr.flush()


def run_measured(command, env=None, stdout=None):
    """Run a command; return its exit code and {seconds, cpu_seconds, max_rss_kib} of that process."""
    start = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=stdout) as child:
        dummy, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, {'seconds': elapsed, 'cpu_seconds': usage.ru_utime + usage.ru_stime,
                              'max_rss_kib': usage.ru_maxrss}


# -- The sandbox --------------------------------------------------------------------------------

class Sandbox:
    """python -m nomad_iis_sandbox serve with the demo cluster on free ports; stop() by PID."""

    def __init__(self, workdir):
        self.ready = os.path.join(workdir, 'sandbox.json')
        self.log_path = os.path.join(workdir, 'sandbox.log')
        command = [sys.executable, '-m', 'nomad_iis_sandbox', 'serve', '--state-dir', os.path.join(workdir, 'state'),
                   '--ready-file', self.ready, '--nomad-port', '0', '--api-port', '0', '--api-key', API_KEY,
                   '--inspect']
        with open(self.log_path, 'wb') as sandbox_log:
            self.process = subprocess.Popen(command, stdout=sandbox_log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        try:
            self.info = self._wait_ready()
            self.alloc = self.info['allocs'][0]
            self.api_url = self.info['nodes'][0]['management_api_url']
            self.task_dir = self.state(hash_files=False)['tasks'][TASK]['dir']
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while not os.path.exists(self.ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                with open(self.log_path, encoding='utf-8', errors='replace') as handle:
                    raise RuntimeError('the sandbox did not start:\n' + handle.read())
            time.sleep(0.1)
        with open(self.ready, encoding='utf-8') as handle:
            return json.load(handle)

    def state(self, hash_files=False):
        url = '%s/state?alloc=%s&hash=%s' % (self.info['inspect_url'], self.alloc['id'], 'true' if hash_files else 'false')
        with urllib.request.urlopen(url, timeout=120) as response:
            return json.load(response)['allocs'][self.alloc['id']]

    def fs_url(self, path):
        """The Management API URL of a task path, encoded twice as the collection does."""
        encoded = urllib.parse.quote(urllib.parse.quote(path, safe=''), safe='')
        return '%s/api/v1/allocs/%s/%s/fs/%s' % (self.api_url, self.alloc['id'], TASK, encoded)

    def status_url(self):
        return '%s/api/v1/allocs/%s/%s/status' % (self.api_url, self.alloc['id'], TASK)

    def delete(self, path):
        """DELETE a path through the Management API; a missing one (500 upstream) is fine."""
        request = urllib.request.Request(self.fs_url(path), method='DELETE', headers={'X-Api-Key': API_KEY})
        try:
            with urllib.request.urlopen(request, timeout=120):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code != 500:
                raise

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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


def app_layout(rng):
    """(relative path, size, compressible) of 5,000 files summing to 200 MB, shaped like an ASP.NET
    application: 400 binaries in bin/ (about 60 % of the bytes, incompressible), 4,000 static assets
    in wwwroot/lib/<package>/{dist,src}/ and 600 views in Views/<area>/<controller>/ (text)."""
    files = []
    for index in range(400):
        files.append(('bin/Assembly%03d.dll' % index, rng.lognormvariate(0, 1.0), False))
    for package in range(80):
        for kind in ('dist', 'src'):
            for index in range(25):
                files.append(('wwwroot/lib/pkg%02d/%s/file%02d.%s' % (package, kind, index, 'js' if index % 3 else 'css'),
                              rng.lognormvariate(0, 1.0), True))
    for area in range(10):
        for controller in range(6):
            for index in range(10):
                files.append(('Views/Area%d/Ctrl%d/View%d.cshtml' % (area, controller, index), rng.lognormvariate(0, 0.8), True))
    assert len(files) == APP_FILES
    binary_weight = sum(w for dummy, w, text in files if not text)
    text_weight = sum(w for dummy, w, text in files if text)
    layout = []
    for rel, weight, text in files:
        share = 0.4 * APP_BYTES / text_weight if text else 0.6 * APP_BYTES / binary_weight
        layout.append((rel, max(1, int(weight * share)), text))
    # Make the total exact on the largest file.
    largest = max(range(len(layout)), key=lambda i: layout[i][1])
    rel, size, text = layout[largest]
    layout[largest] = (rel, size + APP_BYTES - sum(s for dummy, s, dummy2 in layout), text)
    return layout


def write_app(root, seed=20260501):
    rng = random.Random(seed)
    words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for dummy in range(rng.randint(2, 10))) for dummy in range(600)]
    words += ['function', 'return', 'var', 'const', '{', '}', '(', ')', ';', '\n', '<div>', '</div>', '@Model']
    text_pool = ' '.join(rng.choices(words, k=2 * MIB // 5)).encode('ascii')
    doubled = text_pool * 2
    for rel, size, text in app_layout(rng):
        path = os.path.join(root, *rel.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if text and size <= len(text_pool):
            start = rng.randrange(0, len(text_pool))
            data = doubled[start:start + size]
        elif text:
            data = (text_pool * (size // len(text_pool) + 1))[:size]
        else:
            data = rng.randbytes(size)
        with open(path, 'wb') as handle:
            handle.write(data)


def build_parts(src, tmpdir, collections):
    """The zip parts nomad_iis_fs sends for ``src`` (its own code); return (ZipParts, seconds)."""
    sys.path.insert(0, collections)
    from ansible_collections.nomad_iis.management.plugins.module_utils._transfer import (  # pylint: disable=import-outside-toplevel
        ZipParts,
        local_tree,
    )
    start = time.perf_counter()
    parts = ZipParts(local_tree(src), tmpdir=tmpdir)
    return parts, time.perf_counter() - start


# -- Runs ---------------------------------------------------------------------------------------

class Runner:
    """Runs one-task playbooks and curl against the sandbox, collecting measurements."""

    def __init__(self, workdir, sandbox, profile_dir=None):
        self.workdir = workdir
        self.sandbox = sandbox
        self.measure_file = os.path.join(workdir, 'measure.jsonl')
        self.wrapper = os.path.join(workdir, 'measured-python')
        with open(self.wrapper, 'w', encoding='utf-8') as handle:
            handle.write(WRAPPER % {'python': sys.executable})
        os.chmod(self.wrapper, 0o755)
        collections = os.path.join(workdir, 'collections', 'ansible_collections', 'nomad_iis')
        os.makedirs(collections)
        os.symlink(REPO, os.path.join(collections, 'management'))
        self.collections = os.path.join(workdir, 'collections')
        self.tree = os.path.join(workdir, 'results')  # the tree callback writes the task's result here
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections,
                        ANSIBLE_CALLBACKS_ENABLED='ansible.builtin.tree', ANSIBLE_CALLBACK_TREE_DIR=self.tree,
                        ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='true', ANSIBLE_DEPRECATION_WARNINGS='false',
                        ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_PIPELINING='false',
                        ANSIBLE_RETRY_FILES_ENABLED='false', BENCH_MEASURE=self.measure_file)
        if profile_dir:
            self.env['BENCH_PROFILE'] = profile_dir
        self.env.pop('ANSIBLE_CONFIG', None)

    def playbook(self, name, task):
        """Run one task on localhost; return (module result, measurement of the module process,
        with the whole ansible-playbook run's wall time as ``playbook_seconds``)."""
        play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [dict(task, name=name)]}]
        path = os.path.join(self.workdir, 'play.yml')
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(play, handle)  # JSON is YAML
        result_file = os.path.join(self.tree, 'localhost')
        for stale in (self.measure_file, result_file):
            if os.path.exists(stale):
                os.remove(stale)
        output = os.path.join(self.workdir, 'play.out')
        with open(output, 'wb') as out:
            code, playbook = run_measured(
                [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                 '-e', 'ansible_python_interpreter=%s' % self.wrapper, path], env=self.env, stdout=out)
        try:
            with open(result_file, encoding='utf-8') as handle:
                result = json.load(handle)
        except OSError:
            result = {'failed': True, 'msg': 'no result; see %s' % output}
        if code != 0 or result.get('failed'):
            raise RuntimeError('%s failed: %s' % (name, result.get('msg', result)))
        with open(self.measure_file, encoding='utf-8') as handle:
            records = [json.loads(line) for line in handle]
        if len(records) != 1:
            raise RuntimeError('%s: expected one module process, measured %d' % (name, len(records)))
        return result, dict(records[0], playbook_seconds=playbook['seconds'])

    def curl(self, *args):
        """Run curl; return its measurement."""
        code, measured = run_measured(['curl', '-sS', '--fail', '-H', 'X-Api-Key: ' + API_KEY] + list(args))
        if code != 0:
            raise RuntimeError('curl %s failed with exit code %d' % (' '.join(args), code))
        return measured

    def module_args(self, **args):
        return dict(args, nomad_addr=self.sandbox.info['nomad_addr'], api_key=API_KEY, alloc_id=self.sandbox.alloc['id'],
                    task=TASK)


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


def check_file(path, size, sha256):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(8 * MIB), b''):
            digest.update(chunk)
    if os.path.getsize(path) != size or digest.hexdigest() != sha256:
        raise RuntimeError('%s is not the file that was served' % path)


def count_files(directory):
    return sum(len(names) for dummy, dummy2, names in os.walk(directory))


def clear_remote(sandbox):
    """No application folder and no nomad_iis_fs manifest: the next push starts from nothing."""
    sandbox.delete(APP_FOLDER)
    sandbox.delete('private/.nomad_iis_fs')
    if os.path.exists(os.path.join(sandbox.task_dir, *APP_FOLDER.split('/'))):
        raise RuntimeError('%s is still there' % APP_FOLDER)


def bench_upload(runner, sandbox, src, parts, repeat, results):
    remote_dir = os.path.join(sandbox.task_dir, *APP_FOLDER.split('/'))
    push = {'nomad_iis.management.nomad_iis_fs': runner.module_args(path=APP_FOLDER, src=src + '/')}
    for rep in range(repeat):
        clear_remote(sandbox)
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

        clear_remote(sandbox)
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

def machine():
    with open('/proc/meminfo', encoding='ascii') as handle:
        mem_kib = int(next(line for line in handle if line.startswith('MemTotal:')).split()[1])
    model = platform.processor()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            model = next(line.split(':', 1)[1].strip() for line in handle if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    from ansible.release import __version__ as ansible_version  # pylint: disable=import-outside-toplevel
    curl = subprocess.run(['curl', '--version'], check=True, stdout=subprocess.PIPE, text=True).stdout.split('\n', 1)[0]
    return {'cpu': model, 'cores': os.cpu_count(), 'memory_gib': round(mem_kib / 1024 / 1024, 1),
            'kernel': platform.release(), 'python': platform.python_version(), 'ansible_core': ansible_version,
            'curl': curl}


def median(values):
    return statistics.median(values) if values else float('nan')


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
    load_start = '%.2f %.2f %.2f' % os.getloadavg()
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
            write_app(src)
            parts_dir = os.path.join(workdir, 'parts')
            os.makedirs(parts_dir)
            parts, parts_seconds = build_parts(src, parts_dir, runner.collections)
            with parts:
                extra.update(parts=len(parts.paths), parts_seconds=parts_seconds,
                             parts_bytes=sum(os.path.getsize(p) for p in parts.paths))
                log('%d zip parts, %d bytes, built in %.2f s' % (extra['parts'], extra['parts_bytes'], parts_seconds))
                bench_upload(runner, sandbox, src, parts, args.repeat, results)

        extra['load_start'], extra['load_end'] = load_start, '%.2f %.2f %.2f' % os.getloadavg()
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
