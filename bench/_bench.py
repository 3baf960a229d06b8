# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the benchmarks share: a sandbox on free ports, playbooks and curl measured by the kernel's
accounting, test applications, and the machine's description (bench/README.md has the method).

The module runs as ansible-playbook runs it (local connection). Its interpreter is a small wrapper
that starts the real Python, waits for it with os.wait4() and records the module process's wall
time, CPU time and peak RSS (from the kernel: no sampling). curl and ansible-playbook are timed the
same way. The sandbox is stopped by its PID at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
API_KEY = 'bench-api-key'
TASK = 'app'
MIB = 1024 * 1024
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
    """python -m nomad_iis_sandbox serve on free ports (the demo cluster, or ``config``); stop() by PID.

    ``alloc`` is the first allocation; the methods act on it unless given another one.
    """

    def __init__(self, workdir, config=None):
        self.ready = os.path.join(workdir, 'sandbox.json')
        self.log_path = os.path.join(workdir, 'sandbox.log')
        command = [sys.executable, '-m', 'nomad_iis_sandbox', 'serve', '--state-dir', os.path.join(workdir, 'state'),
                   '--ready-file', self.ready, '--nomad-port', '0', '--api-port', '0', '--api-key', API_KEY,
                   '--inspect']
        if config:
            command += ['--config', config]
        with open(self.log_path, 'wb') as sandbox_log:
            self.process = subprocess.Popen(command, stdout=sandbox_log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        try:
            self.info = self._wait_ready()
            self.allocs = self.info['allocs']
            self.alloc = self.allocs[0]
            self.api_urls = dict((node['id'], node['management_api_url']) for node in self.info['nodes'])
            self.api_url = self.api_urls[self.alloc['node_id']]
            self.task_dir = self.task_dir_of(self.alloc)
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

    def state(self, hash_files=False, alloc=None):
        alloc = alloc or self.alloc
        url = '%s/state?alloc=%s&hash=%s' % (self.info['inspect_url'], alloc['id'], 'true' if hash_files else 'false')
        with urllib.request.urlopen(url, timeout=300) as response:
            return json.load(response)['allocs'][alloc['id']]

    def task_dir_of(self, alloc):
        return self.state(alloc=alloc)['tasks'][TASK]['dir']

    def fs_url(self, path, alloc=None):
        """The Management API URL of a task path, encoded twice as the collection does."""
        alloc = alloc or self.alloc
        encoded = urllib.parse.quote(urllib.parse.quote(path, safe=''), safe='')
        return '%s/api/v1/allocs/%s/%s/fs/%s' % (self.api_urls[alloc['node_id']], alloc['id'], TASK, encoded)

    def status_url(self, alloc=None):
        alloc = alloc or self.alloc
        return '%s/api/v1/allocs/%s/%s/status' % (self.api_urls[alloc['node_id']], alloc['id'], TASK)

    def delete(self, path, alloc=None):
        """DELETE a path through the Management API; a missing one (500 upstream) is fine."""
        request = urllib.request.Request(self.fs_url(path, alloc), method='DELETE', headers={'X-Api-Key': API_KEY})
        try:
            with urllib.request.urlopen(request, timeout=120):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code != 500:
                raise

    def clear(self, folder, alloc=None):
        """No ``folder`` and no nomad_iis_fs manifest in the allocation: the next push starts from nothing."""
        self.delete(folder, alloc)
        self.delete('private/.nomad_iis_fs', alloc)
        if os.path.exists(os.path.join(self.task_dir_of(alloc or self.alloc), *folder.split('/'))):
            raise RuntimeError('%s is still there' % folder)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- Data ---------------------------------------------------------------------------------------

def app_layout(rng, files, total):
    """(relative path, size, compressible) of ``files`` files summing to ``total`` bytes, shaped like an
    ASP.NET application: 8 % binaries in bin/ (60 % of the bytes, incompressible), 80 % static assets
    in wwwroot/lib/<package>/{dist,src}/ (50 a package) and 12 % views in Views/<area>/<controller>/
    (text), sizes log-normal."""
    binaries, views = files * 8 // 100, files * 12 // 100
    layout = [('bin/Assembly%03d.dll' % index, rng.lognormvariate(0, 1.0), False) for index in range(binaries)]
    for package in range((files - binaries - views) // 50):
        for kind in ('dist', 'src'):
            for index in range(25):
                layout.append(('wwwroot/lib/pkg%02d/%s/file%02d.%s' % (package, kind, index, 'js' if index % 3 else 'css'),
                               rng.lognormvariate(0, 1.0), True))
    for area in range(10):
        for controller in range(6):
            for index in range(views // 60):
                layout.append(('Views/Area%d/Ctrl%d/View%d.cshtml' % (area, controller, index), rng.lognormvariate(0, 0.8), True))
    if len(layout) != files:
        raise ValueError('%d files do not make that layout (a multiple of 500 does)' % files)
    binary_weight = sum(w for dummy, w, text in layout if not text)
    text_weight = sum(w for dummy, w, text in layout if text)
    sized = []
    for rel, weight, text in layout:
        share = 0.4 * total / text_weight if text else 0.6 * total / binary_weight
        sized.append((rel, max(1, int(weight * share)), text))
    # Make the total exact on the largest file.
    largest = max(range(len(sized)), key=lambda i: sized[i][1])
    rel, size, text = sized[largest]
    sized[largest] = (rel, size + total - sum(s for dummy, s, dummy2 in sized), text)
    return sized


def write_app(root, files, total, seed=20260501):
    """Write the application of ``app_layout`` below ``root``; return {relative path: sha256}."""
    rng = random.Random(seed)
    words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for dummy in range(rng.randint(2, 10))) for dummy in range(600)]
    words += ['function', 'return', 'var', 'const', '{', '}', '(', ')', ';', '\n', '<div>', '</div>', '@Model']
    text_pool = ' '.join(rng.choices(words, k=2 * MIB // 5)).encode('ascii')
    doubled = text_pool * 2
    hashes = {}
    for rel, size, text in app_layout(rng, files, total):
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
        hashes[rel] = hashlib.sha256(data).hexdigest()
    return hashes


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


def check_file(path, size, sha256):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(8 * MIB), b''):
            digest.update(chunk)
    if os.path.getsize(path) != size or digest.hexdigest() != sha256:
        raise RuntimeError('%s is not the file that was served' % path)


def count_files(directory):
    return sum(len(names) for dummy, dummy2, names in os.walk(directory))


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

    def playbook(self, name, task, processes=1):
        """Run one task (``processes`` module runs: 1, or the items of a loop) on localhost; return
        (module result, measurement of the module processes: wall and CPU time added up, the
        highest peak RSS, and the whole ansible-playbook run's wall time as ``playbook_seconds``)."""
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
        if len(records) != processes:
            raise RuntimeError('%s: expected %d module process(es), measured %d' % (name, processes, len(records)))
        return result, {'seconds': sum(r['seconds'] for r in records), 'cpu_seconds': sum(r['cpu_seconds'] for r in records),
                        'max_rss_kib': max(r['max_rss_kib'] for r in records), 'playbook_seconds': playbook['seconds']}

    def curl(self, *args):
        """Run curl; return its measurement."""
        code, measured = run_measured(['curl', '-sS', '--fail', '-H', 'X-Api-Key: ' + API_KEY] + list(args))
        if code != 0:
            raise RuntimeError('curl %s failed with exit code %d' % (' '.join(args), code))
        return measured

    def connection(self, **args):
        """Module arguments with the sandbox's connection options added."""
        return dict(args, nomad_addr=self.sandbox.info['nomad_addr'], api_key=API_KEY, task=TASK)

    def module_args(self, **args):
        """Module arguments for the sandbox's first allocation."""
        return self.connection(alloc_id=self.sandbox.alloc['id'], **args)


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


def load_average():
    return '%.2f %.2f %.2f' % os.getloadavg()
