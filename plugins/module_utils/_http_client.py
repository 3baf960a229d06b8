# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small HTTP API client: base URL, TLS, timeouts, retries, and errors users can act on.

Python versions supported: 3.11 and newer.

The Nomad API client and the Management API client are subclasses; they add their auth headers,
default query parameters and the option names that error hints point to.

Why urllib.request and not ``ansible.module_utils.urls.Request``: the server-name override
(``nomad_tls_server_name``) needs our own ``ssl.SSLContext``, which ``Request`` accepts only from
ansible-core 2.17 on, and ``Request`` also adds ``~/.netrc`` credentials and installs a global
opener. A private opener keeps one code path for every supported ansible-core. Its handlers keep
connections open between requests (HTTP/1.1 keep-alive, see ``_KeepAlive``), which urllib's own
do not: a push lists a folder per request, hundreds per allocation.

Retries: a request is retried after a connection error (refused, reset, timeout, DNS) or a 429,
502, 503 or 504 answer, up to ``retries`` times, waiting ``backoff_factor * 2**n`` seconds (at
most ``max_backoff``; a longer ``Retry-After`` wins up to the same cap). Only idempotent requests
are retried: GET and HEAD by default, and any request whose caller passes ``idempotent=True``
because repeating it ends in the same state (e.g. setting node metadata, uploading a file).
Requests that trigger an action (recycle, join, screenshot) are sent once. TLS failures are never
retried: they do not heal by themselves. Streams are retried only until the answer starts.

Conventions every caller gets from here, so none repeats them: a path is a template whose ``{}``
fields are filled with arguments quoted as one path segment each (``'/v1/node/{}', node_id``); a
404 raises ``NotFound``; each request may set its own read ``timeout`` and its own ``hints``
(``{status: hint}``, replacing the client's hint for that status); an answer is read as an
``Answer``, whose iteration yields the body in chunks as they arrive.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import functools
import http.client
import json
import re
import select
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    REDACTED,
    ApiConnectionError,
    ApiError,
    ApiResponseError,
    NotFound,
    OptionError,
    redact,
    shorten,
)

USER_AGENT = 'ansible-collection-nomad_iis.management'
RETRY_STATUSES = frozenset((429, 502, 503, 504))
IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD'))
# The most one read of an answer returns; a read returns what has arrived, so this only bounds memory.
CHUNK_SIZE = 1024 * 1024
# The buffer that downloads reuse: small enough that receiving, hashing and writing a chunk find it
# in the CPU's cache (1 MiB made the kernel's copies into the page cache up to 5 times as costly).
BUFFER_SIZE = 256 * 1024
# Enough of an error body to quote it; more would only be held in memory.
MAX_ERROR_BODY = 64 * 1024
# Request bodies read from files are sent in blocks of this size (http.client's default of 8 KiB
# costs a read and a send call per 8 KiB, which shows on uploads of tens of megabytes).
SEND_BLOCK_SIZE = 1024 * 1024


class ErrorHints:
    """Names of the options that fix a class of failure, for the '(check ...)' part of messages."""

    def __init__(self, address, auth, tls_verify, client_cert):
        self.address = address
        self.auth = auth
        self.tls_verify = tls_verify
        self.client_cert = client_cert


class _NoRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Answer redirects with an error: an API does not redirect, and following one could carry the
    token to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _PooledResponse(http.client.HTTPResponse):
    """An answer that hands its connection back (``give_back(reusable)``) when it is closed:
    reusable when it was read to its end and the server keeps the connection open."""

    give_back = None

    def close(self):
        read_to_end = self.isclosed() or self.length == 0
        super().close()
        give_back, self.give_back = self.give_back, None
        if give_back is not None:
            give_back(read_to_end and not self.will_close)


class _ConnectionPool:
    """The idle connections of one handler (so of one kind, HTTP or HTTPS), by where they lead: the
    host, and through a proxy the host of the tunnel. Shared by the client's threads."""

    def __init__(self):
        self._idle = {}
        self._lock = threading.Lock()

    def take(self, key):
        """An idle connection that is still open, or None."""
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if _open_and_quiet(connection.sock):
                    return connection
                connection.close()
        return None

    def give_back(self, key, connection, reusable):
        if not reusable:
            connection.close()
            return
        with self._lock:
            self._idle.setdefault(key, []).append(connection)


