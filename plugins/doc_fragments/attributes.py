# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Every module: where it runs, and the descriptions of the attributes; the module sets their support.
    DOCUMENTATION = r"""
options: {}
notes:
  - >-
    This module talks HTTP to the Nomad API (and, for C(nomad_iis_*) modules, to the driver's
    Management API) from wherever it runs. Run it on the controller with C(hosts: localhost) or
    C(delegate_to: localhost), or on any host with Python 3.11 or newer that reaches those APIs.
    Environment variables are read on the host where the module runs.
  - Options are taken from the task first (including C(module_defaults)), then from the
    environment variable named in each option, then from the option's default.
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled or queried by the module has not changed in a relevant way.
"""

    # Modules that only read: together with DOCUMENTATION.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""

    # Every nomad_* module, which talks only to Nomad.
    ACTIONGROUP_NOMAD = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/nomad_iis.management.nomad) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - nomad_iis.management.nomad
"""

    # Every nomad_iis_* module, which talks to Nomad and to the IIS driver's Management API.
    ACTIONGROUP_NOMAD_IIS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/nomad_iis.management.nomad_iis) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - nomad_iis.management.nomad_iis
"""
