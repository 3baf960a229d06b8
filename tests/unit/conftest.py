# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every unit test starts from an environment without NOMAD_* variables or proxies."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def no_proxy_and_nomad_env(monkeypatch):
    """Tests talk to 127.0.0.1 directly and start from an environment without NOMAD_* variables."""
    for name in list(os.environ):
        if name.lower().endswith('_proxy') or name.startswith('NOMAD_'):
            monkeypatch.delenv(name)
