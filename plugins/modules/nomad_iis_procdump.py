#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_iis_procdump
short_description: Take a memory dump of the worker process of an IIS task's application pool
version_added: 0.1.0
description:
  - Has the Nomad IIS driver take a full memory dump (C(procdump -ma)) of the worker process (C(w3wp)) of an
    application pool of an IIS task (C(driver = "iis")) running under Nomad, and streams it to a file on the
    controller, for example to analyse a hanging or leaking application.
  - On nodes without the Management API (O(via)), the module runs procdump itself over WinRM, as the driver
    does (C(procdump -accepteula -ma <pid> <file>)), writing the dump into the task's C(tmp) directory on the
    node. It streams the dump to O(dest) through Nomad's file system API and deletes it from the node.
  - The dump is streamed to disk in chunks, so memory use stays flat whatever its size. It is written
    through a temporary file and moved into place, so O(dest) never holds a partial dump.
  - The driver answers every failure with an empty C(500). So the module reads the task's status first and
    says what is wrong. It names an unknown pool (listing the task's pools), a stopped pool, or a pool without
    a worker process; application pools start their worker on demand, at the first request to their site.
    A C(500) while a worker runs lists the remaining causes (procdump missing, its EULA not accepted).
  - Never idempotent. Every run takes a new dump and reports a change when one was written.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.management_api
  - nomad_iis.management.winrm
  - nomad_iis.management.winrm.via
  - nomad_iis.management.connection
  - nomad_iis.management.iis_target
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad_iis
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module reads the task's status (an unknown pool fails; a pool without a worker
        process gives a warning), but takes no dump, requests no site and writes no file.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run takes a new dump.
options:
  app_pool:
    description:
      - The application pool whose worker process to dump, by its name in the job's C(application_pool)
        block (not the IIS name of the pool).
    type: str
    default: default
  dest:
    description:
      - Where to write the dump on the controller.
      - A file path, or a directory (an existing one, or a path ending in V(/)). A directory receives the
        dump under the name the Management API gives it, C(procdump_<alloc ID>_<task>_<time>.dmp).
      - Must be a directory when several allocations match (O(job)).
      - Missing directories are created.
    type: path
    required: true
  procdump_path:
    description:
      - Where procdump is installed on the nodes, for dumps over WinRM (O(via)). Through the Management API
        the driver's own C(procdump { binary_path }) applies instead.
    type: str
    default: 'C:\procdump.exe'
  warm_up:
    description:
      - When the pool is started but has no worker process yet, request the site once to start one (through
        the address Nomad allocated for the task's first http binding, at the path of an application of the
        pool), wait until the worker runs, and then take the dump.
      - Without it, a pool without a worker process is an error that says so.
      - A stopped pool is an error either way; start it first with M(nomad_iis.management.nomad_iis_pool).
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for a connection and then for each read of an answer.
      - If not set, V(600) for the dump and V(30) for every other request. procdump writes the whole dump
        before the answer starts, which takes minutes for a big worker process; then the dump is limited per
        read, not as a whole.
      - When set, it applies to every request.
    type: int
    default: null
notes:
  - The node's driver needs procdump. Set C(procdump { binary_path = "C:\\procdump.exe" accept_eula = true })
    in the C(config) block of the C(nomad_iis) plugin. Without a C(procdump) block it looks for
    C(C:\procdump.exe) and refuses to run it, since the EULA is not accepted.
  - A full dump holds the worker's whole memory, secrets included; keep the files safe.
  - "Over WinRM the dump is read back through Nomad's file system API (C(read-fs) in the job's namespace). If
    that transfer fails, the dump stays on the node and the message says how to fetch it with
    M(nomad_iis.management.nomad_alloc_fetch), which resumes where the transfer stopped."
  - Over WinRM, O(winrm_user) must be an administrator of the node (procdump needs the debug privilege).
seealso:
  - module: nomad_iis.management.nomad_iis_pool
  - module: nomad_iis.management.nomad_iis_screenshot
  - name: Nomad IIS Management API
    description: The driver's documentation of the API this module uses.
    link: https://nomad-iis.sevensolutions.cc/docs/features/management-api
"""

EXAMPLES = r"""
- name: Find the allocations of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
  register: web_allocs

- name: Dump the worker of the default pool of one allocation, starting it first if needed
  nomad_iis.management.nomad_iis_procdump:
    alloc_id: "{{ web_allocs.allocations[0].id }}"
    task: app
    warm_up: true
    dest: /tmp/nomad_iis_examples/dumps/
  register: dump

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ dump.allocations[0].dest }} ({{ dump.allocations[0].size }} bytes)"

