# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Exceptions shared by the collection's module_utils.

Python versions supported: 3.11 and newer.

``str(error)`` is always a complete message for the user (action, object, cause, hint), so a
module only does ``module.fail_json(msg=str(error))``. Messages never contain secrets: every
text that came from outside goes through ``redact`` with the client's secrets first.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

REDACTED = '********'

# Server bodies can be whole HTML pages (a proxy's error page); the start is enough to diagnose.
MAX_BODY_IN_MESSAGE = 500


def redact(text, secrets):
    """Return ``text`` with every non-empty secret replaced by ``REDACTED``."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def shorten(text, limit=MAX_BODY_IN_MESSAGE):
    """Return ``text`` stripped, on one line, and cut to ``limit`` characters."""
    text = ' '.join(text.split())
    if len(text) > limit:
        text = text[:limit] + '...'
    return text


class NomadIisError(Exception):
    """Base class: the collection's code raises only subclasses of this one."""

    def with_message(self, message):
        """The same error with another message, e.g. one that adds what was already done, or what
        state it left behind, when it happened."""
        return type(self)(message)


class OptionError(NomadIisError):
    """An option value or combination of options cannot be used (detected before any request)."""


class ApiError(NomadIisError):
    """An HTTP request failed: the server answered with an error status, or could not be reached.

    Attributes: ``status`` (int, or None when no answer came), ``body`` (redacted text, or None),
    ``url`` (the request URL, without credentials: tokens and keys travel only in headers),
    ``method``, ``attempts`` (how many times the request was sent) and ``outcome_unknown`` (the
    request changes something, was sent whole, and no answer came: it may have been carried out).
    """

    def __init__(self, message, status=None, body=None, url=None, method=None, attempts=1, outcome_unknown=False):
        super().__init__(message)
        self.status = status
        self.body = body
        self.url = url
        self.method = method
        self.attempts = attempts
        self.outcome_unknown = outcome_unknown

    def with_message(self, message):
        """The same error (type, status, body, URL) with another message."""
        return type(self)(message, status=self.status, body=self.body, url=self.url, method=self.method,
                          attempts=self.attempts, outcome_unknown=self.outcome_unknown)


class NotFound(ApiError):
    """The server answered 404: callers write ``except NotFound:`` instead of comparing numbers."""


class ApiConnectionError(ApiError):
    """No HTTP answer: connection refused or reset, DNS failure, timeout, TLS failure."""


class ApiResponseError(ApiError):
    """The server answered 2xx, but not with what the API promises (e.g. invalid JSON)."""


class LocalFileError(NomadIisError):
    """A local file or directory cannot be read or written.

    The message names the option the path came from (``dest``, ``src``), the path and the cause,
    e.g. ``dest '/srv/x': cannot create the directory '/srv': Permission denied``.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path

    def with_message(self, message):
        return type(self)(message, self.path)


def describe_os_error(exc):
    """The cause of an ``OSError`` as people read it: its ``strerror``, else its text."""
    return exc.strerror or str(exc) or type(exc).__name__


class StreamDecodeError(NomadIisError):
    """A framed stream (``/v1/client/fs/stream``, ``logs``, ``agent/monitor``) is malformed."""


class AllocationLookupError(NomadIisError):
    """An allocation ID or prefix matched no allocation, or more than one.

    ``candidates`` holds the matching allocation stubs when the prefix was ambiguous.
    """

    def __init__(self, message, candidates=None):
        super().__init__(message)
        self.candidates = candidates or []

    def with_message(self, message):
        return type(self)(message, self.candidates)