def _open_and_quiet(sock):
    """Whether an idle connection can take a request: a server that closed it (or sent something
    unasked) makes it readable."""
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


def _closed_by_server(exc):
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))


class _KeepAlive:
    """HTTP/1.1 keep-alive for an urllib handler: each request takes an idle connection of the
    client when one is open (urllib's own ``do_open`` opens one per request, which costs the
    client, and the server, a connection set-up per folder listed). Bodies read from files are
    sent in blocks of ``SEND_BLOCK_SIZE``. A ``GET`` or ``HEAD`` whose reused connection turns out
    to be closed by the server is sent again at once on a new one; anything else fails as it would
    on a new connection."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pool = _ConnectionPool()

    def do_open(self, http_class, req, **http_conn_args):
        if not req.host:
            raise urllib.error.URLError('no host given')
        key = (req.host, req._tunnel_host)  # pylint: disable=protected-access
        headers = dict(req.unredirected_hdrs)
        headers.update((name, value) for name, value in req.headers.items() if name not in headers)
        headers = dict((name.title(), value) for name, value in headers.items())
        tunnel_headers = {}
        if 'Proxy-Authorization' in headers and req._tunnel_host:  # pylint: disable=protected-access
            tunnel_headers['Proxy-Authorization'] = headers.pop('Proxy-Authorization')  # not for the server
        while True:
            connection = self._pool.take(key)
            reused = connection is not None
            if reused:
                connection.timeout = req.timeout
                connection.sock.settimeout(req.timeout)
            else:
                connection = http_class(req.host, timeout=req.timeout, blocksize=SEND_BLOCK_SIZE, **http_conn_args)
                connection.response_class = _PooledResponse
                if req._tunnel_host:  # pylint: disable=protected-access
                    connection.set_tunnel(req._tunnel_host, headers=tunnel_headers)  # pylint: disable=protected-access
            try:
                try:
                    connection.request(req.get_method(), req.selector, req.data, headers,
                                       encode_chunked=req.has_header('Transfer-encoding'))
                except OSError as exc:
                    raise urllib.error.URLError(exc) from None
                response = connection.getresponse()
            except BaseException as exc:
                connection.close()
                if reused and req.get_method() in IDEMPOTENT_METHODS and _closed_by_server(exc):
                    continue
                raise
            response.give_back = functools.partial(self._pool.give_back, key, connection)
            response.url = req.get_full_url()
            response.msg = response.reason  # as urllib's do_open: its clients expect the reason there
            return response


class _HTTPHandler(_KeepAlive, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_KeepAlive, urllib.request.HTTPSHandler):
    pass


# The user information of a URL (``user:password@``), as RFC 3986 delimits it.
_USERINFO = re.compile(r'^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*)@')


def url_credentials(url):
    """The secrets a URL carries in its user information: the password of ``user:password@``, or
    the user of ``user@`` (then usually a token). Modules register them as ``no_log`` values."""
    match = _USERINFO.match(url or '')
    if not match:
        return []
    user, colon, password = match.group('userinfo').partition(':')
    secrets = [password] if colon else [user]
    return [secret for secret in secrets if secret]


def without_credentials(url):
    """``url`` with its user information (if any) replaced by ``REDACTED``, for messages."""
    return _USERINFO.sub(lambda match: match.group('scheme') + REDACTED + '@', url or '', count=1)


def parse_base_url(url, option_name):
    """Validate an API base URL; return it without a trailing slash.

    Raises ``OptionError`` naming ``option_name`` for anything but an ``http(s)://host[:port][/path]``.
    A message never quotes the URL's credentials.
    """
    shown = without_credentials(url)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # pylint: disable=pointless-statement  # raises ValueError for a bad port
    except ValueError as exc:
        cause = redact(str(exc), url_credentials(url))
        raise OptionError('%s %r is not a valid URL: %s' % (option_name, shown, cause)) from exc
    if parts.username is not None or parts.password is not None:
        raise OptionError('%s %r must not contain credentials (user:password@host): the collection sends '
                          'credentials only in headers (nomad_token, api_key, api_token)' % (option_name, shown))
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise OptionError('%s %r is not an http:// or https:// URL with a host name' % (option_name, shown))
    if parts.query or parts.fragment:
        raise OptionError('%s %r must not have a query string or fragment' % (option_name, shown))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip('/'), '', ''))


def header_value_problem(value):
    """Why ``value`` cannot be sent as an HTTP header value, or None when it can.

    A value may hold printable ASCII, with spaces or tabs inside. RFC 9110 also allows bytes over
    0x7F, but Kestrel (the Management API) refuses them by default and http.client would send them
    as Latin-1, so a credential holding such a character cannot be the one the server knows.
    """
    if value.endswith(('\n', '\r')):
        return ('it ends with a line break, as a value read from a file or written as a YAML block scalar '
                'does (remove it, e.g. with the trim filter)')
    if any(char in '\r\n' for char in value):
        return 'it holds a line break'
    if any((char < ' ' and char != '\t') or char == '\x7f' for char in value):
        return 'it holds a control character'
    if any(char > '\x7e' for char in value):
        return 'it holds a character outside printable ASCII'
    if value != value.strip(' \t'):
        return 'it starts or ends with white space, which HTTP drops'
    return None


def check_header_values(headers, options):
    """Refuse a header value that HTTP cannot carry before anything is sent, naming the option it
    came from (``options`` maps header names to option names) and never quoting the value: it is
    usually a credential, and its escaped form would slip past ``no_log`` masking."""
    for name, value in headers.items():
        problem = header_value_problem(value)
        if problem:
            raise OptionError('%s cannot be sent as the HTTP header %s: %s; its value is not shown'
                              % (options.get(name, 'a value'), name, problem))


class ApiClient:
    """HTTP client for one API base URL. Subclasses set ``hints`` and pass their headers, with
    ``header_options`` naming the option each header value came from (see ``check_header_values``)."""

    hints = ErrorHints(address='the address', auth='the credentials', tls_verify='the CA certificate',
                       client_cert='the client certificate')

    def __init__(self, base_url, ssl_context, headers=None, params=None, timeout=30, retries=3, secrets=(),
                 backoff_factor=1.0, max_backoff=30.0, sleep=time.sleep, header_options=None):
        check_header_values(headers or {}, header_options or {})
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._headers = dict(headers or {})
        self._headers.setdefault('User-Agent', USER_AGENT)
        self._params = dict(params or {})
        self._secrets = tuple(s for s in secrets if s)
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(),  # http_proxy / https_proxy / no_proxy, as Nomad's Go client
            _HTTPHandler(),
            _HTTPSHandler(context=ssl_context),
            _NoRedirectHandler(),
        )

    # -- URLs ---------------------------------------------------------------------------------

    def url_for(self, path, path_args=(), params=None):
        """Full URL for an API path template and its arguments, with the default query parameters;
        a None parameter value drops one."""
        query = dict(self._params)
        query.update(params or {})
        query = [(k, _query_value(v)) for k, v in query.items() if v is not None]
        url = self.base_url + '/' + fill_path(path, path_args).lstrip('/')
        if query:
            url += '?' + urllib.parse.urlencode(query, doseq=True)
        return url

    # -- Requests -----------------------------------------------------------------------------

    def open(self, method, path, *path_args, action, params=None, data=None, headers=None, idempotent=None,
             timeout=None, hints=None):
        """Send a request and return its ``Answer`` (2xx only); the caller closes it (``with``).

        ``path`` is a template whose ``{}`` fields take ``path_args``, each quoted as one path
        segment. ``action`` says what the request is for, e.g. ``"reading metadata of node 'abc'"``;
        every error message starts with it. ``data`` is bytes or a binary file object (rewound
        before a retry when seekable). ``timeout`` replaces the client's for this request (each
        read waits that long); ``hints`` maps statuses to the hint their error message ends with.
        Raises ``ApiError``: ``NotFound`` for a 404, ``ApiConnectionError`` when no answer came.
        """
        method = method.upper()
        url = self.url_for(path, path_args, params)
        timeout = timeout or self.timeout
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        rewind = _rewinder(data)
        if rewind is None:
            idempotent = False
        request_headers = dict(self._headers)
        request_headers.update(headers or {})

        attempt = 0
        while True:
            attempt += 1
            may_retry = idempotent and attempt <= self.retries
            request = urllib.request.Request(url, data=data, headers=request_headers, method=method)
            try:
                response = self._opener.open(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                status, body, retry_after = exc.code, _read_error_body(exc), exc.headers.get('Retry-After')
                if may_retry and status in RETRY_STATUSES:
                    self._wait(attempt, retry_after)
                    rewind()
                    continue
                raise self._status_error(action, method, url, status, body, exc.reason, attempt, hints) from None
            except (OSError, http.client.HTTPException) as exc:
                # urllib wraps what fails while the request is sent in URLError; what fails while
                # waiting for the answer comes as it is: then the server has the whole request.
                sent = not isinstance(exc, urllib.error.URLError)
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                if may_retry and _is_transient(reason):
                    self._wait(attempt)
                    rewind()
                    continue
                raise self._transport_error(action, method, url, reason, attempt, timeout, sent=sent) from None
            return Answer(self, response, action, method, url, timeout)

    def request_json(self, method, path, *path_args, action, params=None, body=None, idempotent=None,
                     timeout=None, hints=None):
        """Send ``body`` (if not None) as JSON; return the decoded answer, or None for an empty one."""
        data = headers = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers = {'Content-Type': 'application/json'}
        with self.open(method, path, *path_args, action=action, params=params, data=data, headers=headers,
                       idempotent=idempotent, timeout=timeout, hints=hints) as answer:
            return answer.json()

    def get_json(self, path, *path_args, action, params=None, timeout=None, hints=None):
        return self.request_json('GET', path, *path_args, action=action, params=params, timeout=timeout, hints=hints)

    # -- Errors -------------------------------------------------------------------------------

    def status_hint(self, status, body, request_hint=None):
        """The '(check ...)' hint for an HTTP error status (a list for several): the request's own
        hint when it has one for the status, else the client's; subclasses add API-specific ones."""
        if request_hint:
            return request_hint
        if status in (401, 403):
            return 'check %s' % self.hints.auth
        if 300 <= status < 400:
            return 'check %s: an API does not redirect' % self.hints.address
        return None

    def _status_error(self, action, method, url, status, body, reason, attempts, hints=None):
        text = redact(body.decode('utf-8', 'replace'), self._secrets).strip() if body else ''
        cause = shorten(text) or reason or http.client.responses.get(status, '')
        message = '%s failed: %d %s from %s' % (action, status, cause, self.base_url)
        message += _suffix(self.status_hint(status, text, (hints or {}).get(status)), attempts)
        error_type = NotFound if status == 404 else ApiError
        return error_type(message, status=status, body=text, url=url, method=method, attempts=attempts)

    def _transport_error(self, action, method, url, reason, attempts, timeout, reading=False, sent=False):
        """``sent``: the whole request reached the server and no answer came. A request that changes
        something (not GET or HEAD) may then have been carried out: the message says that its outcome
        is unknown instead of pointing at the address, which worked."""
        unknown = sent and method not in IDEMPOTENT_METHODS and isinstance(
            reason, (TimeoutError, ConnectionError, http.client.HTTPException))
        if unknown:
            cause, hint = self._describe_unanswered(reason, timeout)
        else:
            cause, hint = self._describe_transport_error(reason, timeout, reading)
        message = '%s failed: %s' % (action, redact(cause, self._secrets)) + _suffix(hint, attempts)
        return ApiConnectionError(message, url=url, method=method, attempts=attempts, outcome_unknown=unknown)

    def _describe_unanswered(self, reason, timeout):
        """``(cause, hint)`` for a request that changes something, received whole and not answered."""
        where = self.base_url
        hints = ['it may have been carried out: check the state before repeating it']
        if isinstance(reason, TimeoutError):
            cause = 'the request was sent, but no answer came from %s within %s seconds' % (where, timeout)
            hints.append('raise timeout if the server needs longer')
        else:
            cause = ('the request was sent, but the connection to %s was closed without an answer: %s'
                     % (where, _describe(reason)))
            if where.startswith('https:'):
                hints.append('check %s if the server requires one' % self.hints.client_cert)
        return cause + '; whether it took effect is unknown', hints

    def _describe_transport_error(self, reason, timeout, reading):
        """Return ``(cause, hint)`` for an exception raised before or while reading an answer."""
        where = self.base_url
        check_address = 'check %s' % self.hints.address
        if isinstance(reason, ssl.SSLCertVerificationError):
            return ('the TLS certificate of %s was not accepted: %s' % (where, reason.verify_message or reason.reason),
                    'check %s' % self.hints.tls_verify)
        if isinstance(reason, ssl.SSLError):
            text = '%s' % (reason.reason or reason)
            if any(alert in text for alert in ('CERTIFICATE_REQUIRED', 'BAD_CERTIFICATE', 'UNKNOWN_CA')):
                hint = 'the server did not accept the client certificate: check %s' % self.hints.client_cert
            elif any(alert in text for alert in ('WRONG_VERSION_NUMBER', 'RECORD_LAYER_FAILURE')):
                hint = 'does the server speak TLS? ' + check_address
            else:
                # Typically an abrupt close: what a server does when a required client certificate is missing.
                hint = 'check %s if the server requires client certificates' % self.hints.client_cert
            return 'TLS with %s failed: %s' % (where, text), hint
        if isinstance(reason, TimeoutError):
            return 'no answer from %s within %s seconds' % (where, timeout), None if reading else check_address
        if isinstance(reason, socket.gaierror):
            return 'cannot resolve the host of %s: %s' % (where, _describe(reason)), check_address
        if isinstance(reason, ConnectionRefusedError):
            return 'cannot connect to %s: connection refused' % where, check_address
        if reading:
            return 'the connection to %s was lost while reading the answer: %s' % (where, _describe(reason)), None
        if isinstance(reason, (ConnectionError, http.client.HTTPException)):
            hint = check_address
            if where.startswith('https:'):
                # Under TLS 1.3 a server that wants a client certificate drops the connection only
                # after the handshake, so a missing certificate often looks like this.
                hint += ', or %s if the server requires one' % self.hints.client_cert
            return 'the connection to %s was closed without an answer: %s' % (where, _describe(reason)), hint
        return 'cannot connect to %s: %s' % (where, _describe(reason)), check_address

    def _wait(self, attempt, retry_after=None):
        delay = self.backoff_factor * 2 ** (attempt - 1)
        try:
            delay = max(delay, float(retry_after))
        except (TypeError, ValueError):
            pass  # absent, or an HTTP date: the backoff is good enough
        self._sleep(min(delay, self.max_backoff))


