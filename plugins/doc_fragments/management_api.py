# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The Management API options of the nomad_iis_* modules; argument spec:
    # plugins/module_utils/_argspec.py MANAGEMENT_API_OPTIONS.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the Nomad IIS driver's Management API on the node that runs the allocation,
        such as V(http://10.0.0.5:5004).
      - If not set, the E(NOMAD_IIS_API_URL) environment variable is used. Without either, the URL is
        discovered for each allocation from its node's address and the node attribute
        C(driver.iis.management_api_port).
      - A URL with credentials (C(user:password@)) is refused; they are masked in the module's output.
    type: str
  api_key:
    description:
      - API key of the Management API, sent as the C(X-Api-Key) header.
      - If not set, the E(NOMAD_IIS_API_KEY) environment variable is used.
      - A value an HTTP header cannot carry (for example one that ends with a line break, as a value
        read from a file does) is refused before anything is sent.
      - Never returned or shown in messages.
    type: str
  api_token:
    description:
      - 'A JWT for the Management API, sent as C(Authorization: Bearer <token>).'
      - If not set, the E(NOMAD_IIS_API_TOKEN) environment variable is used.
      - A value an HTTP header cannot carry (for example one that ends with a line break, as a value
        read from a file does) is refused before anything is sent.
      - Never returned or shown in messages.
    type: str
  api_validate_certs:
    description:
      - Whether to verify the TLS certificate of a Management API served over V(https://), for
        example behind a TLS proxy.
    type: bool
    default: true
  api_ca_cert:
    description:
      - PEM file with the CA certificates to verify the Management API's certificate with. It
        replaces the system's trusted CAs.
    type: path
"""