- name: Dump the api pool of every allocation of job shop into one directory
  nomad_iis.management.nomad_iis_procdump:
    job: shop
    task: site
    app_pool: api
    warm_up: true
    dest: /tmp/nomad_iis_examples/dumps/

- name: Dump over WinRM with the procdump installed on the node
  nomad_iis.management.nomad_iis_procdump:
    job: shop
    task: site
    app_pool: api
    via: winrm
    winrm_user: "{{ windows_admin_user }}"
    winrm_password: "{{ windows_admin_password }}"
    procdump_path: 'C:\procdump.exe'
    dest: /tmp/nomad_iis_examples/dumps/
"""

RETURN = r"""
allocations:
  description: One entry per allocation.
  returned: always
  type: list
  elements: dict
  contains:
    alloc_id:
      description: Allocation ID.
      type: str
      sample: 8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f
    node_id:
      description: ID of the node that runs the allocation.
      type: str
    node_name:
      description: Name of that node.
      type: str
    task:
      description: The IIS task.
      type: str
      sample: app
    api_url:
      description: The Management API the node advertises (V(null) when it has none).
      type: str
      sample: http://10.0.0.5:5004
    via:
      description: How the dump was taken, V(api) or V(winrm).
      type: str
      sample: winrm
    changed:
      description: Whether a dump was written (or would be, in check mode).
      type: bool
    app_pool:
      description: The application pool dumped.
      type: str
      sample: default
    warmed_up:
      description: Whether the site was requested first to start a worker process (O(warm_up)).
      type: bool
    dest:
      description:
        - The dump file written.
        - In check mode, O(dest) itself when it is a directory, since the file name is not known yet.
      type: str
      sample: /tmp/dumps/procdump_8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f_app_2026-11-25-08-59-48.dmp
    file_name:
      description: The file name the Management API gave the dump (over WinRM, the same pattern).
      type: str
      returned: success and not check mode
      sample: procdump_8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f_app_2026-11-25-08-59-48.dmp
    size:
      description: Size of the dump in bytes.
      type: int
      returned: success and not check mode
    sha256:
      description: SHA-256 of the dump.
      type: str
      returned: success and not check mode
"""

import re
import time

from ansible_collections.nomad_iis.management.plugins.module_utils._alloc_fs import AllocFs, download, remote_identity
from ansible_collections.nomad_iis.management.plugins.module_utils._app_pools import STARTED, find_pool
from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import quote
from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import (
    DEFAULT_TIMEOUT,
    nomad_iis_winrm_argument_spec,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiError,
    NomadIisError,
    OptionError,
    shorten,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import ApiClient, ErrorHints
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import PartialFile, attachment_filename
from ansible_collections.nomad_iis.management.plugins.module_utils._module import TargetAction
from ansible_collections.nomad_iis.management.plugins.module_utils._roads import WinrmCapableModule

DUMP_TIMEOUT = 600
# How long a worker may take to show up in the status after its site answered.
WARM_UP_WAIT = 10.0
WARM_UP_POLL = 0.25
CAUSES_WITH_WORKER = (
    'procdump is not installed at the binary_path of the procdump block in the nomad_iis plugin config of the '
    'node (without the block the driver looks for C:\\procdump.exe), or its EULA is not accepted (set '
    'procdump { accept_eula = true } there), or procdump wrote no dump; see the nomad_iis.log of the node')


class SiteClient(ApiClient):
    """The task's site itself, for the warm-up request (no credentials: it is the application)."""

    hints = ErrorHints(address="the site's http binding (the node's address and the port Nomad allocated)",
                       auth='the site', tls_verify='the site', client_cert='the site')


class PoolProblem(NomadIisError):
    """The pool has no worker process to dump."""


def status_action(target):
    return 'reading the status of %s' % target.label


def pool_status(road, target, pool):
    """``(state, worker running)`` of the pool, or ``('gone', False)`` when the task has no such pool."""
    found = find_pool(road.read_pools(status_action(target)), pool)
    return (found['status'], found['worker_process_running']) if found else ('gone', False)


def dump_action(target, pool):
    return 'taking a process dump of application pool %r in %s' % (pool, target.label)


def pool_problem(target, pool, state, warm_up):
    """Why there is nothing to dump, or None when a worker process runs."""
    if state != STARTED:
        return ('%s failed: the pool is %s, so no worker process runs to dump; start it (for example with '
                'nomad_iis.management.nomad_iis_pool state=started) and request its site once'
                % (dump_action(target, pool), state))
    if not warm_up:
        return ('%s failed: no worker process is running for pool %r; request the site once to start it '
                '(IIS starts workers on demand), or set warm_up=true' % (dump_action(target, pool), pool))
    return None


