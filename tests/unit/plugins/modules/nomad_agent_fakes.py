# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A scripted Nomad agent for the nomad_agent_* module tests, and a way to run a module in-process."""

from __future__ import annotations

import urllib.parse

from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

TOKEN = '3f0c9a8e-5b1d-4c2e-9f7a-6d5e4c3b2a19'
NODE_ID = '9d5a3c4e-8f21-4b6a-9c0d-1e2f3a4b5c6d'


def member(name, addr, status='alive', port=4648):
    return {'Name': name, 'Addr': addr, 'Port': port, 'Status': status, 'Tags': {'role': 'nomad'},
            'ProtocolMin': 1, 'ProtocolMax': 5, 'ProtocolCur': 2}


def query(request):
    return urllib.parse.parse_qs(request.query)


class FakeAgent:
    """The agent endpoints of a Nomad agent, with state; install with ``FakeAgent(server)``."""

    def __init__(self, server, client=True, server_role=True):
        self.client = client
        self.server_role = server_role
        self.members = [member('nomad-1.global', '10.0.0.5'), member('nomad-2.global', '10.0.0.6'),
                        member('nomad-old.global', '10.0.0.7', 'left')]
        self.servers = ['10.0.0.5:4647']
        self.health = None  # None: derived from the roles; else (status, body bytes)
        self.secrets = {}
        self.join_answer = None
        self.refuting = False  # force-leave of an alive member does nothing, as a live agent refutes it
        self.monitor_reply = None
        self.pprof_replies = {}
        server.route = self.route

    def route(self, request):
        path, method = request.path_only, request.method
        if path == '/v1/nodes':
            return Reply(200, [{'ID': NODE_ID, 'Name': 'win-node-1', 'Status': 'ready'}])
        handler = getattr(self, '_' + path.split('/')[3].replace('-', '_'), None)
        if not path.startswith('/v1/agent/') or handler is None:
            return Reply(404, b'')
        return handler(method, request)

    def _self(self, method, request):
        config = {'NodeName': 'win-node-1', 'Region': 'global', 'Client': {'Enabled': self.client},
                  'Server': {'Enabled': self.server_role, 'EncryptKey': ''},
                  'ACL': {'Enabled': True, 'ReplicationToken': '<redacted>', 'TokenTTL': 30000000000}}
        config.update(self.secrets)
        return Reply(200, {'config': config, 'member': {'Name': '', 'Status': 'none'},
                           'stats': {'client': {'node_id': NODE_ID}}})

    def _members(self, method, request):
        return Reply(200, {'ServerName': 'nomad-1', 'Members': self.members})

    def _servers(self, method, request):
        if not self.client:
            return Reply(501, b'Invalid method')
        if method == 'GET':
            return Reply(200, sorted(self.servers))
        self.servers = [a if ':' in a else a + ':4647' for a in query(request)['address']]
        return Reply(200, b'')

    def _join(self, method, request):
        if not self.server_role:
            return Reply(501, b'Invalid method')
        joined, errors = 0, []
        for address in query(request)['address']:
            found = [m for m in self.members if '%s:%d' % (m['Addr'], m['Port']) == address]
            if found:
                found[0]['Status'] = 'alive'
                joined += 1
            else:
                errors.append('* Failed to join %s: dial tcp %s: connect: connection refused' % (address, address))
        error = '%d error occurred:\n\t%s\n\n' % (len(errors), '\n\t'.join(errors)) if errors and not joined else ''
        return Reply(200, self.join_answer or {'num_joined': joined, 'error': error, 'warning': ''})

    def _force_leave(self, method, request):
        if not self.server_role:
            return Reply(501, b'Invalid method')
        args = query(request)
        for m in list(self.members):
            if m['Name'] == args['node'][0] and not (self.refuting and m['Status'] == 'alive'):
                m['Status'] = 'left'
                if args.get('prune') == ['true']:
                    self.members.remove(m)
        return Reply(200, b'')

    def _health(self, method, request):
        if self.health is not None:
            return Reply(self.health[0], self.health[1], headers={'Content-Type': 'text/plain; charset=utf-8'})
        body = {}
        if self.client:
            body['client'] = {'ok': True, 'message': 'ok'}
        if self.server_role:
            body['server'] = {'ok': True, 'message': 'ok'}
        return Reply(200, body)

    def _monitor(self, method, request):
        return self.monitor_reply or Reply(200, b'{}')

    def _pprof(self, method, request):
        name = request.path_only.split('/')[-1]
        return self.pprof_replies.get(name) or Reply(404, ('Pprof profile not found profile: %s' % name).encode())

    def requests_to(self, server, path, method=None):
        return [r for r in server.requests if r.path_only == path and (method is None or r.method == method)]
