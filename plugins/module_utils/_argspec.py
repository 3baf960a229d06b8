# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Argument specs of the options every module shares, and the builders that add them.

Python versions supported: 3.11 and newer.

Each option group here is documented by the doc fragment of the same name
(``plugins/doc_fragments/{nomad,management_api,connection,iis_target,winrm}.py``); a unit test keeps the
two in step.
Modules never declare these options themselves: they call ``nomad_argument_spec(...)`` or
``nomad_iis_argument_spec(...)`` with their own options.

Precedence (task argument, including ``module_defaults`` > environment variable > default) is
AnsibleModule's own: a fallback is consulted only when the task did not set the option, and the
default only when the fallback found nothing. Going through AnsibleModule's fallbacks also makes it
register a token taken from the environment as a ``no_log`` value.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import os

from ansible.module_utils.errors import AnsibleFallbackNotFound

DEFAULT_NOMAD_ADDR = 'http://127.0.0.1:4646'
DEFAULT_NOMAD_NAMESPACE = 'default'
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3

# The strings Go's strconv.ParseBool accepts; Nomad parses NOMAD_SKIP_VERIFY with it.
_GO_TRUE = frozenset(('1', 't', 'T', 'TRUE', 'true', 'True'))
_GO_FALSE = frozenset(('0', 'f', 'F', 'FALSE', 'false', 'False'))


def parse_go_bool(value):
    """Parse ``value`` like Go's ``strconv.ParseBool``: True, False, or None when unparsable."""
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    return None


def env_fallback_nonempty(*names):
    """Fallback: the first of the environment variables ``names`` that is set and not empty.

    Nomad's own clients treat an empty variable as unset (``NOMAD_TOKEN=`` means no token), while
    ansible's ``env_fallback`` would take the empty string; hence this variant.
    """
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise AnsibleFallbackNotFound


def skip_verify_fallback(name):
    """Fallback for ``*_validate_certs``: the inverse of the Go boolean in environment variable ``name``.

    An unset or unparsable value is ignored, as Nomad ignores it, so the default applies.
    """
    skip = parse_go_bool(os.environ.get(name))
    if skip is None:
        raise AnsibleFallbackNotFound
    return not skip


NOMAD_OPTIONS = dict(
    nomad_addr=dict(type='str', default=DEFAULT_NOMAD_ADDR, fallback=(env_fallback_nonempty, ['NOMAD_ADDR'])),
    nomad_token=dict(type='str', no_log=True, fallback=(env_fallback_nonempty, ['NOMAD_TOKEN'])),
    nomad_namespace=dict(type='str', default=DEFAULT_NOMAD_NAMESPACE, fallback=(env_fallback_nonempty, ['NOMAD_NAMESPACE'])),
    nomad_region=dict(type='str', fallback=(env_fallback_nonempty, ['NOMAD_REGION'])),
    nomad_ca_cert=dict(type='path', fallback=(env_fallback_nonempty, ['NOMAD_CACERT'])),
    nomad_client_cert=dict(type='path', fallback=(env_fallback_nonempty, ['NOMAD_CLIENT_CERT'])),
    nomad_client_key=dict(type='path', no_log=False, fallback=(env_fallback_nonempty, ['NOMAD_CLIENT_KEY'])),
    nomad_tls_server_name=dict(type='str', fallback=(env_fallback_nonempty, ['NOMAD_TLS_SERVER_NAME'])),
    nomad_validate_certs=dict(type='bool', default=True, fallback=(skip_verify_fallback, ['NOMAD_SKIP_VERIFY'])),
)

MANAGEMENT_API_OPTIONS = dict(
    api_url=dict(type='str', fallback=(env_fallback_nonempty, ['NOMAD_IIS_API_URL'])),
    api_key=dict(type='str', no_log=True, fallback=(env_fallback_nonempty, ['NOMAD_IIS_API_KEY'])),
    api_token=dict(type='str', no_log=True, fallback=(env_fallback_nonempty, ['NOMAD_IIS_API_TOKEN'])),
    api_validate_certs=dict(type='bool', default=True),
    api_ca_cert=dict(type='path'),
)