# --- Warm-up ---------------------------------------------------------------------------------------

def pool_url_path(config, pool):
    """The URL path of the first application of ``pool`` (IIS routes a request to the application
    with the longest matching alias, so the alias itself reaches this pool)."""
    for app in config.get('application') or []:
        if (app.get('application_pool') or 'default') == pool:
            alias = (app.get('alias') or '').strip('/')
            return '/%s/' % alias if alias else '/'
    return '/'


def warm_up(road, target, pool, timeout):
    """Request the pool's site once, then wait until its worker process shows in the status."""
    site = target.site()
    path = pool_url_path(target.config, pool)
    headers = {'Host': site.host_header} if site.host_header else None
    client = SiteClient(site.address, None, headers=headers, timeout=timeout, retries=0)
    action = 'requesting %s to start a worker process of application pool %r in %s' % (site.url(path), pool,
                                                                                       target.label)
    try:
        answer = client.open('GET', path, action=action)
    except ApiError as exc:
        if exc.status is None:
            raise
        if exc.status == 503:
            raise PoolProblem('%s failed: 503 Service Unavailable, so the pool is not running; start it with '
                              'nomad_iis.management.nomad_iis_pool state=started' % action) from None
        # Any other status was answered by a worker process (IIS serves its errors from the worker too).
    else:
        with answer:
            try:
                next(iter(answer), None)
            except ApiError:
                pass  # the answer started: a worker process took the request
    deadline = time.monotonic() + WARM_UP_WAIT
    while True:
        state, running = pool_status(road, target, pool)
        if running:
            return
        if time.monotonic() > deadline:
            raise PoolProblem('%s: the site answered, but after %d seconds application pool %r is %s and still has '
                              'no worker process' % (action, WARM_UP_WAIT, pool, state))
        time.sleep(WARM_UP_POLL)


# --- Dump ------------------------------------------------------------------------------------------

def diagnose_500(road, target, pool, action, exc):
    """Upstream's 500 has an empty body: read the status again and say what is left."""
    api = road.client
    try:
        state, running = pool_status(road, target, pool)
    except ApiError:
        state, running = 'unknown', None
    if running is False:
        cause = ('the worker process of application pool %r went away before it was dumped (the pool is %s now); '
                 'request the site again and retry' % (pool, state))
    else:
        cause = 'a worker process of application pool %r is running, so the remaining causes are: %s' % (
            pool, CAUSES_WITH_WORKER)
    return ApiError('%s failed: 500 from %s without a reason: %s' % (action, api.base_url, cause),
                    status=500, url=exc.url, method=exc.method)


def take_dump(road, target, pool, dest, dump_timeout):
    """Run procdump on the pool's worker and stream the dump into ``dest`` (a ``LocalDest``)."""
    action = dump_action(target, pool)
    try:
        answer = road.client.procdump(target.alloc_id, target.task, pool, action, dump_timeout)
    except ApiError as exc:
        if exc.status == 500:
            raise diagnose_500(road, target, pool, action, exc) from None
        raise
    with answer:
        name = attachment_filename(answer.headers) or 'procdump_%s_%s_%s.dmp' % (
            target.alloc_id, target.task, time.strftime('%Y-%m-%d-%H-%M-%S'))
        # The body is Content-Length delimited and upstream closes the connection after it.
        written = dest.file(name).replace(answer.chunks(reuse_buffer=True))
    return dict(dest=written.path, file_name=name, size=written.size, sha256=written.sha256)


def dump_name(target):
    return 'procdump_%s_%s_%s.dmp' % (target.alloc_id, target.task, time.strftime('%Y-%m-%d-%H-%M-%S'))


def procdump_line(procdump_path, pid, remote):
    """The driver's command line; a line that starts with a quote is quoted once more, as cmd /c
    strips the first and the last quote of such a line."""
    program = quote(procdump_path, 'procdump_path') if re.search(r'[\s&()^]', procdump_path) else procdump_path
    if '"' in program or '%' in program:
        program = quote(procdump_path, 'procdump_path')
    line = '%s -accepteula -ma %d %s' % (program, pid, quote(remote, 'dump path'))
    return '"%s"' % line if line.startswith('"') else line


def delete_remote(road, remote):
    road.shell.run('del /f /q %s' % quote(remote, 'dump path'), 'deleting the dump %s from the node' % remote)


