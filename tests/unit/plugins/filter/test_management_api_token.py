# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The management_api_token filter: a token the driver's JwtSecurityTokenHandler accepts, checked by
decoding it independently (base64url, JSON, HMAC-SHA256), and input refused before signing."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nomad_iis.management.plugins.filter.management_api_token import (
    FilterModule,
    management_api_token,
)

SECRET = 'integration-jwt-secret-0123456789abcdef'
ALLOC = '8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f'
NOW = 1700000000


def b64url_decode(part):
    assert '=' not in part and '+' not in part and '/' not in part
    return base64.urlsafe_b64decode(part + '=' * (-len(part) % 4))


def decode(token, secret=SECRET):
    """(header, payload) of a token whose HS256 signature is valid for ``secret``."""
    header_b64, payload_b64, signature_b64 = token.split('.')
    expected = hmac.new(secret.encode('utf-8'), ('%s.%s' % (header_b64, payload_b64)).encode('ascii'),
                        hashlib.sha256).digest()
    assert hmac.compare_digest(expected, b64url_decode(signature_b64))
    return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(payload_b64))


def mint(**kwargs):
    kwargs.setdefault('job', 'web')
    kwargs.setdefault('capabilities', ['Status'])
    kwargs.setdefault('issued_at', NOW)
    return management_api_token(kwargs.pop('secret', SECRET), **kwargs)


def refused(**kwargs):
    with pytest.raises(AnsibleFilterError) as info:
        mint(**kwargs)
    message = str(info.value)
    assert message.startswith('management_api_token: ')
    assert SECRET not in message
    return message


def test_registered_as_a_filter():
    assert FilterModule().filters() == {'management_api_token': management_api_token}


def test_claims_header_and_signature():
    header, payload = decode(mint(namespace='default', job='web', alloc_id='*',
                                  capabilities=['Status', 'AppPoolLifecycle'], ttl=900))
    assert header == {'alg': 'HS256', 'typ': 'JWT'}
    assert payload == {
        'iss': 'NomadIIS',
        'aud': 'ManagementApi',
        'iat': NOW,
        'exp': NOW + 900,
        'namespace': 'default',
        'jobName': 'web',
        'allocId': '*',
        'capabilities': ['Status', 'AppPoolLifecycle'],
    }


def test_another_secret_does_not_verify():
    with pytest.raises(AssertionError):
        decode(mint(), secret=SECRET + 'x')


def test_defaults():
    before = int(time.time())
    token = management_api_token(SECRET, job='web', capabilities='Status')
    after = int(time.time())
    dummy, payload = decode(token)
    assert before <= payload['iat'] <= after
    assert payload['exp'] == payload['iat'] + 900
    assert payload['namespace'] == 'default'
    assert payload['allocId'] == '*'
    assert payload['capabilities'] == ['Status']  # always an array


def test_lists_become_arrays_and_duplicates_go():
    dummy, payload = decode(mint(namespace=['default', 'apps'], job=['web', 'shop', 'web'],
                                 alloc_id=[ALLOC, ALLOC], capabilities=('Status', 'Status', 'Debug')))
    assert payload['namespace'] == ['default', 'apps']
    assert payload['jobName'] == ['web', 'shop']
    assert payload['allocId'] == ALLOC
    assert payload['capabilities'] == ['Status', 'Debug']


def test_wildcards():
    dummy, payload = decode(mint(namespace='*', job='*', alloc_id='*', capabilities='*'))
    assert (payload['namespace'], payload['jobName'], payload['allocId'], payload['capabilities']) == ('*', '*', '*', ['*'])


def test_every_capability_of_the_driver():
    names = ['Status', 'FilesystemAccess', 'AppPoolLifecycle', 'Screenshots', 'ProcDump', 'Debug']
    assert decode(mint(capabilities=names))[1]['capabilities'] == names


def test_same_input_same_token():
    assert mint(ttl=60) == mint(ttl=60)
    assert mint(ttl=60) != mint(ttl=61)


@pytest.mark.parametrize('issued_at, expected', [
    (NOW, NOW),
    (float(NOW) + 0.9, NOW),
    (str(NOW), NOW),
    (datetime.datetime.fromtimestamp(NOW, tz=datetime.timezone.utc), NOW),
    (datetime.datetime.fromtimestamp(NOW), NOW),  # naive: local time, as now() gives it
])
def test_issued_at(issued_at, expected):
    dummy, payload = decode(mint(issued_at=issued_at, ttl=10))
    assert (payload['iat'], payload['exp']) == (expected, expected + 10)


def test_unicode_names_and_secret_bytes():
    secret = '\u20ac' * 11  # 11 characters, 33 UTF-8 bytes
    dummy, payload = decode(mint(secret=secret, job='w\u00ebb'), secret=secret)
    assert payload['jobName'] == 'w\u00ebb'


def test_a_secret_of_32_bytes_is_enough():
    decode(mint(secret='s' * 32), secret='s' * 32)


