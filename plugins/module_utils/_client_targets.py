# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the ``nomad_client_*`` modules act on: one client node, given by ``node_id`` or left to the
agent at ``nomad_addr``, and allocations, described the same way in every result.

Python versions supported: 3.11 and newer.

Nomad's client endpoints take a full node ID in ``?node_id=`` and nothing else (an unknown or short
one is an error from the servers). The ``node_id`` option of these modules is friendlier: a node
name, a full node ID or a unique prefix of one, resolved with ``_targets.NodeDirectory`` through
``GET /v1/nodes`` (``node:read``, which every client endpoint that takes a node needs anyway).
These modules act on exactly one node: when several nodes carry the name (a rebuilt machine
registers again under its name with a new ID) the one that is not ``down`` is meant, if there is
exactly one.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._targets import NodeDirectory, NodeLookupError

TERMINAL_CLIENT_STATUSES = ('complete', 'failed', 'lost')


class NodeTarget:
    """The node a client endpoint acts on: a resolved node stub, or the node of the agent at
    ``nomad_addr`` (``stub`` None: requests go without ``?node_id=``, and the agent uses its own)."""

    def __init__(self, agent_url, stub=None):
        self.stub = stub
        self.agent_url = agent_url

    @property
    def id(self):
        return self.stub.get('ID') if self.stub else None

    @property
    def name(self):
        return self.stub.get('Name') if self.stub else None

    @property
    def params(self):
        """The query parameters that direct a client endpoint to this node."""
        return dict(node_id=self.id) if self.stub else {}

    def __str__(self):
        if self.stub:
            return describe_node(self.stub)
        return 'the node of the agent at %s' % self.agent_url

    def result(self):
        """``node_id`` and ``node_name`` for a module's result (None for the agent's own node)."""
        return dict(node_id=self.id, node_name=self.name)


def describe_node(stub):
    """``node 'win-node-1' (<full ID>)``, for messages."""
    return 'node %r (%s)' % (stub.get('Name'), stub.get('ID'))


def choose_node(stubs, node_id):
    """The one stub of ``stubs`` (what ``NodeDirectory.resolve`` found for ``node_id``) to act on."""
    if len(stubs) > 1:
        alive = [stub for stub in stubs if stub.get('Status') != 'down']
        if len(alive) != 1:
            raise NodeLookupError('node_id %r is ambiguous: %d nodes have that name: %s. Give the node ID'
                                  % (node_id, len(stubs), '; '.join('%s (%s)' % (describe_node(stub), stub.get('Status'))
                                                                    for stub in stubs)))
        return alive[0]
    return stubs[0]


def resolve_node(client, node_id):
    """The node stub that ``node_id`` (a name, an ID or a unique ID prefix) names.

    Raises ``OptionError`` for an empty value and ``NodeLookupError`` when nothing or more than one
    node matches.
    """
    if not (node_id or '').strip():
        raise OptionError('node_id must not be empty: give a node name, a node ID or a unique prefix of one')
    return choose_node(NodeDirectory(client).resolve(node_id), node_id)


def node_target(client, node_id):
    """A ``NodeTarget`` for a ``node_id`` option: resolved when set, the agent's own node when not."""
    if node_id is None:
        return NodeTarget(client.base_url)
    return NodeTarget(client.base_url, resolve_node(client, node_id))


def local_node(client):
    """A ``NodeTarget`` for the client in the agent at ``nomad_addr``, for modules that must know
    its ID. Reads ``GET /v1/agent/self`` (``agent:read``)."""
    action = 'looking up the node of the agent at %s (or set node_id)' % client.base_url
    agent = client.get_json('/v1/agent/self', action) or {}
    own_id = ((agent.get('stats') or {}).get('client') or {}).get('node_id')
    if not own_id:
        raise NodeLookupError('%s failed: that agent runs no Nomad client' % action)
    return NodeTarget(client.base_url, resolve_node(client, own_id))


def is_terminal(alloc):
    """Whether the client is done with an allocation (complete, failed or lost)."""
    return alloc.get('ClientStatus') in TERMINAL_CLIENT_STATUSES


def allocation_summary(alloc):
    """The allocation fields the client modules return, from an ``AllocListStub`` or ``Allocation``."""
    return dict(
        alloc_id=alloc.get('ID'),
        job=alloc.get('JobID'),
        namespace=alloc.get('Namespace'),
        task_group=alloc.get('TaskGroup'),
        node_id=alloc.get('NodeID'),
        node_name=alloc.get('NodeName'),
        client_status=alloc.get('ClientStatus'),
    )