class Answer:
    """A successful answer: ``status``, ``headers``, and the body, read by iterating (chunks as they
    arrive, never waiting to fill one), with ``json()`` or with ``read()``. Errors while reading
    are ``ApiConnectionError`` naming the request's action. Use as a context manager."""

    def __init__(self, client, response, action, method, url, timeout):
        self._client = client
        self._response = response
        self.action = action
        self.method = method
        self.url = url
        self.timeout = timeout
        self.status = response.status
        self.headers = response.headers
        self.received = 0

    def __iter__(self):
        return self.chunks()

    def chunks(self, chunk_size=None, reuse_buffer=False):
        """Yield the body in chunks of at most ``chunk_size`` bytes (``CHUNK_SIZE``, or ``BUFFER_SIZE``
        with ``reuse_buffer``, when not given), as they arrive.

        The timeout applies to each read, so a long transfer is fine as long as data keeps coming.
        With ``reuse_buffer`` (for downloads that hash and write each chunk at once) every chunk is
        a memoryview of one buffer that the next one overwrites, filled before it is yielded: no
        allocation and no copy between the socket and the consumer.
        """
        if reuse_buffer:
            yield from self._buffer_chunks(chunk_size or BUFFER_SIZE)
            return
        chunk_size = chunk_size or CHUNK_SIZE
        response = self._response
        read = getattr(response, 'read1', response.read)
        while True:
            try:
                chunk = read(chunk_size)
                # read1() reports a connection closed before Content-Length was reached as a plain
                # end of data; a download must not take a truncated file for a complete one.
                if not chunk and getattr(response, 'length', None):
                    raise http.client.IncompleteRead(b'', response.length)
            except (OSError, http.client.HTTPException) as exc:
                raise self._reading_error(exc) from None
            if not chunk:
                return
            self.received += len(chunk)
            yield chunk

    def _buffer_chunks(self, chunk_size):
        response = self._response
        view = memoryview(bytearray(chunk_size))
        while True:
            try:
                size = response.readinto(view)
                # As read1(): a connection closed before Content-Length was reached reads as an end.
                if not size and getattr(response, 'length', None):
                    raise http.client.IncompleteRead(b'', response.length)
            except http.client.IncompleteRead as exc:
                # A chunked answer cut off while filling the buffer: what did arrive is handed on
                # first, so that a download can keep it and resume after it.
                if exc.partial:
                    size = len(exc.partial)
                    view[:size] = exc.partial
                    self.received += size
                    yield view[:size]
                raise self._reading_error(http.client.IncompleteRead(b'', exc.expected)) from None
            except (OSError, http.client.HTTPException) as exc:
                raise self._reading_error(exc) from None
            if not size:
                return
            self.received += size
            yield view[:size]

    def read(self, limit=None):
        """The body (at most ``limit`` bytes of it), at once."""
        try:
            data = self._response.read() if limit is None else self._response.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            raise self._reading_error(exc) from None
        self.received += len(data)
        return data

    def json(self):
        """The body decoded as JSON, or None when it is empty."""
        raw = self.read()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            client = self._client
            raise ApiResponseError(
                '%s failed: the answer from %s is not valid JSON (%s): %s'
                % (self.action, client.base_url, exc, shorten(redact(raw.decode('utf-8', 'replace'), client._secrets), 200)),
                status=self.status, url=self.url, method=self.method) from None

    def _reading_error(self, exc):
        if isinstance(exc, http.client.IncompleteRead):
            got = self.received + len(exc.partial)
            if exc.expected is None:  # a chunked answer cut off in the middle
                exc = 'received %d bytes, then the answer ended before its last chunk' % got
            else:
                exc = 'received %d bytes, %s more were announced' % (got, exc.expected)
        return self._client._transport_error(self.action, self.method, self.url, exc, 1, self.timeout, reading=True)

    def close(self):
        self._response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def quote_segment(value):
    """``value`` as one URL path segment: every character but unreserved ones percent-encoded
    (IDs and names may hold ``/``, ``?`` or ``%``)."""
    return urllib.parse.quote(str(value), safe='')