@pytest.mark.parametrize('secret', ['s' * 31, '', '\u20ac' * 10])
def test_short_secret(secret):
    message = refused(secret=secret)
    assert 'IDX10720' in message and 'at least 32 bytes' in message
    assert '%d bytes long' % len(secret.encode('utf-8')) in message
    if secret:
        assert secret not in message


def test_secret_of_another_type():
    message = refused(secret=12345678901234567890123456789012345)
    assert 'must be a string, not int' in message
    assert '12345678901234567890123456789012345' not in message


def test_bytes_secret():
    decode(mint(secret=SECRET.encode('utf-8')))


@pytest.mark.parametrize('name, hint', [
    ('status', 'case-sensitive: Status'),
    ('FILESYSTEMACCESS', 'case-sensitive: FilesystemAccess'),
    ('Upload', 'the Management API knows Status, FilesystemAccess'),
])
def test_unknown_capability(name, hint):
    message = refused(capabilities=['Status', name])
    assert repr(name) in message and hint in message


@pytest.mark.parametrize('capabilities', [None, [], '', [''], [None], {'Status': True}])
def test_missing_capabilities(capabilities):
    assert 'capabilities' in refused(capabilities=capabilities)


@pytest.mark.parametrize('ttl', [0, -1, -900])
def test_ttl_must_be_positive(ttl):
    assert 'ttl must be a positive number of seconds' in refused(ttl=ttl)


@pytest.mark.parametrize('ttl', ['soon', None, True, [1]])
def test_ttl_must_be_a_number(ttl):
    assert 'ttl must be a number of seconds' in refused(ttl=ttl)


@pytest.mark.parametrize('issued_at', [-1, 'yesterday', True])
def test_bad_issued_at(issued_at):
    assert 'issued_at must be' in refused(issued_at=issued_at)


@pytest.mark.parametrize('issued_at, message', [
    (float('inf'), 'issued_at must be a finite number of seconds since the epoch, not inf'),
    (float('-inf'), 'issued_at must be a finite number of seconds since the epoch, not -inf'),
    (float('nan'), 'issued_at must be a finite number of seconds since the epoch, not nan'),
    ('inf', "issued_at must be a number of seconds, not 'inf'"),
    (1e300, 'issued_at must be a time before the year 10000'),
    (10 ** 30, 'issued_at must be a time before the year 10000'),
    (253402300799, 'issued_at + ttl must be a time before the year 10000'),
])
def test_issued_at_that_no_clock_can_hold_names_the_option(issued_at, message):
    assert message in refused(issued_at=issued_at)


@pytest.mark.parametrize('ttl', [float('inf'), float('nan')])
def test_a_ttl_that_is_not_finite_names_the_option(ttl):
    assert 'ttl must be a number of seconds' in refused(ttl=ttl)


@pytest.mark.parametrize('alloc_id', ['8f3a21bc', ALLOC.upper(), ALLOC + '0', ' ' + ALLOC, [ALLOC, '8f3a']])
def test_alloc_id_must_be_full(alloc_id):
    message = refused(alloc_id=alloc_id)
    assert 'alloc_id' in message


def test_job_is_required():
    with pytest.raises(AnsibleFilterError, match='job is required'):
        management_api_token(SECRET, capabilities=['Status'])


@pytest.mark.parametrize('option', ['namespace', 'job'])
@pytest.mark.parametrize('value', ['', '  ', [], ['web', ''], 3, ' web'])
def test_bad_names(option, value):
    assert option in refused(**{option: value})


def test_accepted_by_the_sandbox_model_of_the_driver():
    """The sandbox's validate_jwt imitates JwtSecurityTokenHandler and Authorization.cs (skip without it)."""
    auth = pytest.importorskip('nomad_iis_sandbox.mgmt_auth')
    now = time.time()
    principal = auth.validate_jwt(mint(issued_at=now, alloc_id=ALLOC, capabilities=['Status']), SECRET, now=now)
    assert principal is not None
    assert principal.may_access('default', 'web', ALLOC, 'Status')
    assert not principal.may_access('default', 'web', ALLOC, 'AppPoolLifecycle')
    assert not principal.may_access('default', 'shop', ALLOC, 'Status')
    assert not principal.may_access('apps', 'web', ALLOC, 'Status')
    several = auth.validate_jwt(mint(issued_at=now, job=['web', 'shop']), SECRET, now=now)
    assert several.may_access('default', 'shop', ALLOC, 'Status')
    # Expired beyond the 5-minute skew, and signed with another key: rejected.
    assert auth.validate_jwt(mint(issued_at=now - 3600, ttl=60), SECRET, now=now) is None
    assert auth.validate_jwt(mint(issued_at=now), SECRET + 'x', now=now) is None
    # Expired within the skew: still accepted, as by the driver.
    assert auth.validate_jwt(mint(issued_at=now - 200, ttl=60), SECRET, now=now) is not None
