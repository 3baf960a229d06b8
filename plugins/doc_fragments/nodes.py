# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Modules with an option that names a node (node, node_id); the rule is
    # plugins/module_utils/_nomad_nodes.py NodeDirectory.resolve.
    DOCUMENTATION = r"""
options: {}
notes:
  - "How a node is named, in every option that takes one (C(node), C(node_id)): a node name, a full
    node ID, or a unique prefix of a node ID, case-insensitive for IDs. It is looked up with
    C(GET /v1/nodes), which needs the ACL capability C(node:read); a name wins over an ID prefix.
    Several nodes can carry one name (a rebuilt machine registers again under its name and leaves
    its old node C(down)): where the option filters, all of them count; where the module acts on one
    node, the one that is not C(down) is meant, and more than one that is not down is an error that
    lists them. An ambiguous ID prefix is an error that lists the candidates."
"""