def fill_path(template, args):
    """``template`` with each ``{}`` replaced by the next of ``args``, quoted as one path segment."""
    if template.count('{}') != len(args):
        # A programming error in the caller, caught by its first test.
        raise ValueError('path %r takes %d arguments, not %d' % (template, template.count('{}'), len(args)))
    return template.format(*(quote_segment(arg) for arg in args)) if args else template


def _query_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return value


def _rewinder(data):
    """A function that puts ``data`` back at its start before a retry, or None if it cannot."""
    if data is None or isinstance(data, (bytes, bytearray)):
        return lambda: None
    try:
        start = data.tell()
    except (AttributeError, OSError):
        return None
    return lambda: data.seek(start)


def _read_error_body(exc):
    try:
        return exc.read(MAX_ERROR_BODY)
    except (OSError, http.client.HTTPException):
        return b''
    finally:
        exc.close()


def _is_transient(reason):
    if isinstance(reason, ssl.SSLError):
        return False
    return isinstance(reason, (OSError, http.client.HTTPException))


def _describe(exc):
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _suffix(hint, attempts):
    hints = hint if isinstance(hint, list) else [hint]
    text = ''.join(' (%s)' % each for each in hints if each)
    if attempts > 1:
        text += ' (gave up after %d attempts)' % attempts
    return text


def join_host_port(host, port):
    """``host:port``, with brackets around an IPv6 address, as Go's ``net.JoinHostPort``."""
    host = host or ''
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return '%s:%s' % (host, port)
