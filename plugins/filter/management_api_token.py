# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: management_api_token
short_description: Mint a short-lived JWT for the Nomad IIS Management API
version_added: 0.1.0
author: nomad_iis.management contributors
description:
  - Signs a JSON Web Token (HS256) with the Management API's JWT secret (the driver's
    C(--management-api-jwt-secret)), limited to a namespace, a job, allocations and capabilities,
    and valid for O(ttl) seconds.
  - 'Pass it to the C(nomad_iis_*) modules as O(nomad_iis.management.nomad_iis_fs#module:api_token), or send
    it yourself as C(Authorization: Bearer <token>).'
  - This lets a job template hold only what one play needs (for example C(Status) and
    C(AppPoolLifecycle) on one job) instead of the API key, which the driver treats as a wildcard
    for everything.
  - The token carries the claims the driver checks (driver v0.14.0 and newer) C(iss=NomadIIS),
    C(aud=ManagementApi), C(iat), C(exp), C(namespace), C(jobName), C(allocId) and
    C(capabilities) (always an array).
  - The driver compares claim values exactly and case-sensitively; V(*) is the wildcard that matches
    every namespace, job, allocation or capability.
  - Runs on the controller, where templates are rendered. Needs no Python package beyond the
    standard library.
  - 'The secret and the token are credentials. The filter never writes either to a log or an error
    message, but a task that prints the token, or passes it to a module option that is not C(no_log),
    shows it; use C(no_log: true) on such tasks.'
notes:
  - The driver allows 5 minutes of clock skew, so a token is accepted until 5 minutes after it
    expires, and the controller's clock and the node's clock should agree within that.
  - The driver refuses HS256 keys shorter than 32 bytes (256 bits; error IDX10720 in the node's
    log) and then answers 401 to every token. The filter therefore refuses such a secret.
  - A token for a namespace, job or allocation that does not match gets C(403 Forbidden); an
    expired token, or one signed with another secret, gets C(401 Unauthorized).
options:
  _input:
    description:
      - The JWT secret of the Management API, as given to the driver with
        C(--management-api-jwt-secret). Its UTF-8 bytes are the HMAC key.
      - At least 32 bytes long (UTF-8).
    type: string
    required: true
  namespace:
    description:
      - The Nomad namespace, or V(*) for every namespace.
      - A list allows several namespaces.
    type: raw
    default: default
  job:
    description:
      - The job ID (the driver compares it with the job's name, which Nomad sets to the ID unless the
        job says otherwise), or V(*) for every job.
      - A list allows several jobs.
    type: raw
    required: true
  alloc_id:
    description:
      - A full allocation ID, or V(*) for every allocation of the jobs.
      - Prefixes are refused, since the driver compares the full ID.
      - A list allows several allocations.
    type: raw
    default: '*'
  capabilities:
    description:
      - What the token allows. The names are case-sensitive.
      - V(Status) (read pool status), V(AppPoolLifecycle) (start, stop, recycle), V(FilesystemAccess)
        (read and write task files), V(Screenshots), V(ProcDump), V(Debug) (the node-wide debug view,
        which the driver grants on this capability alone, whatever the namespace, job and allocation),
        or V(*) for all of them.
      - A single name may be given as a string.
    type: list
    elements: string
    required: true
  ttl:
    description:
      - Seconds the token is valid for, from O(issued_at). Positive.
    type: int
    default: 900
  issued_at:
    description:
      - When the token is issued, in seconds since the epoch (an integer or a finite float), or a datetime.
        It sets C(iat); C(exp) is O(issued_at) + O(ttl), which must be before the year 10000 (the driver
        reads both into a .NET DateTime).
      - A datetime without a time zone is read as local time, which is what C(now()) returns (but not
        C(now(utc=true)), which is UTC without saying so).
      - Defaults to the current time.
      - A fixed value makes the filter return the same token on every run, for example for a file that
        should only change when the token's scope does. The driver does not check C(iat), so a value in
        the future does not delay the token's validity.
    type: raw