def take_dump_over_winrm(module, road, target, pool, dest, dump_timeout):
    """Run procdump on the node as the driver does, into the task's tmp directory, stream the dump
    through Nomad's fs API into ``dest``, and delete it from the node."""
    action = '%s over WinRM' % dump_action(target, pool)
    pids = (road.worker_pids(status_action(target)) or {}).get(pool) or []
    if not pids:
        raise PoolProblem('%s failed: the worker process of application pool %r went away' % (action, pool))
    name = dump_name(target)
    remote = '%s\\tmp\\%s' % (road.task_dir(), name)
    fs_path = '%s/tmp/%s' % (target.task, name)
    result = road.shell.run(procdump_line(module.params['procdump_path'], pids[0], remote), action, timeout=dump_timeout)
    fs = AllocFs(module.nomad, target.alloc)
    info = fs.find(fs_path, action='%s: looking for the dump' % action)
    if not info or not info.get('Size'):
        if info:
            delete_remote(road, remote)  # an empty file: procdump gave up after creating it
        if result.rc == 9009:
            cause = 'procdump is not installed at %r on the node (set procdump_path)' % module.params['procdump_path']
        else:
            cause = 'procdump wrote no dump (exit %s): %s' % (result.rc, shorten(result.stdout + result.stderr) or 'no output')
        raise PoolProblem('%s failed: %s' % (action, cause))
    local = dest.file(name)
    partial = PartialFile(local)
    local.make_parent()
    try:
        sha256 = download(fs, fs_path, remote_identity(target.alloc_id, fs_path, info), partial, module.params['retries'])[0]
    except ApiError as exc:
        raise exc.with_message('%s; the dump stays on the node as %s: fetch it with nomad_iis.management.nomad_alloc_fetch '
                               '(alloc_id=%s path=%s dest=%s), which resumes where this transfer stopped, then delete it'
                               % (exc, remote, target.alloc_id, fs_path, local.path)) from None
    partial.commit()
    delete_remote(road, remote)
    return dict(dest=local.path, file_name=name, size=info.get('Size'), sha256=sha256)


class ProcessDump(TargetAction):
    """Takes a process dump of the worker of ``app_pool`` in each target."""

    def check_options(self):
        params = self.params
        if not params['app_pool'] or not params['app_pool'].strip():
            raise OptionError('app_pool must not be empty')
        if params['timeout'] is not None and params['timeout'] < 1:
            raise OptionError('timeout must be at least 1 second, not %d' % params['timeout'])
        # The dump takes longer than any other request: it gets timeout when set, else its own.
        self.dump_timeout = params['timeout'] or DUMP_TIMEOUT
        self.timeout = params['timeout'] or DEFAULT_TIMEOUT
        if params['timeout'] is None:
            params['timeout'] = DEFAULT_TIMEOUT

    def prepare(self, targets):
        self.dest = self.module.local_dest(self.params['dest']).require_directory_for(len(targets))

    def act(self, target, entry):
        pool = self.params['app_pool']
        road = self.module.road(target)
        pools = road.read_pools(status_action(target))
        found = find_pool(pools, pool)
        if found is None:
            raise OptionError('%s failed: the task has no application pool %r (its pools: %s)'
                              % (dump_action(target, pool), pool, ', '.join(sorted(str(p['name']) for p in pools)) or 'none'))
        state, running = found['status'], found['worker_process_running']
        entry.update(app_pool=pool, warmed_up=False)
        problem = None if running else pool_problem(target, pool, state, self.params['warm_up'])
        if self.check_mode:
            if problem:
                self.module.warn('a dump would fail now: %s' % problem)
            entry.update(changed=True, dest=self.dest.path_for())
            return None
        if problem:
            raise PoolProblem(problem)
        if not running:
            warm_up(road, target, pool, self.timeout)
            entry['warmed_up'] = True
        if road.via == 'winrm':
            entry.update(take_dump_over_winrm(self.module, road, target, pool, self.dest, self.dump_timeout), changed=True)
        else:
            entry.update(take_dump(road, target, pool, self.dest, self.dump_timeout), changed=True)
        return None


def argument_spec(**module_options):
    """The shared options, with ``timeout`` unset by default: the dump waits longer than the rest."""
    spec = nomad_iis_winrm_argument_spec(**module_options)
    spec['timeout'] = dict(spec['timeout'], default=None)
    return spec


class ProcdumpModule(WinrmCapableModule):
    shared_options = staticmethod(argument_spec)


def main():
    module = ProcdumpModule(
        argument_spec=dict(
            app_pool=dict(type='str', default='default'),
            dest=dict(type='path', required=True),
            warm_up=dict(type='bool', default=False),
            procdump_path=dict(type='str', default='C:\\procdump.exe'),
        ),
        supports_check_mode=True,
    )
    module.run_targets(ProcessDump(module))


if __name__ == '__main__':
    main()
