# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AnsibleModule every module of the collection is built on, and the per-target runner.

Python versions supported: 3.11 and newer.

``NomadModule`` adds the shared options to the module's own, builds the Nomad client lazily, and
is the error boundary: the collection's errors, and any local ``OSError`` or zip error that got
through, end in one ``fail_json`` whose message names the action, the object and the cause (and
never holds a secret), keeping what was already done in the result. Modules describe their
behaviour and raise; they never format a traceback into ``msg``.

``NomadIisModule.run_targets`` is the one loop over the allocations a ``nomad_iis_*`` module acts
on: it resolves the targets, gives each its entry of ``allocations`` to fill, keeps one Management
API client per API URL, works on up to ``max_parallel`` targets at a time, and assembles
``changed``, ``allocations`` and ``diff`` in the targets' order. A failure keeps every entry already
made, the failed ones included (marked ``failed``, with their ``msg``). The module itself says only
what it does to one target (a ``TargetAction``); each target's work depends on nothing but its own
entry and what ``prepare`` set up, so targets can run side by side.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import concurrent.futures
import threading
import traceback
import zipfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import (
    IIS_TARGET_MUTUALLY_EXCLUSIVE,
    IIS_TARGET_REQUIRED_ONE_OF,
    nomad_argument_spec,
    nomad_iis_argument_spec,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiError,
    NomadIisError,
    OptionError,
    describe_os_error,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import resolve_targets
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalDest
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import ManagementClient
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient


def describe_local_error(exc):
    """One message for a local failure that no layer turned into a collection error."""
    if isinstance(exc, OSError):
        where = ' %r' % exc.filename if exc.filename else ''
        return 'a local file operation on the controller failed%s: %s' % (where, describe_os_error(exc))
    return 'a local zip file on the controller cannot be used: %s' % exc


class NomadModule(AnsibleModule):
    """A ``nomad_*`` module: Nomad connection options plus ``argument_spec``."""

    shared_options = staticmethod(nomad_argument_spec)

    def __init__(self, argument_spec, **kwargs):
        super().__init__(argument_spec=self.shared_options(**argument_spec), **kwargs)
        self._nomad = None

    @property
    def nomad(self):
        """The Nomad API client, built from the module's options on first use."""
        if self._nomad is None:
            self._nomad = NomadClient.from_params(self.params)
        return self._nomad

    def local_dest(self, path, option='dest', is_dir=None, make_parents=True):
        """The ``LocalDest`` of a path option, honouring check mode."""
        return LocalDest(path, option, self.check_mode, is_dir, make_parents)

    def run(self, action, partial=None):
        """Call ``action(self)`` and exit with the dict it returns.

        A failure fails the module with one message (and ``status`` when an HTTP answer came), with
        ``partial()`` (what was already done, e.g. ``allocations``) in the result.
        """
        try:
            result = action(self)
        except (NomadIisError, OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            self.fail(exc, **(partial() if partial else {}))
        self.exit_json(**result)

    def fail(self, exc, **result):
        if isinstance(exc, ApiError) and exc.status is not None:
            result['status'] = exc.status
        message = str(exc) if isinstance(exc, NomadIisError) else describe_local_error(exc)
        self.fail_json(msg=message, exception=traceback.format_exc(), **result)


class TargetAction:
    """What a ``nomad_iis_*`` module does to each target; ``run_targets`` calls, in this order:

    ``check_options()`` before any request; ``prepare(targets)`` once the targets are known;
    ``act(target, entry)`` per target, filling ``entry`` (already ``target.result(changed=False)``)
    as it goes and returning its diff or None; ``finish(result, targets)`` to add module-wide results;
    ``close()`` at the end in any case. ``act`` may run in several threads at once.
    """

    require_api = True

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode

    def check_options(self):
        pass

    def prepare(self, targets):
        pass

    def act(self, target, entry):
        raise NotImplementedError

    def finish(self, result, targets):
        pass

    def close(self):
        """Called once the run is over, whether it succeeded or not (e.g. to remove temporary files)."""


class NomadIisModule(NomadModule):
    """A ``nomad_iis_*`` module: Nomad, Management API, connection and targeting options."""

    shared_options = staticmethod(nomad_iis_argument_spec)

    def __init__(self, argument_spec, mutually_exclusive=None, required_one_of=None, **kwargs):
        super().__init__(argument_spec,
                         mutually_exclusive=list(mutually_exclusive or []) + IIS_TARGET_MUTUALLY_EXCLUSIVE,
                         required_one_of=list(required_one_of or []) + IIS_TARGET_REQUIRED_ONE_OF, **kwargs)
        self._clients = {}
        self._clients_lock = threading.Lock()

    def management_client(self, api_url):
        """The Management API client of ``api_url``, one per URL for the whole run."""
        with self._clients_lock:
            if api_url not in self._clients:
                self._clients[api_url] = ManagementClient.from_params(self.params, api_url)
            return self._clients[api_url]

    def run_targets(self, action):
        """Run the ``TargetAction`` ``action`` on every target and exit with the result.

        At most ``max_parallel`` targets are worked on at a time (0: all of them). Entries and
        diffs keep the order of the targets, whatever finishes first. After a failure nothing new
        starts; the targets under way finish, and every entry made so far stays in the result.
        """
        slots, diffs = [], []

        def summary():
            entries = [entry for entry in slots if entry is not None]
            return dict(changed=any(entry.get('changed') for entry in entries), allocations=entries)

        def work(index, target):
            entry = slots[index] = target.result(changed=False)
            try:
                diffs[index] = action.act(target, entry)
            except BaseException as exc:
                entry['failed'] = True
                entry['msg'] = str(exc) if isinstance(exc, NomadIisError) else describe_local_error(exc)
                raise

        def run(module):
            if module.params['max_parallel'] < 0:
                raise OptionError('max_parallel must be 0 (all allocations at once) or more, not %d'
                                  % module.params['max_parallel'])
            action.check_options()
            targets = resolve_targets(module.nomad, module.params, require_api=action.require_api)
            slots.extend([None] * len(targets))
            diffs.extend([None] * len(targets))
            action.prepare(targets)
            failures = run_bounded(targets, work, module.params['max_parallel'])
            if failures:
                raise first_failure(failures, len(failures))
            result = summary()
            if module._diff and any(diff is not None for diff in diffs):  # pylint: disable=protected-access
                result['diff'] = [diff for diff in diffs if diff is not None]
            action.finish(result, targets)
            return result

        try:
            self.run(run, partial=summary)
        finally:
            action.close()


def run_bounded(items, work, limit):
    """Call ``work(index, item)`` for each item, at most ``limit`` at a time (0: all at once), in
    the items' order. After a failure nothing new starts; the calls under way finish. Returns the
    failures as ``[(index, exception)]`` in the items' order."""
    limit = len(items) if not limit or limit > len(items) else limit
    failures = []
    if limit <= 1:
        for index, item in enumerate(items):
            try:
                work(index, item)
            except Exception as exc:  # pylint: disable=broad-exception-caught  # the caller reports it
                return [(index, exc)]
        return failures
    waiting = list(enumerate(items))[::-1]
    with concurrent.futures.ThreadPoolExecutor(max_workers=limit) as pool:
        running = {}
        while True:
            while waiting and not failures and len(running) < limit:
                index, item = waiting.pop()
                running[pool.submit(work, index, item)] = index
            if not running:
                break
            done, dummy = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                if future.exception() is not None:
                    failures.append((index, future.exception()))
    return sorted(failures, key=lambda failure: failure[0])


def first_failure(failures, count):
    """The error to fail the module with: the first target's, saying how many others failed too."""
    exc = failures[0][1]
    if count == 1 or not isinstance(exc, NomadIisError):
        return exc
    message = '%s (and %d more allocation(s) failed: see the entries of allocations marked failed)' % (exc, count - 1)
    if isinstance(exc, ApiError):
        return exc.with_message(message)
    return type(exc)(message)
