# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_errors: secrets redacted, bodies shortened, an error re-worded without losing what it carries."""

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiConnectionError,
    NotFound,
    describe_os_error,
    redact,
    shorten,
)


def test_redact():
    assert redact('token abc and abc again', ['abc', '', None]) == 'token ******** and ******** again'
    assert redact('', ['abc']) == '' and redact(None, ['abc']) is None


def test_shorten():
    assert shorten('  a\n  b\tc ') == 'a b c'
    assert shorten('x' * 600) == 'x' * 500 + '...'


def test_with_message_keeps_the_type_and_what_came_with_the_error():
    error = NotFound('reading x failed: 404', status=404, body='nope', url='http://a/x', method='GET', attempts=2)
    reworded = error.with_message('reading x failed: 404; 3 files were written')
    assert isinstance(reworded, NotFound) and str(reworded) == 'reading x failed: 404; 3 files were written'
    assert (reworded.status, reworded.body, reworded.url, reworded.method, reworded.attempts) == (
        404, 'nope', 'http://a/x', 'GET', 2)
    assert isinstance(ApiConnectionError('x').with_message('y'), ApiConnectionError)


def test_describe_os_error():
    assert describe_os_error(PermissionError(13, 'Permission denied')) == 'Permission denied'
    assert describe_os_error(OSError('odd')) == 'odd'
