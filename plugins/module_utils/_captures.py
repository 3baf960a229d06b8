# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the capture modules (``nomad_iis_screenshot``, ``nomad_iis_procdump``) share.

Python versions supported: 3.11 and newer.

* ``Destination``: ``dest`` as one file, or as a directory that takes the file name the server
  gives in ``Content-Disposition`` (needed when several allocations are captured).
* ``attachment_filename``: that file name, made safe to use as a local name.
* ``task_site``: where a task's IIS site answers, from the port Nomad allocated for the label of
  its first ``http`` binding (``AllocatedResources``), for requests that go to the site itself
  rather than through the Management API.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import email.message
import email.utils
import ipaddress
import os
import re
import urllib.parse

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import LocalFileError, OptionError

# Characters that are no good in a local file name on any platform.
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')


def attachment_filename(headers):
    """The file name of a ``Content-Disposition: attachment`` answer (``filename*`` first), reduced
    to a plain file name; None when the answer names none or only an unusable one."""
    value = headers.get('Content-Disposition') if headers is not None else None
    if not value:
        return None
    message = email.message.Message()
    message['Content-Disposition'] = value
    plain = extended = None
    for key, param in (message.get_params(header='content-disposition') or [])[1:]:
        if key.lower() != 'filename':
            continue
        if isinstance(param, tuple):  # filename*=charset''percent-encoded (RFC 5987), which wins
            try:
                extended = email.utils.collapse_rfc2231_value(param)
            except (LookupError, ValueError):  # an unknown charset
                pass
        elif plain is None:
            plain = param
    name = extended or plain
    if not name:
        return None
    name = _UNSAFE_NAME_CHARS.sub('_', name.replace('\\', '/').rsplit('/', 1)[-1]).strip()
    if name in ('', '.', '..'):
        return None
    return name


class Destination:
    """``dest``: a file, or a directory (an existing one, or a path ending in ``/``) that receives
    each capture under the server's file name."""

    def __init__(self, dest, count):
        self.dest = dest
        self.is_dir = dest.endswith(('/', os.sep)) or os.path.isdir(dest)
        if count > 1 and not self.is_dir:
            raise OptionError('dest %r must be a directory (an existing one, or end it with /) when %d allocations '
                              'match: each capture goes into it under its own name' % (dest, count))

    def path_for(self, file_name):
        """The local file a capture named ``file_name`` goes to; its directory is created if missing."""
        path = os.path.join(self.dest, file_name) if self.is_dir else self.dest
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise LocalFileError('cannot create the directory %r for %r: %s' % (directory, path, exc.strerror or exc)) from exc
        return path

    def planned(self, file_name=None):
        """What check mode reports as ``dest``: the file when known, else the directory."""
        if not self.is_dir:
            return self.dest
        return os.path.join(self.dest, file_name) if file_name else self.dest


class TaskSite:
    """The address a task's IIS site answers at (its first http binding)."""

    def __init__(self, host, port, hostname=None):
        self.host = host
        self.port = port
        self.hostname = hostname  # the binding's host name, which IIS matches against the Host header

    @property
    def address(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return 'http://%s:%d' % (host, self.port)

    def url(self, path='/'):
        """The URL of ``path`` through the allocated address."""
        return self.address + path

    def named_url(self, path='/'):
        """The URL of ``path`` with the binding's host name (what a browser is sent to), or None."""
        if not self.hostname or '*' in self.hostname:
            return None
        return 'http://%s:%d%s' % (self.hostname, self.port, path)

    @property
    def host_header(self):
        """The Host header IIS expects, or None when the binding takes any host name."""
        if not self.hostname or '*' in self.hostname:
            return None
        return '%s:%d' % (self.hostname, self.port)


def _task_config(alloc, task):
    for group in (alloc.get('Job') or {}).get('TaskGroups') or []:
        if group.get('Name') == alloc.get('TaskGroup'):
            for candidate in group.get('Tasks') or []:
                if candidate.get('Name') == task:
                    return candidate.get('Config') or {}
    return {}


def task_config(nomad, target):
    """The allocation (as Nomad returns it) and the driver config of the target's task."""
    alloc = nomad.get_json('/v1/allocation/%s' % target.alloc_id, 'reading allocation %s' % target.alloc_id)
    return alloc, _task_config(alloc, target.task)


def _allocated_ports(alloc, task):
    """{label: (host IP, port)} of what Nomad allocated: shared ports first, then the networks of
    the group and of the task (older and task-level network blocks)."""
    resources = alloc.get('AllocatedResources') or {}
    shared = resources.get('Shared') or {}
    found = {}
    for port in shared.get('Ports') or []:
        found.setdefault(port.get('Label'), (port.get('HostIP'), port.get('Value')))
    networks = list(shared.get('Networks') or [])
    networks += ((resources.get('Tasks') or {}).get(task) or {}).get('Networks') or []
    for network in networks:
        for port in (network.get('ReservedPorts') or []) + (network.get('DynamicPorts') or []):
            found.setdefault(port.get('Label'), (network.get('IP'), port.get('Value')))
    return found


def _unspecified(host):
    if not host:
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def task_site(nomad, target, alloc=None):
    """Where the target task's site answers: its first http binding's port as Nomad allocated it,
    on the host IP of that port (the node's address when the port is bound to every address).
    ``alloc`` is the allocation when already read."""
    if alloc is None:
        alloc, config = task_config(nomad, target)
    else:
        config = _task_config(alloc, target.task)
    bindings = [b for b in config.get('binding') or [] if str(b.get('type', 'http')).lower() == 'http']
    if not bindings:
        raise OptionError('%s has no http binding to reach its site at (https-only sites are not supported)'
                          % target.label)
    binding = bindings[0]
    label = str(binding.get('port', ''))
    host, port = _allocated_ports(alloc, target.task).get(label, (None, None))
    if port is None and label.isdigit():
        port = int(label)  # a static port number, allowed with a host name
    if not port:
        raise OptionError("%s: Nomad allocated no port for the label %r of the site's http binding"
                          % (target.label, label))
    if _unspecified(host):
        node = nomad.get_json('/v1/node/%s' % alloc['NodeID'], 'reading node %s' % alloc['NodeID'])
        host = urllib.parse.urlsplit('//' + (node.get('HTTPAddr') or '')).hostname
        if not host:
            raise OptionError('%s: node %r has no address to reach the site at' % (target.label, node.get('Name')))
    return TaskSite(host, int(port), binding.get('hostname') or None)
