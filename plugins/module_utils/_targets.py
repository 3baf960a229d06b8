# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Finding the allocations a module acts on, the nodes they run on, and how to reach those nodes.

Python versions supported: 3.11 and newer.

- Allocations: ``job_allocations`` (``/v1/job/:job/allocations``, what ``job`` means),
  ``list_allocations`` (``/v1/allocations``, optionally with ``AllocatedResources``),
  ``read_allocation`` (``/v1/allocation/:id``, the full object) and ``filter_allocations``
  (``task_group``, node and client status filters applied to stubs). Prefix resolution of
  ``alloc_id`` is ``_allocations.resolve_allocation``.
- Nodes: ``NodeDirectory`` reads ``/v1/node/:id`` at most once per node and resolves a ``node``
  option (a node name, or a node ID or unique ID prefix) through one ``/v1/nodes`` listing.
- Reaching a node: ``management_api_url`` builds the IIS driver's Management API URL the way the
  collection documents it for ``api_url``: ``http://<host of the node's HTTPAddr>:<port>`` where the
  port is the node attribute ``driver.iis.management_api_port``, provided the node says
  ``driver.iis.management_api_enabled = true``. ``allocation_ports`` maps port labels to
  ``host:port`` from an allocation's ``AllocatedResources``.
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import urllib.parse

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import NomadIisError

# Nomad's client statuses (AllocListStub.ClientStatus).
CLIENT_STATUSES = ('pending', 'running', 'complete', 'failed', 'lost', 'unknown')

MANAGEMENT_API_ENABLED = 'driver.iis.management_api_enabled'
MANAGEMENT_API_PORT = 'driver.iis.management_api_port'

# Candidates listed in an "ambiguous node" message; the rest are counted.
MAX_CANDIDATES_SHOWN = 10


class NodeLookupError(NomadIisError):
    """A ``node`` option matched no node, or an ID prefix matched several."""


def quote_segment(value):
    """``value`` as one URL path segment (job IDs may hold characters such as ``/``)."""
    return urllib.parse.quote(value, safe='')


# -- Allocations ------------------------------------------------------------------------------

def job_allocations(client, job, namespace=None):
    """The allocation stubs of ``job`` in ``namespace`` (default: the client's). Nomad answers an
    unknown job with an empty list, not an error."""
    namespace = namespace or client.namespace
    return client.get_json('/v1/job/%s/allocations' % quote_segment(job),
                           'listing the allocations of job %r in namespace %r' % (job, namespace),
                           params=dict(namespace=namespace)) or []


def list_allocations(client, namespace=None, resources=False):
    """Every allocation stub in ``namespace`` (``*``: every namespace the token may read); with
    ``resources`` the stubs carry ``AllocatedResources`` (ports), which saves reading each one."""
    namespace = namespace or client.namespace
    where = 'in every namespace' if namespace == '*' else 'in namespace %r' % namespace
    return client.get_json('/v1/allocations', 'listing the allocations %s' % where,
                           params=dict(namespace=namespace, resources=resources or None)) or []


def read_allocation(client, alloc_id):
    """The full allocation (``/v1/allocation/:id``; ``alloc_id`` must be a full ID)."""
    return client.get_json('/v1/allocation/%s' % quote_segment(alloc_id), 'reading allocation %s' % alloc_id)


def filter_allocations(stubs, job=None, task_group=None, node_ids=None, statuses=None):
    """The stubs that match every filter given (None: no filter). ``node_ids`` and ``statuses``
    are collections of accepted values."""
    return [
        stub for stub in stubs
        if (job is None or stub.get('JobID') == job)
        and (task_group is None or stub.get('TaskGroup') == task_group)
        and (node_ids is None or stub.get('NodeID') in node_ids)
        and (statuses is None or stub.get('ClientStatus') in statuses)
    ]


def allocation_ports(alloc):
    """``{label: "host:port"}`` of an allocation's ports, from ``AllocatedResources``.

    Nomad fills ``Shared.Ports`` (group ``network`` blocks, with the host IP each port is bound to);
    older jobs with task-level ``network`` blocks have ``ReservedPorts``/``DynamicPorts`` in the
    networks of ``Shared`` or of each task instead. An allocation without ports gives ``{}``.
    """
    resources = alloc.get('AllocatedResources') or {}
    shared = resources.get('Shared') or {}
    ports = {}
    for port in shared.get('Ports') or []:
        ports[port.get('Label')] = join_host_port(port.get('HostIP'), port.get('Value'))
    networks = list(shared.get('Networks') or [])
    for task in (resources.get('Tasks') or {}).values():
        networks.extend((task or {}).get('Networks') or [])
    for network in networks:
        for port in (network.get('ReservedPorts') or []) + (network.get('DynamicPorts') or []):
            ports.setdefault(port.get('Label'), join_host_port(network.get('IP'), port.get('Value')))
    return ports


def join_host_port(host, port):
    """``host:port``, with brackets around an IPv6 address, as Go's ``net.JoinHostPort``."""
    host = host or ''
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return '%s:%s' % (host, port)


# -- Nodes ------------------------------------------------------------------------------------

class NodeDirectory:
    """The nodes of the cluster as a module needs them, each read from Nomad at most once."""

    def __init__(self, client):
        self.client = client
        self._nodes = {}
        self._stubs = None

    def get(self, node_id):
        """The full node (``/v1/node/:id``: ``HTTPAddr``, ``Attributes``, ``Meta``...)."""
        if node_id not in self._nodes:
            self._nodes[node_id] = self.client.get_json('/v1/node/%s' % quote_segment(node_id),
                                                        'reading node %s' % node_id)
        return self._nodes[node_id]

    def stubs(self):
        """Every node's list stub (``/v1/nodes``), read once."""
        if self._stubs is None:
            self._stubs = self.client.get_json('/v1/nodes', 'listing the nodes') or []
        return self._stubs

    def resolve(self, node):
        """The stubs of the nodes that ``node`` names: the nodes of that name if there are any
        (a replaced node can leave a down one of the same name), else the node whose ID is
        ``node`` or starts with it.

        Raises ``NodeLookupError`` when nothing matches or an ID prefix is ambiguous.
        """
        stubs = self.stubs()
        named = [stub for stub in stubs if stub.get('Name') == node]
        if named:
            return named
        wanted = node.strip().lower()
        if wanted:
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
                raise NodeLookupError('node %r is ambiguous: it is a prefix of the IDs of %d nodes: %s. '
                                      'Give the node name or more characters of the ID'
                                      % (node, len(by_id), '; '.join(shown)))
        names = sorted(stub.get('Name') or stub.get('ID') for stub in stubs)
        raise NodeLookupError('no node is named %r or has an ID starting with it (nodes: %s)'
                              % (node, ', '.join(names) or 'none'))


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


def node_host(node):
    """The host (name or IP, without brackets) of a node's ``HTTPAddr``, else its IP attribute."""
    address = node.get('HTTPAddr') or ''
    if address.startswith('['):
        host = address[1:].partition(']')[0]
    elif address.count(':') == 1:
        host = address.partition(':')[0]
    else:
        host = address  # no port, or a bare IPv6 address
    return host or (node.get('Attributes') or {}).get('unique.network.ip-address') or None
