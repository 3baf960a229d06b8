# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client for the Nomad HTTP API, configured from the shared ``nomad_*`` options.

Python versions supported: 3.11 and newer.

What it adds to ``ApiClient``: the ``X-Nomad-Token`` header, ``namespace`` and ``region`` on every
request (as Nomad's Go client does; a request can override or drop them), hints that name the
``nomad_*`` options, and framed streams.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import (
    DEFAULT_NOMAD_ADDR,
    DEFAULT_NOMAD_NAMESPACE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import (
    ApiClient,
    ErrorHints,
    parse_base_url,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._stream_frames import StreamFrameDecoder
from ansible_collections.nomad_iis.management.plugins.module_utils._tls import build_ssl_context


# The hint for a 400 from a list endpoint given a ``filter``: Nomad answers a malformed expression or
# an unknown field with one ("failed to read filter expression: ...").
FILTER_HINTS = {400: 'check filter: a Nomad filter expression, see https://developer.hashicorp.com/nomad/api-docs#filtering'}


class NomadClient(ApiClient):
    """The Nomad HTTP API at ``nomad_addr``."""

    hints = ErrorHints(
        address='nomad_addr',
        auth='nomad_token',
        tls_verify='nomad_ca_cert, nomad_tls_server_name or nomad_validate_certs',
        client_cert='nomad_client_cert and nomad_client_key',
    )

    def __init__(self, addr=DEFAULT_NOMAD_ADDR, token=None, namespace=DEFAULT_NOMAD_NAMESPACE, region=None,
                 ca_cert=None, client_cert=None, client_key=None, tls_server_name=None, validate_certs=True,
                 timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, **kwargs):
        if timeout is None or timeout <= 0:
            raise OptionError('timeout must be a positive number of seconds, not %r' % (timeout,))
        if retries is None or retries < 0:
            raise OptionError('retries must be 0 or more, not %r' % (retries,))
        context = build_ssl_context(
            validate_certs=validate_certs, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key,
            server_name=tls_server_name,
            option_names=dict(ca_cert='nomad_ca_cert', client_cert='nomad_client_cert', client_key='nomad_client_key'),
        )
        headers = {'X-Nomad-Token': token} if token else {}
        super().__init__(
            parse_base_url(addr or DEFAULT_NOMAD_ADDR, 'nomad_addr'),
            context,
            headers=headers,
            params=dict(namespace=namespace or DEFAULT_NOMAD_NAMESPACE, region=region or None),
            timeout=timeout,
            retries=retries,
            secrets=(token,),
            **kwargs
        )
        self.namespace = namespace or DEFAULT_NOMAD_NAMESPACE
        self.region = region or None
        self.has_token = bool(token)

    @classmethod
    def from_params(cls, params, **kwargs):
        """Build the client from a module's validated ``params`` (``nomad_argument_spec`` options)."""
        return cls(
            addr=params.get('nomad_addr'),
            token=params.get('nomad_token'),
            namespace=params.get('nomad_namespace'),
            region=params.get('nomad_region'),
            ca_cert=params.get('nomad_ca_cert'),
            client_cert=params.get('nomad_client_cert'),
            client_key=params.get('nomad_client_key'),
            tls_server_name=params.get('nomad_tls_server_name'),
            validate_certs=params.get('nomad_validate_certs') is not False,
            timeout=params.get('timeout', DEFAULT_TIMEOUT),
            retries=params.get('retries', DEFAULT_RETRIES),
            **kwargs
        )

    def status_hint(self, status, body, request_hint=None):
        if status == 500 and (body or '').strip() == 'Permission denied':
            # Nomad's logs endpoint, and streams forwarded through a server, send an ACL denial
            # without a status code, which becomes a 500: it is still a token problem.
            status = 403
        if status == 403 and not self.has_token:
            # An anonymous request to a cluster with ACLs: say what is missing, not just where to
            # look, and then what the request needs.
            return ['check nomad_token: none is set, neither as an option nor as NOMAD_TOKEN', request_hint]
        return super().status_hint(status, body, request_hint)

    def stream_frames(self, path, *path_args, action, params=None, timeout=None):
        """Yield the ``StreamFrame`` objects of a framed stream as they arrive; heartbeats are dropped.

        The request is closed when the generator is closed or garbage collected, so a caller that
        follows a stream for N seconds just stops iterating.
        """
        decoder = StreamFrameDecoder()
        with self.open('GET', path, *path_args, action=action, params=params, timeout=timeout) as answer:
            for chunk in answer:
                yield from decoder.feed(chunk)
        decoder.close()
