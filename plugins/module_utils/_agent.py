# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the ``nomad_agent_*`` modules share: addresses, gossip members, hints.

Python versions supported: 3.11 and newer.

Addresses are written ``host:port`` (IPv6 in brackets); a missing port is the default of the
protocol (4647 for a client's RPC server list, 4648 for gossip). Nomad reports addresses with
resolved IPs, so to compare a user's address with Nomad's, a host name is resolved where the
module runs; a name that does not resolve there is compared as written (and so never matches).
"""

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the nomad_iis.management collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

from __future__ import annotations

import collections
import ipaddress
import re
import socket

from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import join_host_port

RPC_PORT = 4647
SERF_PORT = 4648

# Join and force-leave act on the servers' gossip pool: a client-only agent answers 501.
SERVER_AGENT_HINT = 'only a server agent can do this: point nomad_addr at a Nomad server'
# /v1/agent/servers is the server list of a client: a server-only agent answers 501.
CLIENT_AGENT_HINT = 'only a client agent has a server list: point nomad_addr at a Nomad client'

_HOST_NAME = re.compile(r'^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$')


class HostPort(collections.namedtuple('HostPort', ['host', 'port'])):
    """An address as the user wrote it, with the default port filled in."""

    def __str__(self):
        return join_host_port(self.host, self.port)


def parse_host_port(text, default_port, option):
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; raise ``OptionError`` naming ``option``."""
    address = text.strip() if isinstance(text, str) else ''
    problem = None
    host, port = address, None
    if address.startswith('['):
        host, sep, rest = address[1:].partition(']')
        if not sep:
            problem = "a ']' is missing"
        elif rest:
            if not rest.startswith(':'):
                problem = "only ':port' may follow ']'"
            port = rest[1:]
        if problem is None and not _is_ip(host, 6):
            problem = '%r is not an IPv6 address' % host
    elif address.count(':') == 1:
        host, port = address.split(':')
    elif ':' in address:
        problem = 'write IPv6 addresses in brackets, such as [%s]:%d' % (address, default_port)
    if problem is None and not host:
        problem = 'the host is missing'
    if problem is None and not _is_ip(host) and not _HOST_NAME.match(host):
        problem = '%r is not a host name or IP address' % host
    if problem is None and port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            problem = 'the port must be a number from 1 to 65535'
    if problem:
        raise OptionError('%s: %r is not a valid host:port address: %s' % (option, text, problem))
    return HostPort(host, int(port) if port is not None else default_port)


def comparable_address(host, port):
    """``ip:port`` as Nomad reports it: a host name resolved here (IPv4 first, as Go's resolver
    prefers it), an IP in its canonical spelling; a name that does not resolve stays as written."""
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return join_host_port(host.lower(), port)
        found = [info[4][0] for info in infos]
        ip = next((a for a in found if ':' not in a), found[0]) if found else host.lower()
        ip = ip.split('%', 1)[0]  # an IPv6 zone
    return join_host_port(ip, port)


def _is_ip(text, version=None):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


# -- Gossip members -----------------------------------------------------------------------------

def read_members(client):
    """The servers' gossip pool (``GET /v1/agent/members``): a list of member dicts."""
    answer = client.get_json('/v1/agent/members', action="reading the agent's gossip members") or {}
    return answer.get('Members') or []


def read_servers(client):
    """The server list of a client agent (``GET /v1/agent/servers``); a server-only agent answers 501."""
    return client.get_json('/v1/agent/servers', action="reading the agent's server list",
                           hints={501: CLIENT_AGENT_HINT}) or []


def member_address(member):
    """A member's gossip address, spelled as ``comparable_address`` spells it."""
    return comparable_address(str(member.get('Addr') or ''), int(member.get('Port') or 0))


def member_summary(member):
    """The fields of a member worth showing in a diff or result: name, address, status."""
    if member is None:
        return None
    return dict(name=member.get('Name'), address=member_address(member), status=member.get('Status'))
