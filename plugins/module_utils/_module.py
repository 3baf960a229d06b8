# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AnsibleModule every module of the collection is built on.

Python versions supported: 3.11 and newer.

It adds the shared options to the module's own, builds the Nomad client lazily, and turns the
collection's errors into one ``fail_json`` with the error's message (which already names the
action, the object, the status and the cause, and never holds a secret): modules describe their
behaviour and raise, and never format a traceback into ``msg``.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import (
    nomad_argument_spec,
    nomad_iis_argument_spec,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError, NomadIisError
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient


class NomadModule(AnsibleModule):
    """A ``nomad_*`` module: Nomad connection options plus ``argument_spec``."""

    shared_options = staticmethod(nomad_argument_spec)

    def __init__(self, argument_spec, **kwargs):
        super().__init__(argument_spec=self.shared_options(**argument_spec), **kwargs)
        self._nomad = None

    @property
    def nomad(self):
        """The Nomad API client, built from the module's options on first use."""
        if self._nomad is None:
            self._nomad = NomadClient.from_params(self.params)
        return self._nomad

    def run(self, action, **partial_result):
        """Call ``action(self)`` and exit with the dict it returns; a collection error fails the
        module with its message (and ``status`` when an HTTP answer came), keeping
        ``partial_result`` (e.g. what was already done) in the failure."""
        try:
            result = action(self)
        except ApiError as exc:
            extra = {'status': exc.status} if exc.status is not None else {}
            self.fail_json(msg=str(exc), exception=traceback.format_exc(), **dict(partial_result, **extra))
        except NomadIisError as exc:
            self.fail_json(msg=str(exc), exception=traceback.format_exc(), **partial_result)
        self.exit_json(**result)


class NomadIisModule(NomadModule):
    """A ``nomad_iis_*`` module: Nomad, Management API and connection options."""

    shared_options = staticmethod(nomad_iis_argument_spec)
