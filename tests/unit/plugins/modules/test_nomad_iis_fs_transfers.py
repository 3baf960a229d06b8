# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_iis_fs's RemoteTask lists folder trees level by level in parallel, with the same results
and errors as one folder at a time."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiError
from ansible_collections.nomad_iis.management.plugins.modules import nomad_iis_fs


class FakeTarget:
    alloc_id = '8f3a21bc-7d0e-4b5a-9c1f-2a3b4c5d6e7f'
    task = 'app'
    label = 'allocation 8f3a21bc task app'


class FakeNomad:
    """Nomad's /v1/client/fs/ls for a tree {folder: [(name, is_dir, size)]}."""

    def __init__(self, tree, missing=()):
        self.tree = tree
        self.missing = set(missing)
        self.threads = set()
        self.calls = []

    def get_json(self, path, action, params=None):
        self.threads.add(threading.get_ident())
        folder = params['path'].rstrip('/')
        self.calls.append(folder)
        if folder in self.missing or folder not in self.tree:
            raise ApiError('%s failed: 404' % action, status=404)
        return [{'Name': name, 'IsDir': is_dir, 'Size': size, 'ModTime': 't-' + name}
                for name, is_dir, size in self.tree[folder]]


def remote_task(nomad):
    remote = nomad_iis_fs.RemoteTask.__new__(nomad_iis_fs.RemoteTask)
    remote.target = FakeTarget()
    remote.nomad = nomad
    return remote


def tree(width=12, depth=3):
    """A tree with ``width`` folders per level; each folder holds one file and its subfolders."""
    folders = {}

    def fill(path, level):
        entries = [('file.txt', False, level)]
        if level < depth:
            for index in range(width if level == 0 else 2):
                name = 'd%02d' % index
                entries.append((name, True, 0))
                fill('%s/%s' % (path, name), level + 1)
        folders[path] = entries

    fill('app/local', 0)
    return folders


def test_list_files_in_parallel():
    nomad = FakeNomad(tree())
    files = remote_task(nomad).list_files('local')
    expected = {}
    for folder, entries in nomad.tree.items():
        rel_dir = folder[len('app/local/'):] if folder != 'app/local' else ''
        for name, is_dir, size in entries:
            if not is_dir:
                rel = '%s/%s' % (rel_dir, name) if rel_dir else name
                expected[rel] = {'size': size, 'mtime': 't-' + name}
    assert files == expected
    assert sorted(nomad.calls) == sorted(nomad.tree)
    assert len(nomad.threads) > 1


def test_list_files_of_a_missing_folder():
    assert remote_task(FakeNomad({})).list_files('local') == {}


def test_list_files_a_subfolder_gone_while_listing():
    nomad = FakeNomad(tree(), missing={'app/local/d03/d01'})
    with pytest.raises(ApiError, match="404"):
        remote_task(nomad).list_files('local')
