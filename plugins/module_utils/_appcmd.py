# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""IIS through ``%windir%\\system32\\inetsrv\\appcmd.exe``: command lines, answers and errors.

Python versions supported: 3.11 and newer.

appcmd is not on the PATH; WinRS runs every command line through ``cmd.exe /c``, which expands
``%VAR%`` (also inside quotes) and treats ``&|<>^`` as operators outside quotes. So every name goes
in double quotes, and a name holding ``"`` or ``%`` (or a line break) is refused before anything is
sent. Lists are read with ``/xml`` and parsed as XML (IIS docs, "Getting Started with AppCmd.exe").

appcmd prints its errors on stdout as ``ERROR ( message:... )`` or, for failures of IIS's run-time
calls, ``ERROR ( hresult:8007xxxx, message:Command execution failed.\\r\\n<text>\\r\\n )``, and exits
with the Win32 code of the HRESULT. ``AppcmdError`` subclasses say what happened: ``NotFound`` (1168),
``AlreadyInState`` (1056 starting something started, 1062 stopping something stopped),
``AppcmdMissing`` (9009: cmd.exe found no appcmd, IIS's management tools are missing),
``AccessDenied`` (5; 50 when WAS is not running or the user is not an administrator).
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, OptionError, shorten

APPCMD = r'%windir%\system32\inetsrv\appcmd.exe'
ERROR_LINE = re.compile(r'ERROR \( (?:hresult:([0-9a-fA-F]{8}), )?message:(.*?)\s*\)\s*$', re.DOTALL)
NOT_FOUND = 1168
ALREADY_RUNNING = 1056
NOT_STARTED = 1062
NOT_RECOGNIZED = 9009
ACCESS_DENIED = (5, 50)
# Characters cmd.exe would act on inside a quoted argument, or that end it.
UNQUOTABLE = re.compile(r'["%\r\n\x00]')
KINDS = ('APPPOOL', 'SITE', 'APP', 'VDIR', 'WP')


class AppcmdError(NomadIisError):
    """appcmd ran and failed: ``rc``, ``hresult`` (or None), ``reason`` (its message)."""

    def __init__(self, message, rc=None, hresult=None, reason=None):
        super().__init__(message)
        self.rc = rc
        self.hresult = hresult
        self.reason = reason


class NotFound(AppcmdError):
    """No object with that identifier (1168)."""


class AlreadyInState(AppcmdError):
    """Start of a started object (1056), stop or recycle of a stopped one (1062)."""


class AppcmdMissing(AppcmdError):
    """cmd.exe found no appcmd.exe (9009)."""


class AccessDenied(AppcmdError):
    """The user may not manage IIS (5), or WAS is not available (50)."""


def quote(name, what='name'):
    """``name`` in double quotes for a cmd.exe line; refuses what quoting cannot protect."""
    if not name or UNQUOTABLE.search(name):
        raise OptionError('%s %r cannot be passed to appcmd safely: it is empty or holds a double quote, a %% sign or '
                          'a line break (cmd.exe would act on them)' % (what, name))
    return '"%s"' % name


def command_line(verb, kind, identifier=None, *params):
    """``%windir%\\...\\appcmd.exe <verb> <kind> ["identifier"] /p:v ...``; values of ``/p:v`` params are
    quoted when they are not plain words."""
    parts = [APPCMD, verb, kind.lower()]
    if identifier is not None:
        parts.append(quote(identifier, '%s name' % kind.lower()))
    for param in params:
        key, sep, value = param.partition(':')
        if sep and value and not re.match(r'^[\w.*-]+$', value):
            value = quote(value, '/%s value' % key)
        parts.append('/%s%s%s' % (key, sep, value))
    return ' '.join(parts)


def check(result, line, action):
    """The stdout of an appcmd ``CommandResult``; raises the ``AppcmdError`` that says why it failed."""
    if result.rc == 0:
        return result.stdout
    text = '%s\n%s' % (result.stdout or '', result.stderr or '')
    match = ERROR_LINE.search(text.strip())
    hresult = match.group(1).lower() if match and match.group(1) else None
    reason = ' '.join(match.group(2).split()) if match else shorten(text) or 'no output'
    cls = AppcmdError
    hint = ''
    if result.rc == NOT_FOUND:
        cls = NotFound
    elif result.rc in (ALREADY_RUNNING, NOT_STARTED):
        cls = AlreadyInState
    elif result.rc == NOT_RECOGNIZED:
        cls = AppcmdMissing
        hint = ' (appcmd.exe is missing: IIS and its management tools must be installed on the node)'
    elif result.rc in ACCESS_DENIED:
        cls = AccessDenied
        hint = (' (the WinRM user must be a member of the node\'s Administrators, and the Windows Process Activation '
                'Service must be running)')
    raise cls('%s failed: `%s` exited with %s: %s%s' % (action, line, result.rc, reason, hint),
              rc=result.rc, hresult=hresult, reason=reason)


def parse_xml(text, kind):
    """The attributes of every ``<KIND .../>`` element of appcmd's ``/xml`` output, in order."""
    start = text.find('<')
    try:
        root = ET.fromstring(text[start:] if start >= 0 else text)
    except ET.ParseError as exc:
        raise AppcmdError('appcmd answered with XML that cannot be parsed (%s): %s' % (exc, shorten(text))) from None
    return [dict(element.attrib) for element in root if element.tag == kind]


class Appcmd:
    """appcmd on one node: ``run(line, action, timeout=None)`` runs a command line there and returns a
    ``CommandResult`` (``WinrmShell.run``)."""

    def __init__(self, run):
        self._run = run

    def call(self, action, verb, kind, identifier=None, *params, timeout=None):
        line = command_line(verb, kind, identifier, *params)
        return check(self._run(line, action, timeout), line, action)

    def list(self, kind, *filters, action=None):
        """Every object of ``kind`` (``APPPOOL``, ``SITE``, ``APP``, ``VDIR``, ``WP``) matching ``filters``
        (``'apppool.name:X'``...), as dicts of their XML attributes."""
        text = self.call(action or 'listing the %s objects of IIS' % kind, 'list', kind, None, 'xml', *filters)
        return parse_xml(text, kind)

    def pools(self, action=None):
        """``{name: {'state', 'runtime', 'pipeline'}}`` of every application pool, in IIS's order."""
        return dict((p['APPPOOL.NAME'], dict(state=p.get('state'), runtime=p.get('RuntimeVersion'),
                                             pipeline=p.get('PipelineMode')))
                    for p in self.list('APPPOOL', action=action))

    def sites(self, action=None):
        """``{name: {'id', 'state', 'bindings'}}`` of every site."""
        return dict((s['SITE.NAME'], dict(id=s.get('SITE.ID') or s.get('id'), state=s.get('state'),
                                          bindings=s.get('bindings')))
                    for s in self.list('SITE', action=action))

    def worker_pids(self, action=None):
        """``{pool name: [pid, ...]}`` of the running worker processes."""
        pids = {}
        for wp in self.list('WP', action=action):
            pids.setdefault(wp.get('APPPOOL.NAME'), []).append(int(wp['WP.NAME']))
        return pids

    def vdirs(self, app_name, action=None):
        """The virtual directories of application ``app_name`` (``site/`` or ``site/alias``)."""
        return self.list('VDIR', 'app.name:%s' % app_name, action=action)

    def act(self, verb, kind, name, action, timeout=None):
        """``start``/``stop``/``recycle``/``delete`` one object; returns False when it already was in
        that state (start of a started, stop of a stopped object), True when appcmd acted."""
        try:
            self.call(action, verb, kind, name, timeout=timeout)
        except AlreadyInState:
            if verb in ('start', 'stop'):
                return False
            raise
        return True