"""

EXAMPLES = r"""
- name: Mint a token that reads status and starts, stops and recycles pools of job web
  ansible.builtin.set_fact:
    web_token: >-
      {{ jwt_secret | nomad_iis.management.management_api_token(
           namespace='default', job='web', alloc_id='*',
           capabilities=['Status', 'AppPoolLifecycle'], ttl=900) }}
  no_log: true

- name: Use it with a module of this collection
  nomad_iis.management.nomad_iis_fs:
    job: web
    path: local
    state: fetched
    dest: /tmp/nomad_iis_examples/local.zip
    api_token: "{{ jwt_secret | nomad_iis.management.management_api_token(job='web', capabilities='FilesystemAccess') }}"

- name: Read the pool status of one allocation with ansible.builtin.uri
  ansible.builtin.uri:
    url: "{{ api_url }}/api/v1/allocs/{{ alloc_id }}/app/status"
    headers:
      Authorization: "Bearer {{ jwt_secret | nomad_iis.management.management_api_token(job='web', alloc_id=alloc_id, capabilities='Status', ttl=60) }}"
  no_log: true
  register: pool_status
"""

RETURN = r"""
_value:
  description:
    - 'The signed token (three base64url parts joined by dots), to send as C(Authorization: Bearer <token>).'
  type: string
  sample: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJOb21hZElJUyIsImF1ZCI6Ik1hbmFnZW1lbnRBcGkiLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl
"""

import base64
import datetime
import hashlib
import hmac
import json
import math
import re
import time

from ansible.errors import AnsibleFilterError

# The driver's Capabilities enum (Authorization.cs); claim values are compared ordinally.
from ansible_collections.nomad_iis.management.plugins.module_utils._management_client import CAPABILITIES

ISSUER = 'NomadIIS'
AUDIENCE = 'ManagementApi'
WILDCARD = '*'
# Microsoft.IdentityModel refuses HS256 keys under 256 bits (IDX10720).
MIN_SECRET_BYTES = 32
# The last second .NET's DateTime can hold (9999-12-31T23:59:59Z), which iat and exp are read into.
MAX_TIME = 253402300799
_ALLOC_ID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
# Types that hold a vaulted secret and give the plain text through str().
_VAULT_TYPES = ('EncryptedString', 'AnsibleVaultEncryptedUnicode')
_PREFIX = 'management_api_token: '


def _fail(message):
    raise AnsibleFilterError(_PREFIX + message)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _json(value):
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def _secret_key(secret):
    """The HMAC key: the secret's UTF-8 bytes. Messages never quote the secret."""
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        key = secret.encode('utf-8')
    elif type(secret).__name__ in _VAULT_TYPES:
        key = str(secret).encode('utf-8')
    else:
        _fail('the JWT secret must be a string, not %s' % type(secret).__name__)
    if len(key) < MIN_SECRET_BYTES:
        _fail('the JWT secret is %d bytes long (UTF-8); the Management API refuses HS256 keys under %d bytes '
              '(256 bits, error IDX10720 in the node\'s nomad_iis.log) and answers 401 to every token signed '
              'with one: use a --management-api-jwt-secret of at least %d bytes'
              % (len(key), MIN_SECRET_BYTES, MIN_SECRET_BYTES))
    return key


