# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Timeout and retries of every request, to Nomad and to the Management API; argument spec:
    # plugins/module_utils/_argspec.py CONNECTION_OPTIONS.
    DOCUMENTATION = r"""
options:
  timeout:
    description:
      - Seconds to wait for a connection and then for each read of an answer.
      - For transfers this limits each read, not the whole file, so big files are fine as long as
        data keeps coming.
    type: int
    default: 30
  retries:
    description:
      - How many times to retry a request that failed with a connection error (refused, reset,
        timed out, name not resolved) or with status 429, 502, 503 or 504.
      - Only requests that can be repeated safely are retried; reads, and writes that set a state
        rather than trigger an action. Actions such as recycling an application pool are sent once.
      - Waits 1, 2, 4, ... seconds between tries (at most 30, or longer when the server's
        C(Retry-After) asks for it, up to the same limit). V(0) disables retries.
    type: int
    default: 3
"""
