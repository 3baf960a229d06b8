# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The two roads to a task's IIS: the driver's Management API, and appcmd over WinRM.

Python versions supported: 3.11 and newer.

A module with a ``via`` option asks ``module.road(target)`` and gets an ``ApiRoad`` or a
``WinrmRoad`` (``_iis_targets.choose_via`` decided which). Both read the task's pools in the same
shape (``[{name, status, worker_process_running}]``, logical pool names, the driver's order) and act
on all of them as the Management API does: ``start`` starts the stopped pools, ``stop`` stops the
started ones, ``recycle`` recycles every pool. Over WinRM the pools are found by the driver's names
(``_iis_names``), confirmed against what appcmd lists; WinRM adds the worker PIDs and the task's
directory on the node (the physical path the driver gave the task's application).

``WinrmMixin`` gives a module one ``WinrmShell`` per node for the whole run, and closes them when
the module exits or fails.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re
import threading
import urllib.parse

from ansible_collections.nomad_iis.management.plugins.module_utils._app_pools import read_pools
from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import AlreadyInState, Appcmd
from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import nomad_iis_winrm_argument_spec
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import join_host_port
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_names import confirm, version_of
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadIisModule
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_nodes import node_host
from ansible_collections.nomad_iis.management.plugins.module_utils._winrm import WinrmOptions, WinrmShells

DEFAULT_PORTS = dict(https=5986, http=5985)


class PoolNotStarted(NomadIisError):
    """A recycle was asked of a pool that is not started."""


def winrm_url(params, node):
    """The WinRM URL of a node: ``winrm_host`` (one host, or a dict by node name; a host may carry a
    port or be a whole URL), else the node's address, with ``winrm_scheme`` and ``winrm_port``."""
    host = params.get('winrm_host')
    name = node.get('Name') or node.get('ID')
    if isinstance(host, dict):
        host = host.get(name)
    if host is not None and not isinstance(host, str):
        raise OptionError('winrm_host must be a host name, or a dictionary from node names to host names')
    host = (host or '').strip() or node_host(node)
    if not host:
        raise OptionError('node %r has no address to reach WinRM at: set winrm_host' % name)
    if '://' in host:
        parts = urllib.parse.urlsplit(host)
        return host if parts.path not in ('', '/') else host.rstrip('/') + '/wsman'
    scheme = params.get('winrm_scheme') or 'https'
    match = re.match(r'^(\[[^\]]+\]|[^:]+):(\d+)$', host)
    if match:
        return '%s://%s:%s/wsman' % (scheme, match.group(1), match.group(2))
    port = params.get('winrm_port') or DEFAULT_PORTS[scheme]
    return '%s://%s/wsman' % (scheme, join_host_port(host, port))


class ApiRoad:
    """A task's pools through the Management API."""

    via = 'api'

    def __init__(self, module, target):
        self.target = target
        self.client = module.management_client(target.api_url)

    def read_pools(self, action=None):
        return read_pools(self.client, self.target, action)

    def worker_pids(self, action=None):
        """The API does not report worker PIDs."""
        return None

    def pool_action(self, verb, action):
        self.client.pool_action(self.target.alloc_id, self.target.task, verb, action)


class WinrmRoad:
    """A task's pools through appcmd over WinRM."""

    via = 'winrm'

    def __init__(self, module, target, shell):
        self.module = module
        self.target = target
        self.shell = shell
        self.appcmd = Appcmd(shell.run)
        self._names = None

    def names(self, action=None):
        """The task's confirmed ``DriverNames``."""
        if self._names is None:
            action = action or 'finding the IIS objects of %s' % self.target.label
            self._names = confirm(self.target.alloc_id, self.target.task, self.target.config, version_of(self.target.node),
                                  list(self.appcmd.pools(action)), list(self.appcmd.sites(action)),
                                  '%s on %s' % (self.target.label, self.shell.where()))
        return self._names

    def _states(self, action):
        return dict((name.lower(), pool['state']) for name, pool in self.appcmd.pools(action).items())

    def read_pools(self, action=None):
        action = action or 'reading the application pools of %s' % self.target.label
        names = self.names(action)
        states = self._states(action)
        pids = self._pids(action)
        return [dict(name=logical, status=states.get(iis.lower(), 'Unknown'), worker_process_running=bool(pids.get(iis.lower())))
                for logical, iis in names.pools.items()]

    def _pids(self, action):
        return dict((name.lower(), pids) for name, pids in self.appcmd.worker_pids(action).items())

    def worker_pids(self, action=None):
        """``{logical pool: [pid, ...]}`` of the running worker processes."""
        action = action or 'listing the worker processes of %s' % self.target.label
        names = self.names(action)
        pids = self._pids(action)
        return dict((logical, pids.get(iis.lower(), [])) for logical, iis in names.pools.items())

    def pool_action(self, verb, action):
        """``start``, ``stop`` or ``recycle`` every pool of the task, as the Management API does."""
        names = self.names(action)
        states = self._states(action)
        for logical, iis in names.pools.items():
            state = states.get(iis.lower())
            if verb == 'start' and state != 'Stopped':
                continue
            if verb == 'stop' and state != 'Started':
                continue
            what = '%s application pool %r (%s) of %s' % (dict(start='starting', stop='stopping', recycle='recycling')[verb],
                                                          logical, iis, self.target.label)
            try:
                self.appcmd.act(verb, 'APPPOOL', iis, what)
            except AlreadyInState as exc:
                raise PoolNotStarted('%s: the pool is not started' % exc) from None

    def task_dir(self, action=None):
        """The task's directory on the node (a Windows path): the physical path the driver gave one
        of its applications, less the application's ``path`` (relative to the task directory)."""
        action = action or 'finding the directory of %s on the node' % self.target.label
        names = self.names(action)
        for app in self.target.config.get('application') or []:
            path = app.get('path') or ''
            if re.match(r'^([A-Za-z]:|[\\/])', path):
                continue  # a rooted path says nothing about the task directory
            alias = (app.get('alias') or '').strip('/')
            for vdir in self.appcmd.vdirs('%s/%s' % (names.site, alias), action):
                physical = vdir.get('physicalPath') or ''
                if vdir.get('path') != '/' or not re.match(r'^[A-Za-z]:\\', physical):
                    continue
                parts = [p for p in re.split(r'[\\/]', path) if p not in ('', '.')]
                found = [p for p in re.split(r'[\\/]', physical) if p]
                if parts and [p.lower() for p in found[-len(parts):]] != [p.lower() for p in parts]:
                    continue
                return '\\'.join(found[:len(found) - len(parts)])
        return self._task_dir_from_agent(action)

    def _task_dir_from_agent(self, action):
        """The local agent's ``Client.AllocDir``, when the agent at nomad_addr is the target's node."""
        agent = self.module.nomad.get_json('/v1/agent/self', action=action) or {}
        if ((agent.get('stats') or {}).get('client') or {}).get('node_id') == self.target.node_id:
            config = agent.get('config') or {}
            alloc_dir = (config.get('Client') or {}).get('AllocDir') or '%s\\alloc' % config.get('DataDir', '')
            if re.match(r'^[A-Za-z]:\\', alloc_dir):
                return '%s\\%s\\%s' % (alloc_dir.rstrip('\\'), self.target.alloc_id, self.target.task)
        raise NomadIisError('%s failed: no application of the task has a physical path relative to the task directory, '
                            'and the agent at nomad_addr is not the agent of node %r' % (action, self.target.node_name))


class WinrmMixin:
    """One WinRM shell per node for the module run (``shell_for``), closed when the module ends."""

    _shells = None
    _shells_lock = threading.Lock()

    def shell_for(self, node):
        with self._shells_lock:
            if self._shells is None:
                self._shells = WinrmShells(WinrmOptions.from_params(self.params))
        self.check_winrm_options()
        return self._shells.get(winrm_url(self.params, node), node.get('Name') or node.get('ID'))

    def check_winrm_options(self):
        params = self.params
        if params.get('winrm_transport', 'ntlm') in ('ntlm', 'basic', 'credssp') and not params.get('winrm_user'):
            raise OptionError('acting over WinRM needs winrm_user and winrm_password (or NOMAD_IIS_WINRM_USER and '
                              'NOMAD_IIS_WINRM_PASSWORD)')
        if (params.get('winrm_operation_timeout') or 0) < 1:
            raise OptionError('winrm_operation_timeout must be at least 1 second')

    def close_shells(self):
        shells, self._shells = self._shells, None
        if shells is not None:
            shells.close_all()

    def exit_json(self, **kwargs):
        self.close_shells()
        super().exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        self.close_shells()
        super().fail_json(msg=msg, **kwargs)


class WinrmCapableModule(WinrmMixin, NomadIisModule):
    """A ``nomad_iis_*`` module with ``via``: ``road(target)`` is how it reaches each target."""

    shared_options = staticmethod(nomad_iis_winrm_argument_spec)

    def road(self, target):
        if target.via == 'winrm':
            return WinrmRoad(self, target, self.shell_for(target.node))
        return ApiRoad(self, target)