def _names(value, option):
    """A claim that may name one or several values: a string, or a list of strings."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not values:
        _fail('%s must be a non-empty string or list of strings, not %r' % (option, value))
    result = []
    for item in values:
        if not isinstance(item, str) or not item.strip():
            _fail('%s must be a non-empty string or list of strings; got %r' % (option, item))
        if item != item.strip():
            _fail('%s %r has leading or trailing white space, which the Management API would compare as it is'
                  % (option, item))
        if item not in result:
            result.append(str(item))
    return result


def _claim(values):
    """One value as a string (as the driver's token generator writes it), several as an array."""
    return values[0] if len(values) == 1 else values


def _alloc_ids(value):
    ids = _names(value, 'alloc_id')
    for alloc_id in ids:
        if alloc_id != WILDCARD and not _ALLOC_ID.match(alloc_id):
            _fail('alloc_id %r is not a full allocation ID (36 characters, lower-case) or %r: the Management API '
                  'compares the whole ID, so a prefix would match nothing; look the ID up first, for example with '
                  'nomad_iis.management.nomad_alloc_info' % (alloc_id, WILDCARD))
    return ids


def _capabilities(value):
    if value is None:
        _fail('capabilities is required: one or more of %s, or %r' % (', '.join(CAPABILITIES), WILDCARD))
    names = _names(value, 'capabilities')
    for name in names:
        if name != WILDCARD and name not in CAPABILITIES:
            known = [c for c in CAPABILITIES if c.lower() == name.lower()]
            hint = ' (names are case-sensitive: %s)' % known[0] if known else ''
            _fail('unknown capability %r%s; the Management API knows %s, and %r for all of them'
                  % (name, hint, ', '.join(CAPABILITIES), WILDCARD))
    return names


def _integer(value, option):
    if isinstance(value, bool):
        _fail('%s must be a number of seconds, not %r' % (option, value))
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        _fail('%s must be a number of seconds, not %r' % (option, value))
    return None  # not reached


def _issued_at(value):
    if value is None:
        return int(time.time())
    if isinstance(value, datetime.datetime):
        seconds = int(value.timestamp())
    elif isinstance(value, float):
        if not math.isfinite(value):
            _fail('issued_at must be a finite number of seconds since the epoch, not %r' % (value,))
        seconds = int(value)
    else:
        seconds = _integer(value, 'issued_at')
    if seconds < 0:
        _fail('issued_at must be seconds since the epoch (not negative), not %r' % (value,))
    if seconds > MAX_TIME:
        _fail('issued_at must be a time before the year 10000 (at most %d seconds since the epoch), not %r; '
              'the driver cannot read a later one' % (MAX_TIME, value))
    return seconds


def management_api_token(secret, namespace='default', job=None, alloc_id=WILDCARD, capabilities=None, ttl=900,
                         issued_at=None):
    """Return an HS256 JWT for the Management API; see DOCUMENTATION."""
    key = _secret_key(secret)
    if job is None:
        _fail("job is required: a job ID, a list of them, or '*' for every job")
    namespaces = _names(namespace, 'namespace')
    jobs = _names(job, 'job')
    allocs = _alloc_ids(alloc_id)
    capability_names = _capabilities(capabilities)
    lifetime = _integer(ttl, 'ttl')
    if lifetime <= 0:
        _fail('ttl must be a positive number of seconds, not %r' % (ttl,))
    iat = _issued_at(issued_at)
    if iat + lifetime > MAX_TIME:
        _fail('issued_at + ttl must be a time before the year 10000 (at most %d seconds since the epoch), not %d; '
              'the driver cannot read a later one' % (MAX_TIME, iat + lifetime))

    header = {'alg': 'HS256', 'typ': 'JWT'}
    payload = {
        'iss': ISSUER,
        'aud': AUDIENCE,
        'iat': iat,
        'exp': iat + lifetime,
        'namespace': _claim(namespaces),
        'jobName': _claim(jobs),
        'allocId': _claim(allocs),
        'capabilities': capability_names,
    }
    signing_input = _b64url(_json(header)) + '.' + _b64url(_json(payload))
    signature = hmac.new(key, signing_input.encode('ascii'), hashlib.sha256).digest()
    return signing_input + '.' + _b64url(signature)


class FilterModule:
    """Filters for the Nomad IIS Management API."""

    def filters(self):
        return {'management_api_token': management_api_token}
