#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_iis_screenshot
short_description: Take a PNG screenshot of a page of an IIS task's site
version_added: 0.1.0
description:
  - Takes a screenshot of a page of the site of an IIS task (C(driver = "iis")) running under Nomad and
    writes it as a PNG file on the controller, for example to check a deployment or to keep evidence of
    what users saw.
  - With O(mode=api) (the default) the node takes it. The Nomad IIS driver's Management API loads the page
    in a headless Chromium on the node, always at C(http://localhost:<port><path>) through the site's first
    http binding, with a 1920x1080 viewport, as a full-page image.
  - With O(mode=local) the controller takes it with Playwright and a local Chromium, from the address Nomad
    allocated for the site's first http binding. Use it for nodes whose driver was built without the
    Management API, and for pages that need another O(viewport), a visible-area image
    (O(full_page=false)) or an element to wait for (O(wait_for)).
  - Never idempotent. Every run takes a new screenshot and reports a change when one was written.
author:
  - nomad_iis.management contributors (!UNKNOWN)
extends_documentation_fragment:
  - nomad_iis.management.nomad
  - nomad_iis.management.management_api
  - nomad_iis.management.winrm
  - nomad_iis.management.connection
  - nomad_iis.management.iis_target
  - nomad_iis.management.nodes
  - nomad_iis.management.attributes
  - nomad_iis.management.attributes.actiongroup_nomad_iis
attributes:
  check_mode:
    support: full
    details:
      - In check mode no screenshot is taken and no file is written; the module reports the change it
        would make.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run takes a new screenshot.
options:
  path:
    description:
      - The URL path of the page on the task's site, for example V(/) or V(/health?verbose=1).
      - A missing leading V(/) is added. A full URL is refused; the host is always the task's site.
    type: str
    default: /
  dest:
    description:
      - Where to write the PNG on the controller.
      - A file path, or a directory (an existing one, or a path ending in V(/)). A directory receives the
        screenshot under the name the Management API gives it, C(screenshot_<alloc ID>_<task>_<time>.png)
        (the same pattern with O(mode=local)).
      - Must be a directory when several allocations match (O(job)).
      - Missing directories are created. The file is written through a temporary file in the same
        directory and moved into place, so O(dest) never holds a partial image.
    type: path
    required: true
  mode:
    description:
      - V(api) has the node take the screenshot through the Management API.
      - V(local) takes it on the controller with Playwright (Python package C(playwright)) and a local
        Chromium. It needs the controller to reach the site's address (the node's address and the port
        Nomad allocated), but no Management API.
    type: str
    choices: [api, local]
    default: api
  viewport:
    description:
      - Size of the browser window, in CSS pixels.
      - Other values than the default need O(mode=local); the Management API always uses 1920x1080.
    type: dict
    suboptions:
      width:
        description: Width in pixels.
        type: int
        default: 1920
      height:
        description: Height in pixels.
        type: int
        default: 1080
  full_page:
    description:
      - Capture the whole scrollable page (V(true)), or only the visible viewport (V(false)).
      - V(false) needs O(mode=local); the Management API always captures the whole page.
    type: bool
    default: true
  wait_for:
    description:
      - With O(mode=local), a CSS selector of an element to wait for (until it is visible) before the
        screenshot is taken, for pages that render their content after loading.
      - Waits up to O(timeout) seconds.
    type: str
  browser_executable:
    description:
      - With O(mode=local), the Chromium (or Chrome) executable to run, as a path or a command name on
        E(PATH).
      - If not set, the E(NOMAD_IIS_BROWSER_EXECUTABLE) environment variable is used, then the first of
        C(chromium), C(chromium-browser) and C(google-chrome) found on E(PATH), then a Chromium installed by
        C(playwright install chromium). The module never downloads a browser.
    type: path
