# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_alloc_fetch: the quick check and where files land. (Resuming a download is _alloc_fs's,
the partial file _local_dest's: see their tests.)"""

from __future__ import annotations

import os

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._local_dest import LocalDest, LocalFile
from ansible_collections.nomad_iis.management.plugins.modules.nomad_alloc_fetch import (
    iso_time,
    quick_check_matches,
    tree_file,
)

MOD_TIME = '2026-11-25T08:40:27.389001793Z'
MOD_TIME_NS = 1795596027389001793


# -- quick check, destinations ------------------------------------------------------------------

def test_quick_check(tmp_path):
    local = tmp_path / 'f'
    local.write_bytes(b'12345')
    os.utime(local, ns=(MOD_TIME_NS, MOD_TIME_NS))
    assert quick_check_matches(os.stat(local), {'Size': 5, 'ModTime': MOD_TIME})
    assert not quick_check_matches(os.stat(local), {'Size': 6, 'ModTime': MOD_TIME})
    assert not quick_check_matches(os.stat(local), {'Size': 5, 'ModTime': '2026-11-25T08:40:27.389001794Z'})
    assert not quick_check_matches(os.stat(local), {'Size': 5, 'ModTime': 'garbage'})
    assert not quick_check_matches(None, {'Size': 5, 'ModTime': MOD_TIME})


def test_iso_time():
    assert iso_time(MOD_TIME_NS) == MOD_TIME
    assert iso_time(1795596027 * 10 ** 9) == '2026-11-25T08:40:27Z'


def test_file_dest(tmp_path):
    def file_dest(dest, path):
        return LocalDest(dest).file(path.rsplit('/', 1)[-1]).path
    assert file_dest(str(tmp_path / 'x.conf'), 'app/local/web.config') == str(tmp_path / 'x.conf')
    assert file_dest(str(tmp_path) + '/new/', 'app/local/web.config') == str(tmp_path) + '/new/web.config'
    assert file_dest(str(tmp_path), 'app/local/web.config') == str(tmp_path / 'web.config')


def test_tree_file(tmp_path):
    dest = LocalDest(str(tmp_path / 'out'), is_dir=True)
    assert tree_file(dest, 'app/local', 'app/local/sub/a.txt').path == os.path.join(dest.path, 'sub', 'a.txt')
    assert tree_file(dest, '', 'app/local/a.txt').path == os.path.join(dest.path, 'app', 'local', 'a.txt')
    assert isinstance(tree_file(dest, '', 'a'), LocalFile)
    with pytest.raises(OptionError, match='outside dest'):
        tree_file(dest, 'app', 'app/../../escape')
