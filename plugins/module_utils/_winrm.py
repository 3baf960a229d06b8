# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Commands on a Windows node over WinRM, through pywinrm (https://github.com/diyan/pywinrm).

Python versions supported: 3.11 and newer.

pywinrm is imported when the first shell opens, so modules that never use WinRM need nothing but
ansible-core; without it, ``MissingLibraryError`` carries ``missing_required_lib('pywinrm')``.

One ``WinrmShell`` per node and module run: pywinrm's ``Session.run_cmd`` opens a shell (and, with
NTLM, a new connection and handshake) per command, so the shell is opened once through
``winrm.Protocol`` and every command runs in it, one at a time (a lock: targets may run in
threads). The shell is deleted when the module ends (``WinrmShells.close_all``).

A command is polled with Receive requests of ``RECEIVE_TIMEOUT`` seconds; the WinRM service answers
one with the OperationTimeout fault when the command printed nothing meanwhile, and the command is
polled again until ``winrm_operation_timeout`` (the layer's own deadline) runs out. Every failure
becomes a ``WinrmError`` whose message names the node, the WinRM URL, the action and its command
line, and the cause with a hint: 401 (credentials), TLS, refused connections, timeouts, WS-Man faults.
No message contains the password.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import collections
import threading
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, redact, shorten

# Seconds one Receive may wait on the node before it answers the OperationTimeout fault; pywinrm's
# HTTP read timeout must be longer.
RECEIVE_TIMEOUT = 20
READ_TIMEOUT_MARGIN = 10
CODEPAGE_UTF8 = 65001
TRANSPORTS = ('ntlm', 'basic', 'kerberos', 'credssp', 'certificate')

CommandResult = collections.namedtuple('CommandResult', ['rc', 'stdout', 'stderr'])


class MissingLibraryError(NomadIisError):
    """pywinrm is not installed where the module runs."""


class WinrmError(NomadIisError):
    """A command over WinRM could not be run (not: it ran and failed; that is its ``CommandResult``)."""


class WinrmAuthError(WinrmError):
    """The node rejected the credentials (401)."""


class WinrmTimeout(WinrmError):
    """A command did not finish within winrm_operation_timeout."""


def _pywinrm():
    """pywinrm's protocol and exceptions, imported on first use."""
    try:
        import winrm.exceptions  # pylint: disable=import-outside-toplevel
        import winrm.protocol  # pylint: disable=import-outside-toplevel
        import requests.exceptions  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise MissingLibraryError('%s (the WinRM road: via=winrm, or via=auto on a node without the Management '
                                  'API): %s' % (missing_required_lib('pywinrm'), exc)) from None
    return winrm.protocol, winrm.exceptions, requests.exceptions


class WinrmOptions:
    """The WinRM options of a module run (doc fragment ``winrm``)."""

    def __init__(self, user, password, transport='ntlm', validate_certs=True, ca_cert=None, operation_timeout=60):
        self.user = user
        self.password = password
        self.transport = transport
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert
        self.operation_timeout = operation_timeout

    @classmethod
    def from_params(cls, params):
        return cls(params.get('winrm_user'), params.get('winrm_password'), params.get('winrm_transport') or 'ntlm',
                   params.get('winrm_validate_certs', True), params.get('winrm_ca_cert'),
                   params.get('winrm_operation_timeout') or 60)


class WinrmShell:
    """One WinRS shell on one node, opened on first use; commands run one at a time."""

    def __init__(self, url, options, node_name):
        self.url = url
        self.options = options
        self.node_name = node_name
        self._lock = threading.Lock()
        self._protocol = None
        self._shell_id = None

    def where(self):
        return "node '%s' over WinRM (%s)" % (self.node_name, self.url)

    def _open(self, action, command_line):
        if self._shell_id is not None:
            return
        protocol_module, _exceptions, _requests = _pywinrm()
        options = self.options
        receive = max(1, min(RECEIVE_TIMEOUT, options.operation_timeout))
        kwargs = dict(transport=options.transport, username=options.user, password=options.password,
                      server_cert_validation='validate' if options.validate_certs else 'ignore',
                      read_timeout_sec=receive + READ_TIMEOUT_MARGIN, operation_timeout_sec=receive)
        if options.ca_cert:
            kwargs['ca_trust_path'] = options.ca_cert
        try:
            self._protocol = protocol_module.Protocol(self.url, **kwargs)
            self._shell_id = self._protocol.open_shell(codepage=CODEPAGE_UTF8)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self._protocol = None
            raise self._error('opening a shell for ' + action, command_line, exc) from None

    def run(self, command_line, action, timeout=None):
        """Run ``command_line`` (cmd.exe syntax) and return its ``CommandResult``; ``action`` says what
        it is for, in messages. ``timeout`` (seconds) overrides winrm_operation_timeout."""
        _protocol_module, exceptions, _requests = _pywinrm()
        limit = timeout or self.options.operation_timeout
        with self._lock:
            self._open(action, command_line)
            deadline = time.monotonic() + limit
            # pywinrm 0.5 names it get_command_output_raw; 0.4 has it as _raw_get_command_output.
            receive = getattr(self._protocol, 'get_command_output_raw', None) or getattr(
                self._protocol, '_raw_get_command_output')
            try:
                command_id = self._protocol.run_command(self._shell_id, command_line)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                raise self._error(action, command_line, exc) from None
            stdout, stderr = [], []
            try:
                while True:
                    if time.monotonic() > deadline:
                        raise WinrmTimeout('%s on %s failed: `%s` did not finish within %d seconds (it may still run '
                                           'on the node; raise winrm_operation_timeout if it needs longer)'
                                           % (action, self.where(), command_line, limit))
                    try:
                        out, err, rc, done = receive(self._shell_id, command_id)
                    except exceptions.WinRMOperationTimeoutError:
                        continue  # nothing printed within one Receive: ask again
                    stdout.append(out)
                    stderr.append(err)
                    if done:
                        break
            except WinrmError:
                raise
            except Exception as exc:  # pylint: disable=broad-exception-caught
                raise self._error(action, command_line, exc) from None
            finally:
                try:
                    self._protocol.cleanup_command(self._shell_id, command_id)
                except Exception:  # pylint: disable=broad-exception-caught
                    pass  # the command is done or the connection is gone; the shell's Delete cleans up
        return CommandResult(rc, _decode(b''.join(stdout)), _decode(b''.join(stderr)))

    def close(self):
        with self._lock:
            if self._shell_id is None:
                return
            try:
                self._protocol.close_shell(self._shell_id)
            except Exception:  # pylint: disable=broad-exception-caught
                pass  # the node forgets idle shells itself (IdleTimeOut)
            self._shell_id = None
            self._protocol = None

    def _error(self, action, command_line, exc):
        _protocol_module, exceptions, requests = _pywinrm()
        head = '%s on %s failed (`%s`)' % (action, self.where(), command_line)
        user = self.options.user
        cls = WinrmError
        if isinstance(exc, exceptions.InvalidCredentialsError):
            cls = WinrmAuthError
            cause = ('401 Unauthorized: the node rejected the credentials of %r with winrm_transport=%s (check '
                     'winrm_user / winrm_password, and that the listener allows that transport: Basic needs a local '
                     'account and HTTPS, or AllowUnencrypted)' % (user, self.options.transport))
        elif isinstance(exc, requests.SSLError):
            cause = ('TLS failed: %s (check winrm_ca_cert, winrm_validate_certs, or winrm_scheme=http with NTLM)'
                     % _reason(exc))
        elif isinstance(exc, (requests.ConnectTimeout, requests.ReadTimeout)):
            cause = 'timed out: %s (is the WinRM listener reachable at that address and port?)' % _reason(exc)
        elif isinstance(exc, requests.ConnectionError):
            cause = ('cannot connect: %s (is WinRM enabled on the node, with a listener on that port? Check '
                     'winrm_host, winrm_scheme and winrm_port)' % _reason(exc))
        elif isinstance(exc, getattr(exceptions, 'WSManFaultError', ())):  # pywinrm 0.5 and newer
            cause = 'WS-Management fault %s: %s' % (exc.wsman_fault_code or exc.code, shorten(exc.reason or ''))
        elif isinstance(exc, exceptions.WinRMTransportError):
            cause = 'HTTP %s from the WinRM service: %s' % (exc.code, shorten(exc.response_text or '') or 'no body')
        elif isinstance(exc, exceptions.WinRMError):
            cause = str(exc)
        else:
            cause = '%s: %s' % (type(exc).__name__, exc)
        return cls(redact('%s: %s' % (head, cause), [self.options.password]))


def _reason(exc):
    """The innermost reason of a requests/urllib3 error, on one line."""
    while exc.args and isinstance(exc.args[0], Exception):
        exc = exc.args[0]
    reason = getattr(exc, 'reason', None)
    return shorten(str(reason if reason is not None else exc), 300)


def _decode(data):
    return data.decode('utf-8', 'replace')


class WinrmShells:
    """The shells of one module run, one per WinRM URL, shared by threads."""

    def __init__(self, options):
        self.options = options
        self._shells = {}
        self._lock = threading.Lock()

    def get(self, url, node_name):
        with self._lock:
            if url not in self._shells:
                self._shells[url] = WinrmShell(url, self.options, node_name)
            return self._shells[url]

    def close_all(self):
        with self._lock:
            shells, self._shells = list(self._shells.values()), {}
        for shell in shells:
            shell.close()
