# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Nomad's client nodes as modules look them up, and how to reach a node's Management API.

Python versions supported: 3.11 and newer.

One rule for every option that names a node (``node``, ``node_id``): a node name, a full node ID,
or a unique prefix of an ID, resolved through one ``GET /v1/nodes`` listing (``node:read``). A name
wins over an ID prefix. Several nodes can carry one name (a rebuilt machine registers again under
its name with a new ID and leaves the old one ``down``): where a module filters by node, all of
them count; where it acts on one node, the one that is not ``down`` is meant, if there is exactly
one. Nomad's own endpoints take full IDs only, so the resolved ID is what is sent.

``NodeDirectory`` reads each node (``/v1/node/:id``) and the listing at most once per module run.

The Management API URL a node advertises is ``http://<host of the node's HTTPAddr>:<port>``, where
the port is the node attribute ``driver.iis.management_api_port``, provided the node says
``driver.iis.management_api_enabled = true``.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import join_host_port
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import FILTER_HINTS

MANAGEMENT_API_ENABLED = 'driver.iis.management_api_enabled'
MANAGEMENT_API_PORT = 'driver.iis.management_api_port'
DOWN = 'down'

# Candidates listed in an "ambiguous node" message; the rest are counted.
MAX_CANDIDATES_SHOWN = 10


class NodeLookupError(NomadIisError):
    """A node option matched no node, or (``ambiguous``) more than one where one is needed."""

    def __init__(self, message, ambiguous=False):
        super().__init__(message)
        self.ambiguous = ambiguous


def describe_node(stub):
    """``node 'win-node-1' (<full ID>)``, for messages."""
    return 'node %r (%s)' % (stub.get('Name'), stub.get('ID'))


class NodeDirectory:
    """The nodes of the cluster as a module needs them, each read from Nomad at most once."""

    def __init__(self, client):
        self.client = client
        self._nodes = {}
        self._stubs = None

    def get(self, node_id):
        """The full node (``/v1/node/:id``: ``HTTPAddr``, ``Attributes``, ``Meta``, ``Drivers``...)."""
        if node_id not in self._nodes:
            self._nodes[node_id] = self.client.get_json('/v1/node/{}', node_id, action='reading node %s' % node_id)
        return self._nodes[node_id]

    def stubs(self):
        """Every node's list stub (``/v1/nodes``), read once."""
        if self._stubs is None:
            self._stubs = list_nodes(self.client)
        return self._stubs

    def resolve(self, value, option='node'):
        """The stubs of the nodes that ``value`` names (see the module docstring for the rule).

        Raises ``OptionError`` for an empty value and ``NodeLookupError`` when nothing matches or an
        ID prefix is ambiguous.
        """
        if not (value or '').strip():
            raise OptionError('%s must not be empty: give a node name, a node ID or a unique prefix of one' % option)
        stubs = self.stubs()
        named = [stub for stub in stubs if stub.get('Name') == value]
        if named:
            return named
        wanted = value.strip().lower()
        by_id = [stub for stub in stubs if stub.get('ID', '').lower() == wanted]
        if by_id:
            return by_id
        by_id = [stub for stub in stubs if stub.get('ID', '').lower().startswith(wanted)]
        if len(by_id) == 1:
            return by_id
        if len(by_id) > 1:
            shown = ['%s (%s)' % (stub.get('ID'), stub.get('Name')) for stub in by_id[:MAX_CANDIDATES_SHOWN]]
            if len(by_id) > MAX_CANDIDATES_SHOWN:
                shown.append('and %d more' % (len(by_id) - MAX_CANDIDATES_SHOWN))
            raise NodeLookupError('%s %r is ambiguous: it is a prefix of the IDs of %d nodes: %s. '
                                  'Give the node name or more characters of the ID'
                                  % (option, value, len(by_id), '; '.join(shown)), ambiguous=True)
        names = sorted(stub.get('Name') or stub.get('ID') for stub in stubs)
        raise NodeLookupError('no node is named %r or has an ID starting with it (nodes: %s)'
                              % (value, ', '.join(names) or 'none'))

    def resolve_one(self, value, option='node'):
        """The one node stub ``value`` names, for a module that acts on a node: of several nodes of
        that name, the one that is not down."""
        stubs = self.resolve(value, option)
        if len(stubs) == 1:
            return stubs[0]
        alive = [stub for stub in stubs if stub.get('Status') != DOWN]
        if len(alive) != 1:
            raise NodeLookupError('%s %r is ambiguous: %d nodes have that name: %s. Give the node ID'
                                  % (option, value, len(stubs), '; '.join('%s (%s)' % (describe_node(stub), stub.get('Status'))
                                                                          for stub in stubs)), ambiguous=True)
        return alive[0]

    def node_ids(self, value, option='node'):
        """The IDs of the nodes ``value`` names, for a filter; None when ``value`` is None."""
        if value is None:
            return None
        return set(stub['ID'] for stub in self.resolve(value, option))


def list_nodes(client, filter_expression=None):
    """The list stubs (``/v1/nodes``, ``node:read``) of every node, or of those that match a Nomad
    filter expression (evaluated by Nomad on the full node, so ``Meta`` and ``Attributes`` work)."""
    if not filter_expression:
        return client.get_json('/v1/nodes', action='listing the nodes') or []
    return client.get_json('/v1/nodes', action='listing the nodes matching filter %r' % filter_expression,
                           params=dict(filter=filter_expression), hints=FILTER_HINTS) or []


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


def node_target(client, value, option='node_id'):
    """A ``NodeTarget`` for a node option: resolved when set, the agent's own node when not."""
    if value is None:
        return NodeTarget(client.base_url)
    return NodeTarget(client.base_url, NodeDirectory(client).resolve_one(value, option))


def local_node(client, option='node_id'):
    """A ``NodeTarget`` for the client in the agent at ``nomad_addr``, for modules that must know
    its ID. Reads ``GET /v1/agent/self`` (``agent:read``)."""
    action = 'looking up the node of the agent at %s (or set %s)' % (client.base_url, option)
    agent = client.get_json('/v1/agent/self', action=action) or {}
    own_id = ((agent.get('stats') or {}).get('client') or {}).get('node_id')
    if not own_id:
        raise NodeLookupError('%s failed: that agent runs no Nomad client' % action)
    return NodeTarget(client.base_url, NodeDirectory(client).resolve_one(own_id, option))


def node_host(node):
    """The host (name or IP, without brackets) of a node's ``HTTPAddr``, else of a list stub's
    ``Address`` (which Nomad derives from ``HTTPAddr``), else its IP attribute."""
    address = node.get('HTTPAddr') or node.get('Address') or ''
    if address.startswith('['):
        host = address[1:].partition(']')[0]
    elif address.count(':') == 1:
        host = address.partition(':')[0]
    else:
        host = address  # no port, or a bare IPv6 address
    return host or (node.get('Attributes') or {}).get('unique.network.ip-address') or None


def management_api_url(node):
    """The Management API base URL a node advertises, or None when its IIS driver has the API
    disabled (or the node does not say): ``http://<host of HTTPAddr>:<management_api_port>``."""
    attributes = dict(((node.get('Drivers') or {}).get('iis') or {}).get('Attributes') or {})
    attributes.update(node.get('Attributes') or {})
    if str(attributes.get(MANAGEMENT_API_ENABLED, '')).lower() != 'true':
        return None
    try:
        port = int(attributes.get(MANAGEMENT_API_PORT))
    except (TypeError, ValueError):
        return None
    if not 0 < port < 65536:
        return None
    host = node_host(node)
    if not host:
        return None
    return 'http://%s' % join_host_port(host, port)
