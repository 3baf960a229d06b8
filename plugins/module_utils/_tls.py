# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The TLS settings of a client, as one ``ssl.SSLContext``.

Python versions supported: 3.11 and newer.

Shared by the Nomad API client and the Management API client. Behaves like Nomad's Go client
(``api.ConfigureTLS``): a CA bundle replaces the system trust store, a client certificate needs its
key, TLS 1.2 is the minimum, and a server name override is both the SNI name sent and the name the
certificate is checked against, while the TCP connection still goes to the address's host.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import os
import ssl
import stat
import threading

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError


class _ClientContext(ssl.SSLContext):
    """An SSLContext that can send and verify a fixed server name instead of the URL's host, and
    loads the system trust store only when the first TLS connection is made.

    http.client passes the URL's host to ``wrap_socket``; replacing it here is the one place where
    both SNI and hostname verification take their name from, so the two cannot disagree. Loading
    the system store takes about 50 ms, which a module talking plain HTTP need not pay.
    """

    server_name_override = None
    system_trust_pending = False
    _loading = threading.Lock()

    def wrap_socket(self, sock, *args, **kwargs):  # pylint: disable=arguments-differ
        if self.system_trust_pending:
            with self._loading:
                if self.system_trust_pending:
                    self.load_default_certs(ssl.Purpose.SERVER_AUTH)
                    self.system_trust_pending = False
        if self.server_name_override:
            kwargs['server_hostname'] = self.server_name_override
        return super().wrap_socket(sock, *args, **kwargs)


def build_ssl_context(validate_certs=True, ca_cert=None, client_cert=None, client_key=None,
                      server_name=None, option_names=None):
    """Return an ``ssl.SSLContext`` for HTTPS requests.

    ``option_names`` maps ``ca_cert``, ``client_cert`` and ``client_key`` to the option names the
    user knows (e.g. ``nomad_ca_cert``), so that errors name what to fix.
    Raises ``OptionError`` for an incomplete certificate pair or files that cannot be loaded.
    """
    names = dict(ca_cert='ca_cert', client_cert='client_cert', client_key='client_key')
    names.update(option_names or {})

    if bool(client_cert) != bool(client_key):
        given = names['client_cert'] if client_cert else names['client_key']
        raise OptionError('%s and %s must be given together, or neither: only %s is set'
                          % (names['client_cert'], names['client_key'], given))

    context = _ClientContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.server_name_override = server_name or None

    for option, path in ((names['ca_cert'], ca_cert if validate_certs else None),
                         (names['client_cert'], client_cert), (names['client_key'], client_key)):
        _require_regular_file(option, path)

    if validate_certs:
        if ca_cert:
            try:
                context.load_verify_locations(cafile=ca_cert)
            except (OSError, ssl.SSLError) as exc:
                raise OptionError('cannot load %s %r: %s' % (names['ca_cert'], ca_cert, _reason(exc))) from exc
        else:
            context.system_trust_pending = True
    else:
        # check_hostname must go off before verify_mode may be lowered.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

    if client_cert:
        # TLS 1.3 servers may ask for the certificate after the handshake.
        context.post_handshake_auth = True
        try:
            context.load_cert_chain(certfile=client_cert, keyfile=client_key, password=_refuse_passphrase)
        except (OSError, ssl.SSLError) as exc:
            raise OptionError('cannot load %s %r with %s %r: %s' % (
                names['client_cert'], client_cert, names['client_key'], client_key, _reason(exc))) from exc

    return context


def _require_regular_file(option, path):
    """Refuse a certificate or key path that is not a regular file: OpenSSL would wait for ever on a
    FIFO, and fail without naming the option on anything else."""
    if not path:
        return
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # loading it says why, naming the option
    if not stat.S_ISREG(mode):
        kind = 'a directory' if stat.S_ISDIR(mode) else 'a FIFO (named pipe)' if stat.S_ISFIFO(mode) else \
            'not a regular file'
        raise OptionError('cannot load %s %r: it is %s' % (option, path, kind))


def _refuse_passphrase():
    # Without this OpenSSL would prompt on the terminal for the passphrase of an encrypted key.
    raise OptionError('the client key is encrypted with a passphrase, which is not supported: '
                      'give an unencrypted key file')


def _reason(exc):
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return '%s (%s)' % (exc.reason, exc.library or 'ssl')
    return exc.strerror or str(exc)