notes:
  - With O(mode=api) the page is loaded on the node at C(http://localhost:<port>), so a binding with a host
    name may show IIS's 404 page. O(mode=local) sends such requests with the binding's host name, resolved to
    the allocated address.
  - With O(mode=api) the driver runs C(playwright install --with-deps chromium) the first time it cannot
    start Chromium. That needs Internet access on the node and can take minutes; raise O(timeout) for the
    first screenshot of a node.
  - Sites reachable only through an https binding are not supported (neither by the Management API).
  - O(timeout) limits each request, and with O(mode=local) each browser step (start, navigation, waiting
    for O(wait_for), screenshot).
requirements:
  - With O(mode=local), the Python package C(playwright) on the controller and a Chromium.
seealso:
  - module: nomad_iis.management.nomad_iis_procdump
  - name: Nomad IIS Management API
    description: The driver's documentation of the API this module uses.
    link: https://nomad-iis.sevensolutions.cc/docs/features/management-api
"""

EXAMPLES = r"""
- name: Find the allocations of job web
  nomad_iis.management.nomad_alloc_info:
    job: web
  register: web_allocs

- name: Screenshot the home page of every allocation of job web, one file each
  nomad_iis.management.nomad_iis_screenshot:
    job: web
    dest: /tmp/nomad_iis_examples/screenshots/
  register: shots

- name: Show their sizes
  ansible.builtin.debug:
    msg: "{{ shots.allocations | map(attribute='dest') | zip(shots.allocations | map(attribute='width')) | list }}"

- name: Screenshot one page of one allocation into a file
  nomad_iis.management.nomad_iis_screenshot:
    alloc_id: "{{ web_allocs.allocations[0].id }}"
    task: app
    path: /iisstart.htm
    dest: /tmp/nomad_iis_examples/home.png

- name: Take it from the controller, as a phone-sized window once an element is shown
  nomad_iis.management.nomad_iis_screenshot:
    alloc_id: "{{ web_allocs.allocations[0].id }}"
    mode: local
    viewport:
      width: 390
      height: 844
    full_page: false
    wait_for: body
    dest: /tmp/nomad_iis_examples/phone.png
"""

RETURN = r"""
allocations:
  description: One entry per allocation.
  returned: always
  type: list
  elements: dict
  contains:
    alloc_id:
      description: Allocation ID.
      type: str
      sample: 8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f
    node_id:
      description: ID of the node that runs the allocation.
      type: str
    node_name:
      description: Name of that node.
      type: str
    task:
      description: The IIS task.
      type: str
      sample: app
    api_url:
      description:
        - The Management API of the node.
        - With O(mode=local), null for a node that advertises none.
      type: str
      sample: http://10.0.0.5:5004
    changed:
      description: Whether a screenshot was written (or would be, in check mode).
      type: bool
    dest:
      description:
        - The PNG file written.
        - In check mode, O(dest) itself when it is a directory, since the file name is not known yet.
      type: str
      sample: /tmp/screenshots/screenshot_8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f_app_2026-11-25-08-59-51.png
    file_name:
      description: The file name the screenshot was given (from the Management API, or in its pattern).
      type: str
      returned: success and not check mode
      sample: screenshot_8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f_app_2026-11-25-08-59-51.png
    size:
      description: Size of the PNG file in bytes.
      type: int
      returned: success and not check mode
    sha256:
      description: SHA-256 of the PNG file.
      type: str
      returned: success and not check mode
    width:
      description: Width of the image in pixels (from the PNG header).
      type: int
      returned: success and not check mode
      sample: 1920
    height:
      description: Height of the image in pixels (from the PNG header).
      type: int
      returned: success and not check mode
      sample: 1080
    url:
      description: With O(mode=local), the URL the browser loaded.
      type: str
      returned: mode is local
      sample: http://10.0.0.5:23456/
    page_status:
      description:
        - With O(mode=local), the HTTP status the page was answered with (the screenshot is taken whatever
          it is), or null when the browser got no HTTP answer for it.
      type: int
      returned: mode is local and not check mode
      sample: 200
"""

import os
import shutil
import struct
import time
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import env_fallback_nonempty
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import (
    ApiResponseError,
    NomadIisError,
    OptionError,
    shorten,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import attachment_filename
from ansible_collections.nomad_iis.management.plugins.module_utils._module import NomadIisModule, TargetAction

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# What the Management API always does (PlaywrightHelper upstream).
API_VIEWPORT = {'width': 1920, 'height': 1080}
BROWSER_ENV = 'NOMAD_IIS_BROWSER_EXECUTABLE'
BROWSER_NAMES = ('chromium', 'chromium-browser', 'google-chrome')
# Headless on a server without a desktop session, and no network chatter of the browser's own.
BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run']


class BrowserError(NomadIisError):
    """The local browser could not be started, or could not load or capture the page."""


def png_size(head):
    """(width, height) from the IHDR chunk that starts every PNG, or None when ``head`` is no PNG."""
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b'IHDR':
        return None
    return struct.unpack('>II', head[16:24])


def default_file_name(target):
    """The name upstream gives screenshots (local time, as the node's clock would)."""
    return 'screenshot_%s_%s_%s.png' % (target.alloc_id, target.task, time.strftime('%Y-%m-%d-%H-%M-%S'))


def url_path(path):
    """The page's URL path as the driver builds it: a leading / added when missing."""
    if not path or not path.strip():
        raise OptionError('path must not be empty: it is the URL path of the page, such as /')
    if '://' in path or path.startswith('//'):
        raise OptionError('path %r must be a URL path on the task\'s site, such as / or /health, not a URL' % path)
    if any(c in path for c in '\r\n\t'):
        raise OptionError('path %r must not contain line breaks or tabs' % path)
    return path if path.startswith('/') else '/' + path


def check_api_options(params):
    """Refuse what only a local browser can do, before any request."""
    if params['mode'] != 'api':
        return
    unsupported = []
    if params['viewport'] != API_VIEWPORT:
        unsupported.append('a viewport other than 1920x1080')
    if not params['full_page']:
        unsupported.append('full_page=false')
    if params['wait_for']:
        unsupported.append('wait_for')
    if unsupported:
        raise OptionError('%s %s mode=local: the Management API always takes a full-page screenshot at 1920x1080'
                          % (' and '.join(unsupported), 'needs' if len(unsupported) == 1 else 'need'))


def check_viewport(viewport):
    for side in ('width', 'height'):
        if viewport[side] < 1:
            raise OptionError('viewport %s must be at least 1, not %d' % (side, viewport[side]))


def find_browser(configured):
    """The browser to launch: O(browser_executable), a Chromium on PATH, or None for Playwright's own."""
    if configured:
        found = configured if os.sep in configured else shutil.which(configured)
        if not found or not os.path.isfile(found):
            raise OptionError('browser_executable %r was not found (a path, or a command on PATH)' % configured)
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def import_playwright(module):
    try:
        from playwright.sync_api import Error, TimeoutError as PlaywrightTimeout, sync_playwright  # pylint: disable=import-outside-toplevel
    except ImportError:
        module.fail_json(msg=missing_required_lib('playwright', reason='for mode=local'),
                         exception=traceback.format_exc())
    return sync_playwright, Error, PlaywrightTimeout


def write_png(chunks, local_file, action, source):
    """Write the chunks to ``local_file``, checking that they are a PNG before it is put in place.
    Returns the entry fields (size, sha256, width, height)."""
    found = {}

    def check(writer):
        found['size'] = png_size(writer.head)
        if found['size'] is None:
            raise ApiResponseError('%s failed: %s is not a PNG image (%d bytes starting with %r)'
                                   % (action, source, writer.size, writer.head[:16].decode('utf-8', 'replace')))

    written = local_file.replace(chunks, check=check)
    return dict(size=written.size, sha256=written.sha256, width=found['size'][0], height=found['size'][1])


# --- mode=api ------------------------------------------------------------------------------------

def api_screenshot(api, target, path, dest):
    action = "taking a screenshot of '%s' in %s" % (path, target.label)
    with api.screenshot(target.alloc_id, target.task, path, action) as answer:
        name = attachment_filename(answer.headers) or default_file_name(target)
        local = dest.file(name)
        fields = write_png(answer, local, action, 'the answer from %s' % api.base_url)
    return dict(dest=local.path, file_name=name, **fields)


# --- mode=local ----------------------------------------------------------------------------------

def first_line(exc):
    return shorten(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def take_local(playwright_api, executable, url, params, resolver_rule):
    """Load ``url`` in a fresh headless browser and return (PNG bytes, HTTP status or None)."""
    sync_playwright, playwright_error, playwright_timeout = playwright_api
    timeout_ms = params['timeout'] * 1000
    args = list(BROWSER_ARGS)
    if resolver_rule:
        args.append('--host-resolver-rules=' + resolver_rule)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args,
                                                 timeout=timeout_ms)
        except playwright_error as exc:
            where = executable or "Playwright's own Chromium"
            hint = ''
            if executable is None:
                hint = (' (no Chromium found: set browser_executable or %s, put one of %s on PATH, or install '
                        'one with "playwright install chromium")' % (BROWSER_ENV, ', '.join(BROWSER_NAMES)))
            raise BrowserError('cannot start the browser %s: %s%s' % (where, first_line(exc), hint)) from None
        try:
            page = browser.new_page(viewport=params['viewport'], screen=params['viewport'])
            step = 'loading the page'
            response = page.goto(url, timeout=timeout_ms)
            if params['wait_for']:
                step = 'waiting for %r to be visible' % params['wait_for']
                page.wait_for_selector(params['wait_for'], state='visible', timeout=timeout_ms)
            step = 'capturing the page'
            png = page.screenshot(full_page=params['full_page'], type='png', timeout=timeout_ms)
            return png, response.status if response is not None else None
        except playwright_timeout:
            raise BrowserError('%s failed: no result within %d seconds (timeout)' % (step, params['timeout'])) from None
        except playwright_error as exc:
            raise BrowserError('%s failed: %s' % (step, first_line(exc))) from None
        finally:
            browser.close()


class Screenshot(TargetAction):
    """Takes a screenshot of the page ``path`` of each target's site."""

    def check_options(self):
        params = self.params
        self.path = url_path(params['path'])
        check_viewport(params['viewport'])
        check_api_options(params)
        self.local = params['mode'] == 'local'
        self.require_api = not self.local
        if self.local:
            self.playwright_api = import_playwright(self.module)
            self.executable = find_browser(params['browser_executable'])

    def prepare(self, targets):
        self.dest = self.module.local_dest(self.params['dest']).require_directory_for(len(targets))

    def act(self, target, entry):
        if self.local:
            self.local_screenshot(target, entry)
        elif self.check_mode:
            entry.update(changed=True, dest=self.dest.path_for())
        else:
            entry.update(api_screenshot(self.module.management_client(target.api_url), target, self.path, self.dest),
                         changed=True)

    def local_screenshot(self, target, entry):
        site = target.site()
        url = site.named_url(self.path) or site.url(self.path)
        entry['url'] = url
        resolver_rule = None
        if site.named_url(self.path):
            # The binding wants its host name in the Host header: resolve it to the allocated address.
            resolver_rule = 'MAP %s %s' % (site.hostname, '[%s]' % site.host if ':' in site.host else site.host)
        if self.check_mode:
            entry.update(changed=True, dest=self.dest.path_for())
            return
        action = 'taking a screenshot of %s in %s' % (url, target.label)
        try:
            png, status = take_local(self.playwright_api, self.executable, url, self.params, resolver_rule)
        except BrowserError as exc:
            raise BrowserError('%s failed: %s' % (action, exc)) from None
        name = default_file_name(target)
        local = self.dest.file(name)
        fields = write_png([png], local, action, "the browser's image")
        entry.update(changed=True, dest=local.path, file_name=name, page_status=status, **fields)


def main():
    module = NomadIisModule(
        argument_spec=dict(
            path=dict(type='str', default='/'),
            dest=dict(type='path', required=True),
            mode=dict(type='str', default='api', choices=['api', 'local']),
            viewport=dict(type='dict', apply_defaults=True, options=dict(
                width=dict(type='int', default=API_VIEWPORT['width']),
                height=dict(type='int', default=API_VIEWPORT['height']),
            )),
            full_page=dict(type='bool', default=True),
            wait_for=dict(type='str'),
            browser_executable=dict(type='path', fallback=(env_fallback_nonempty, [BROWSER_ENV])),
        ),
        supports_check_mode=True,
    )
    module.run_targets(Screenshot(module))


if __name__ == '__main__':
    main()
