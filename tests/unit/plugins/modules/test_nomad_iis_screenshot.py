# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_iis_screenshot: the PNG header, what is refused before any request, finding a browser,
and writing an image only when it is one."""

from __future__ import annotations

import os
import struct
import zlib

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiResponseError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalFile
from ansible_collections.nomad_iis.management.plugins.modules import nomad_iis_screenshot as screenshot
from ansible_collections.nomad_iis.management.plugins.modules.nomad_iis_screenshot import (
    API_VIEWPORT,
    check_api_options,
    check_viewport,
    find_browser,
    png_size,
    url_path,
    write_png,
)


def png(width, height):
    """A minimal valid PNG (one grey row repeated)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    raw = b''.join(b'\x00' + b'\x80' * width for dummy in range(height))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def params(**overrides):
    values = dict(mode='api', viewport=dict(API_VIEWPORT), full_page=True, wait_for=None)
    values.update(overrides)
    return values


# -- png_size -----------------------------------------------------------------------------------

def test_png_size_reads_the_ihdr_chunk():
    assert png_size(png(800, 600)[:24]) == (800, 600)
    assert png_size(png(1920, 3000)) == (1920, 3000)


@pytest.mark.parametrize('head', [b'', b'<html>not an image</html>', b'\x89PNG\r\n\x1a\n', b'GIF89a' + b'\x00' * 30])
def test_png_size_of_anything_else(head):
    assert png_size(head) is None


# -- url_path -----------------------------------------------------------------------------------

@pytest.mark.parametrize('path, expected', [
    ('/', '/'), ('iisstart.htm', '/iisstart.htm'), ('/api/health?verbose=1', '/api/health?verbose=1'),
    ('/ünï code', '/ünï code'),
])
def test_url_path_adds_the_leading_slash(path, expected):
    assert url_path(path) == expected


@pytest.mark.parametrize('path, message', [
    ('', 'must not be empty'), ('  ', 'must not be empty'),
    ('http://example.com/', 'not a URL'), ('//example.com/x', 'not a URL'),
    ('/a\nb', 'line breaks'),
])
def test_url_path_refuses(path, message):
    with pytest.raises(OptionError, match=message):
        url_path(path)


# -- options only a local browser has ------------------------------------------------------------

def test_the_api_defaults_are_fine():
    check_api_options(params())


@pytest.mark.parametrize('overrides, message', [
    (dict(viewport=dict(width=800, height=600)), '^a viewport other than 1920x1080 needs mode=local'),
    (dict(full_page=False), '^full_page=false needs mode=local'),
    (dict(wait_for='#app'), '^wait_for needs mode=local'),
    (dict(full_page=False, wait_for='#app'), '^full_page=false and wait_for need mode=local'),
])
def test_local_only_options_are_refused_with_the_api(overrides, message):
    with pytest.raises(OptionError, match=message):
        check_api_options(params(**overrides))


def test_local_mode_takes_them():
    check_api_options(params(mode='local', viewport=dict(width=390, height=844), full_page=False, wait_for='#app'))


def test_viewport_sides_are_positive():
    check_viewport(dict(width=1, height=1))
    with pytest.raises(OptionError, match='viewport height must be at least 1, not 0'):
        check_viewport(dict(width=800, height=0))


# -- find_browser -------------------------------------------------------------------------------

def test_find_browser_takes_the_configured_path(tmp_path):
    browser = tmp_path / 'chrome'
    browser.write_text('')
    assert find_browser(str(browser)) == str(browser)
    with pytest.raises(OptionError, match="browser_executable '.*/missing' was not found"):
        find_browser(str(tmp_path / 'missing'))


def test_find_browser_looks_up_names_on_path(monkeypatch, tmp_path):
    found = {'chromium-browser': str(tmp_path / 'chromium-browser'), 'my-chrome': str(tmp_path / 'my-chrome')}
    for path in found.values():
        open(path, 'w').close()
    monkeypatch.setattr(screenshot.shutil, 'which', found.get)
    assert find_browser('my-chrome') == found['my-chrome']
    assert find_browser(None) == found['chromium-browser']


def test_without_a_browser_on_path_playwright_picks_its_own(monkeypatch):
    monkeypatch.setattr(screenshot.shutil, 'which', lambda name: None)
    assert find_browser(None) is None


# -- write_png ----------------------------------------------------------------------------------

def test_write_png_writes_an_image_and_measures_it(tmp_path):
    image = png(64, 48)
    dest = str(tmp_path / 'shot.png')
    fields = write_png([image[:10], image[10:30], image[30:]], LocalFile(dest), 'taking a screenshot', 'the answer')
    assert fields['width'] == 64 and fields['height'] == 48 and fields['size'] == len(image)
    with open(dest, 'rb') as handle:
        assert handle.read() == image


def test_write_png_refuses_what_is_no_image_and_leaves_dest_alone(tmp_path):
    dest = tmp_path / 'shot.png'
    dest.write_bytes(b'the old one')
    with pytest.raises(ApiResponseError, match=r"^taking a screenshot failed: the answer from http://x is not a PNG "
                                               r"image \(15 bytes starting with '<html>proxy</ht'\)"):
        write_png([b'<html>proxy</html>'[:15]], LocalFile(str(dest)), 'taking a screenshot', 'the answer from http://x')
    assert dest.read_bytes() == b'the old one'
    assert os.listdir(str(tmp_path)) == ['shot.png']