# Which allocations and task a nomad_iis_* module acts on (see _iis_targets).
IIS_TARGET_OPTIONS = dict(
    alloc_id=dict(type='list', elements='str'),
    job=dict(type='str'),
    task_group=dict(type='str'),
    node=dict(type='str'),
    task=dict(type='str'),
    max_parallel=dict(type='int', default=1),
)
IIS_TARGET_MUTUALLY_EXCLUSIVE = [('alloc_id', 'job')]
IIS_TARGET_REQUIRED_ONE_OF = [('alloc_id', 'job')]

# The WinRM connection (doc fragment `winrm`). Every nomad_iis_* module accepts it, so that one
# module_defaults block of the nomad_iis action group can set it; only modules with `via` use it.
WINRM_OPTIONS = dict(
    winrm_host=dict(type='raw'),
    winrm_scheme=dict(type='str', default='https', choices=['https', 'http'],
                      fallback=(env_fallback_nonempty, ['NOMAD_IIS_WINRM_SCHEME'])),
    winrm_port=dict(type='int'),
    winrm_transport=dict(type='str', default='ntlm', choices=['ntlm', 'basic', 'kerberos', 'credssp', 'certificate'],
                         fallback=(env_fallback_nonempty, ['NOMAD_IIS_WINRM_TRANSPORT'])),
    winrm_user=dict(type='str', fallback=(env_fallback_nonempty, ['NOMAD_IIS_WINRM_USER'])),
    winrm_password=dict(type='str', no_log=True, fallback=(env_fallback_nonempty, ['NOMAD_IIS_WINRM_PASSWORD'])),
    winrm_validate_certs=dict(type='bool', default=True),
    winrm_ca_cert=dict(type='path'),
    winrm_operation_timeout=dict(type='int', default=60),
)

# How a module that can act over WinRM reaches IIS (doc fragment `winrm`, section `VIA`).
VIA_CHOICES = ['auto', 'api', 'winrm']
VIA_OPTIONS = dict(
    via=dict(type='str', default='auto', choices=VIA_CHOICES),
)

CONNECTION_OPTIONS = dict(
    timeout=dict(type='int', default=DEFAULT_TIMEOUT),
    retries=dict(type='int', default=DEFAULT_RETRIES),
)


def _merge(groups, module_options):
    spec = {}
    for group in groups:
        spec.update((name, dict(option)) for name, option in group.items())
    clashes = sorted(set(spec) & set(module_options))
    if clashes:
        # A programming error in a module, caught by its first unit test.
        raise ValueError('module options re-declare shared options: %s' % ', '.join(clashes))
    spec.update(module_options)
    return spec


def nomad_argument_spec(**module_options):
    """Argument spec of a ``nomad_*`` module: Nomad and connection options plus ``module_options``."""
    return _merge((NOMAD_OPTIONS, CONNECTION_OPTIONS), module_options)


def nomad_iis_argument_spec(**module_options):
    """Argument spec of a ``nomad_iis_*`` module: Nomad, Management API, targeting, WinRM and connection options."""
    return _merge((NOMAD_OPTIONS, MANAGEMENT_API_OPTIONS, IIS_TARGET_OPTIONS, WINRM_OPTIONS, CONNECTION_OPTIONS),
                  module_options)


def nomad_iis_winrm_argument_spec(**module_options):
    """Argument spec of a ``nomad_iis_*`` module that can also act over WinRM (``via``)."""
    return _merge((NOMAD_OPTIONS, MANAGEMENT_API_OPTIONS, IIS_TARGET_OPTIONS, WINRM_OPTIONS, VIA_OPTIONS,
                   CONNECTION_OPTIONS), module_options)


def nomad_iis_nodes_argument_spec(**module_options):
    """Argument spec of a ``nomad_iis_*`` module that acts on nodes rather than allocations."""
    return _merge((NOMAD_OPTIONS, MANAGEMENT_API_OPTIONS, WINRM_OPTIONS, VIA_OPTIONS, CONNECTION_OPTIONS), module_options)
