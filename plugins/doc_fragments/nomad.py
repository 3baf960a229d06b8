# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The Nomad connection options, of the modules and of the inventory plugin; argument spec:
    # plugins/module_utils/_argspec.py NOMAD_OPTIONS.
    DOCUMENTATION = r"""
options:
  nomad_addr:
    description:
      - Address of the Nomad HTTP API, as a URL such as V(http://10.0.0.5:4646) or V(https://nomad.example.com:4646).
      - An V(https://) address switches to TLS.
      - If not set, the E(NOMAD_ADDR) environment variable is used, then the default.
      - A URL with credentials (C(user:password@)) is refused; they are masked in every message.
    type: str
    default: http://127.0.0.1:4646
  nomad_token:
    description:
      - ACL token (its secret ID), sent as the C(X-Nomad-Token) header.
      - If not set, the E(NOMAD_TOKEN) environment variable is used. Without either, requests are
        anonymous, which works only on a cluster without ACLs.
      - A value an HTTP header cannot carry (for example one that ends with a line break, as a value
        read from a file does) is refused before anything is sent.
      - Never returned or shown in messages.
    type: str
  nomad_namespace:
    description:
      - Nomad namespace of the jobs and allocations, sent as the C(namespace) query parameter.
      - V(*) means every namespace the token may read, where the module lists or searches
        (for example when it resolves an C(alloc_id) prefix).
      - If not set, the E(NOMAD_NAMESPACE) environment variable is used, then the default.
    type: str
    default: default
  nomad_region:
    description:
      - Nomad region to send requests to, sent as the C(region) query parameter.
      - If not set, the E(NOMAD_REGION) environment variable is used; without either, the region of
        the agent at O(nomad_addr).
    type: str
  nomad_ca_cert:
    description:
      - PEM file with the CA certificates to verify the Nomad server's certificate with. It replaces
        the system's trusted CAs.
      - If not set, the E(NOMAD_CACERT) environment variable is used; without either, the system's
        trusted CAs.
    type: path
  nomad_client_cert:
    description:
      - PEM file with the client certificate for mutual TLS (C(verify_https_client) on the agent).
      - Give O(nomad_client_key) too; setting only one of the two is an error.
      - If not set, the E(NOMAD_CLIENT_CERT) environment variable is used.
    type: path
  nomad_client_key:
    description:
      - PEM file with the unencrypted private key of O(nomad_client_cert).
      - If not set, the E(NOMAD_CLIENT_KEY) environment variable is used.
    type: path
  nomad_tls_server_name:
    description:
      - Name to send as SNI and to check the server's certificate against, instead of the host
        name in O(nomad_addr). The connection still goes to O(nomad_addr).
      - Nomad's certificates are issued for names such as V(server.global.nomad) and
        V(client.global.nomad), which is what to set when O(nomad_addr) is an IP address.
      - If not set, the E(NOMAD_TLS_SERVER_NAME) environment variable is used.
    type: str
  nomad_validate_certs:
    description:
      - Whether to verify the server's TLS certificate. Set to V(false) only for tests.
      - If not set, the inverse of the E(NOMAD_SKIP_VERIFY) environment variable is used, read as
        Go's C(strconv.ParseBool) reads it (V(1), V(t), V(T), V(TRUE), V(true), V(True) and
        V(0), V(f), V(F), V(FALSE), V(false), V(False)); any other value is ignored, as Nomad ignores it.
    type: bool
    default: true
"""
