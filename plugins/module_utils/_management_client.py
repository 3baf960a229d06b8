# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client of the Nomad IIS driver's Management API (one node's ``api_url``).

Python versions supported: 3.11 and newer.

What the upstream driver (v0.20.1) does that this client works around:

* ``{path}`` is a single route segment that is URL-decoded twice (once by Kestrel, which leaves
  ``%2F`` alone, and once more by the action with ``HttpUtility.UrlDecode``, which turns ``+``
  into a space). Paths are therefore percent-encoded twice, so that every character, ``/``,
  ``+``, ``%`` and non-ASCII included, arrives as it was meant.
* Rooted, drive-letter, UNC and ``..`` paths are answered with a bare 500; they are refused here
  before any request, with a message that says why.
* Errors come with empty bodies; the hints below say what the status usually means upstream.

Every route of the API is a method here, with the JWT capability it needs (``CAPABILITIES`` is the
one list of their names), so that a 403 says which capability the request lacked.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import re
import urllib.parse

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import (
    ApiClient,
    ErrorHints,
    check_header_values,
    parse_base_url,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._tls import build_ssl_context

# Kestrel's default MaxRequestBodySize, which the driver does not raise.
MAX_BODY_BYTES = 30000000
ZIP_CONTENT_TYPE = 'application/zip'  # compared with == upstream: no parameters
RAW_CONTENT_TYPE = 'application/octet-stream'

# The capabilities a Management API JWT grants (the driver's Capabilities enum, compared
# case-sensitively); an api_key grants all of them.
STATUS = 'Status'
FILESYSTEM_ACCESS = 'FilesystemAccess'
APP_POOL_LIFECYCLE = 'AppPoolLifecycle'
SCREENSHOTS = 'Screenshots'
PROCDUMP = 'ProcDump'
DEBUG = 'Debug'
CAPABILITIES = (STATUS, FILESYSTEM_ACCESS, APP_POOL_LIFECYCLE, SCREENSHOTS, PROCDUMP, DEBUG)
POOL_VERBS = ('start', 'stop', 'recycle')
AUTH_HEADER_OPTIONS = {'X-Api-Key': 'api_key (or NOMAD_IIS_API_KEY)',
                       'Authorization': 'api_token (or NOMAD_IIS_API_TOKEN)'}

NOT_RUNNING_HERE = 'the allocation or task is not running on this node'
# Characters Windows does not allow in file names.
_WINDOWS_INVALID = re.compile(r'[<>:"|?*\x00-\x1f]')
# Names Windows takes for devices, also with an extension (NUL.txt) or spaces before it.
_WINDOWS_DEVICES = frozenset(['CON', 'PRN', 'AUX', 'NUL'] + ['COM%d' % n for n in range(1, 10)]
                             + ['LPT%d' % n for n in range(1, 10)])
# NTFS allows 255 UTF-16 code units per name.
_WINDOWS_MAX_NAME = 255
_DRIVE = re.compile(r'^[A-Za-z]:')


def windows_name_problem(name):
    """Why the Windows node cannot store a file or folder named ``name`` under that name, or None.

    The node's file system is NTFS under Win32 path rules: characters ``<>:"|?*`` and control
    characters are invalid, trailing dots and spaces are dropped (``readme.`` is stored as ``readme``),
    and ``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9`` and ``LPT1``-``LPT9`` are devices, with any
    extension. Upstream answers a write of such a name with a bare 500, or stores it under another
    name (zip entries get ``_`` for invalid characters).
    """
    if _WINDOWS_INVALID.search(name):
        return 'a character Windows does not allow in file names (<>:"|?* or a control character)'
    if name.endswith(('.', ' ')):
        return 'a trailing dot or space, which Windows drops (it would be stored under another name)'
    if name.split('.')[0].rstrip(' ').upper() in _WINDOWS_DEVICES:
        return 'a device name on Windows (CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9, with any extension)'
    if len(name.encode('utf-16-le', 'surrogatepass')) > 2 * _WINDOWS_MAX_NAME:
        return 'more than the %d characters Windows allows in a name' % _WINDOWS_MAX_NAME
    return None


def windows_key(path):
    """``path`` as Windows compares names: case-insensitively (NTFS upper-cases each character
    with a table that keeps lengths, so characters whose upper case is longer stay as they are)."""
    upper = path.upper()
    if len(upper) == len(path):  # no character grew: the common case, at C speed
        return upper
    return ''.join(char.upper() if len(char.upper()) == 1 else char for char in path)


def task_path(path, option='path'):
    """Validate a path relative to the task directory and return its ``/``-joined form.

    Refuses what upstream answers with a bare 500 (rooted, drive-letter, UNC, ``..``) and what
    Windows cannot name as given (see ``windows_name_problem``), before anything is sent.
    """
    if not path or not path.strip():
        raise OptionError('%s must not be empty' % option)
    if path.startswith(('/', '\\')) or _DRIVE.match(path):
        raise OptionError('%s %r must be relative to the task directory (e.g. local/web.config): '
                          'the Management API refuses rooted, drive-letter and UNC paths' % (option, path))
    parts = re.split(r'[\\/]', path)
    if '..' in parts:
        raise OptionError("%s %r must not contain '..': the Management API refuses it" % (option, path))
    parts = [part for part in parts if part not in ('', '.')]
    for part in parts:
        problem = windows_name_problem(part)
        if problem:
            raise OptionError('%s %r: the name %r has %s' % (option, path, part, problem))
    return '/'.join(parts)


def folder_download_problem(path):
    """Why upstream cannot send the folder ``path`` as a zip, or None: it writes the folder's name
    into the ``Content-Disposition`` header as it is, and Kestrel refuses a header value outside
    printable ASCII (a 500)."""
    name = path.rstrip('/').rsplit('/', 1)[-1]
    if any(not ' ' <= char <= '~' for char in name):
        return ('the Management API (v0.20.1) cannot download a folder whose name is not ASCII: it puts the '
                'name into a response header and fails with a 500')
    return None


def auth_headers(api_key, api_token):
    """The headers that carry the credentials: ``X-Api-Key`` and ``Authorization: Bearer``."""
    headers = {}
    if api_key:
        headers['X-Api-Key'] = api_key
    if api_token:
        headers['Authorization'] = 'Bearer ' + api_token
    return headers


def encode_task_path(path):
    """The ``{path}`` route segment for a validated relative path: encoded twice (see above). The
    result holds only unreserved characters and ``%``, so it is no template field."""
    return urllib.parse.quote(urllib.parse.quote(path, safe=''), safe='')


class ManagementClient(ApiClient):
    """The Management API of one Nomad client node: one method per route."""

    hints = ErrorHints(
        address='api_url (or the node attribute driver.iis.management_api_port)',
        auth='api_key / api_token',
        tls_verify='api_ca_cert or api_validate_certs',
        client_cert='the TLS proxy in front of the Management API',
    )

    def __init__(self, api_url, api_key=None, api_token=None, validate_certs=True, ca_cert=None,
                 timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, **kwargs):
        context = build_ssl_context(validate_certs=validate_certs, ca_cert=ca_cert,
                                    option_names=dict(ca_cert='api_ca_cert'))
        super().__init__(parse_base_url(api_url, 'api_url'), context, headers=auth_headers(api_key, api_token),
                         timeout=timeout, retries=retries, secrets=(api_key, api_token),
                         header_options=AUTH_HEADER_OPTIONS, **kwargs)
        self.has_credentials = bool(api_key or api_token)

    @staticmethod
    def check_params(params):
        """Refuse an ``api_url``, ``api_key`` or ``api_token`` that cannot be used, before the module
        sends anything (a client is only built once a target's URL is known)."""
        if params.get('api_url'):
            parse_base_url(params['api_url'], 'api_url')
        check_header_values(auth_headers(params.get('api_key'), params.get('api_token')), AUTH_HEADER_OPTIONS)

    @classmethod
    def from_params(cls, params, api_url, **kwargs):
        return cls(api_url, api_key=params.get('api_key'), api_token=params.get('api_token'),
                   validate_certs=params.get('api_validate_certs') is not False, ca_cert=params.get('api_ca_cert'),
                   timeout=params.get('timeout') or DEFAULT_TIMEOUT, retries=params.get('retries', DEFAULT_RETRIES),
                   **kwargs)

    def status_hint(self, status, body, request_hint=None):
        if status == 404 and (body or '').strip():
            # Upstream's 404s have an empty body: this one comes from something else.
            return ('the answer is not the Management API\'s, whose 404 has an empty body: check %s, which may '
                    'point at another service' % self.hints.address)
        if request_hint:
            return request_hint
        if status == 401:
            return 'check api_key / api_token: missing, wrong or expired'
        if status == 403:
            return self.forbidden_hint()
        if status == 404:
            return ('unknown allocation or task on this node (is it running there?), a missing file, a driver '
                    'build without the Management API, or %s pointing at another service' % self.hints.address)
        if status == 413:
            return 'the request body is over the Management API limit of %d bytes' % MAX_BODY_BYTES
        if status == 500:
            return 'the Management API failed without saying why; see the nomad_iis.log of the node'
        return super().status_hint(status, body, request_hint)

    def forbidden_hint(self, needs=None):
        """What a 403 means: no credentials at all, or a token that does not cover the request,
        which ``needs`` (e.g. ``the Status capability``)."""
        if not self.has_credentials:
            return ('no api_key or api_token is set; note that a Management API started without '
                    '--management-api-key and --management-api-jwt-secret answers 403 to every request')
        return ('the api_token does not cover this namespace, job, allocation or capability, or the '
                'Management API was started without a key and a JWT secret (then it answers 403 to everything)%s'
                % ('; a token needs %s' % needs if needs else ''))

    def _open(self, method, route, *route_args, capability, action, hints=None, needs=None, **kwargs):
        hints = dict(hints or {})
        hints.setdefault(403, self.forbidden_hint(needs or 'the %s capability' % capability))
        return self.open(method, route, *route_args, action=action, hints=hints, **kwargs)

    # -- Routes -------------------------------------------------------------------------------

    def status(self, alloc_id, task, action):
        """``GET .../status``: the task's application pools."""
        with self._open('GET', '/api/v1/allocs/{}/{}/status', alloc_id, task, capability=STATUS,
                        action=action) as answer:
            return answer.json()

    def pool_action(self, alloc_id, task, verb, action):
        """PUT start|stop|recycle. Start and stop end in the same state when repeated; recycle does not."""
        if verb not in POOL_VERBS:
            raise ValueError('unknown pool verb %r' % verb)
        with self._open('PUT', '/api/v1/allocs/{}/{}/' + verb, alloc_id, task, capability=APP_POOL_LIFECYCLE,
                        action=action, idempotent=verb != 'recycle'):
            pass

    def debug(self, action):
        """``GET /api/v1/debug``: every task of the node, with the IIS objects the driver sees."""
        with self._open('GET', '/api/v1/debug', capability=DEBUG, action=action) as answer:
            return answer.json()

    def upload(self, alloc_id, task, path, body, size, action, is_zip=False, hot=False, clean=False):
        """PUT (pools stopped around the write) or PATCH (hot) a raw file or a zip to unpack.

        ``body`` is bytes or a seekable binary file of ``size`` bytes; a retried request rewinds it.
        Upstream's PUT restarts every stopped pool afterwards, also pools stopped on purpose.
        """
        if size > MAX_BODY_BYTES:
            raise OptionError('%s: the body of %d bytes is over the Management API limit of %d bytes'
                              % (action, size, MAX_BODY_BYTES))
        headers = {'Content-Type': ZIP_CONTENT_TYPE if is_zip else RAW_CONTENT_TYPE, 'Content-Length': str(size)}
        # Under the limit, a 413 comes from something with a lower one: a proxy, or the node's own
        # configuration (Kestrel's MaxRequestBodySize can be lowered).
        hints = {413: 'the body of %d bytes is under the Management API limit of %d bytes, so something between '
                      'here and the node (a proxy) or the node\'s own configuration has a lower limit: raise it'
                      % (size, MAX_BODY_BYTES)}
        with self._open('PATCH' if hot else 'PUT', '/api/v1/allocs/{}/{}/fs/' + encode_task_path(path), alloc_id,
                        task, capability=FILESYSTEM_ACCESS, action=action, params=dict(clean='true' if clean else None),
                        data=body, headers=headers, idempotent=not clean and not is_zip, hints=hints):
            pass

    def delete(self, alloc_id, task, path, action):
        with self._open('DELETE', '/api/v1/allocs/{}/{}/fs/' + encode_task_path(path), alloc_id, task,
                        capability=FILESYSTEM_ACCESS, action=action):
            pass

    def download(self, alloc_id, task, path, action, hints=None, needs=None):
        """The ``Answer`` of a file (octet-stream) or folder (zip) download; the caller closes it.
        ``needs`` says what a token needs for it, where that is more than the capability."""
        return self._open('GET', '/api/v1/allocs/{}/{}/fs/' + encode_task_path(path), alloc_id, task,
                          capability=FILESYSTEM_ACCESS, action=action, hints=hints, needs=needs)

    def screenshot(self, alloc_id, task, path, action):
        """The ``Answer`` (a PNG) of a screenshot of ``path`` on the task's site; sent once, since every
        request launches a browser on the node."""
        return self._open('GET', '/api/v1/allocs/{}/{}/screenshot', alloc_id, task, capability=SCREENSHOTS,
                          action=action, params={'path': path}, idempotent=False, hints={
                              404: ('the site has no http binding (the driver loads http://localhost:<port> of the '
                                    'first one), or %s' % NOT_RUNNING_HERE),
                              500: ('the driver could not start Chromium or load the page; on first use it runs '
                                    '"playwright install --with-deps chromium", which needs Internet access on the '
                                    'node; see the nomad_iis.log of the node, or use mode=local')})

    def procdump(self, alloc_id, task, app_pool, action, timeout):
        """The ``Answer`` (the dump) of procdump run on the worker of ``app_pool``; sent once, since
        every request runs procdump on the node. ``timeout`` is how long the dump may take."""
        return self._open('GET', '/api/v1/allocs/{}/{}/procdump', alloc_id, task, capability=PROCDUMP,
                          action=action, params={'appPoolName': app_pool}, idempotent=False, timeout=timeout,
                          hints={404: NOT_RUNNING_HERE},
                          needs='the %s and %s capabilities (the status is read first)' % (STATUS, PROCDUMP))
