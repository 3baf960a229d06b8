# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A scripted Nomad for the node modules: /v1/nodes, /v1/node/:id, its allocations, drain and
eligibility, with Nomad's shapes; a drain completes after ``drain_reads`` reads of the node."""

from __future__ import annotations

import json
import urllib.parse

from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

NODE_1 = '2d2b8b75-cf4b-418a-9757-5d911622abc0'
NODE_2 = '7c1e0f3a-55aa-4b1e-9e0f-0123456789ab'
NODE_3 = '7c9e0f3a-66bb-4c2f-8f10-fedcba987654'


def make_node(node_id, name, datacenter='dc1', status='ready', iis=True, node_class='', pool='default', meta=None):
    drivers = {}
    attributes = {'kernel.name': 'windows', 'nomad.version': '1.10.5', 'unique.network.ip-address': '10.0.0.1'}
    if iis:
        iis_attributes = {'driver.iis.version': '0.20.1', 'driver.iis.management_api_enabled': 'true',
                          'driver.iis.management_api_port': '5004'}
        drivers['iis'] = {'Attributes': iis_attributes, 'Detected': True, 'Healthy': True,
                          'HealthDescription': 'Healthy', 'UpdateTime': '2026-05-01T10:00:00Z'}
        attributes.update(iis_attributes, **{'driver.iis': '1'})
    return {
        'ID': node_id, 'Name': name, 'Datacenter': datacenter, 'NodeClass': node_class, 'NodePool': pool,
        'Status': status, 'StatusDescription': '', 'SchedulingEligibility': 'eligible', 'Drain': False,
        'DrainStrategy': None, 'LastDrain': None, 'Drivers': drivers, 'Attributes': attributes,
        'Meta': meta or {'rack': 'r1'}, 'HTTPAddr': '10.0.0.1:4646', 'TLSEnabled': False,
        'CreateIndex': 10, 'ModifyIndex': 10,
    }


def stub_of(node):
    keys = ('ID', 'Name', 'Datacenter', 'NodeClass', 'NodePool', 'Status', 'StatusDescription', 'SchedulingEligibility',
            'Drain', 'Drivers', 'LastDrain', 'CreateIndex', 'ModifyIndex')
    return dict((key, node[key]) for key in keys)


class FakeNomadNodes:
    """Nodes and their allocations; records the query of every /v1/nodes request."""

    def __init__(self, server, nodes=None, drain_reads=2):
        self.nodes = {n['ID']: n for n in (nodes or [
            make_node(NODE_1, 'win-node-1'), make_node(NODE_2, 'win-node-2', datacenter='dc2', meta={'rack': 'r2'}),
            make_node(NODE_3, 'linux-1', iis=False, node_class='linux')])}
        self.allocs = {NODE_1: [{'ID': 'a1', 'Name': 'web.web[0]', 'JobID': 'web', 'JobType': 'service',
                                 'ClientStatus': 'running'}]}
        self.drain_reads = drain_reads
        self.reads_since_drain = 0
        self.index = 100
        self.list_queries = []
        self.filter_result = None  # node IDs a ?filter= selects
        server.route = self.route

    def bump(self, node):
        self.index += 1
        node['ModifyIndex'] = self.index

    def route(self, request):
        path = request.path_only
        query = urllib.parse.parse_qs(request.query)
        if path == '/v1/nodes':
            self.list_queries.append(query)
            nodes = list(self.nodes.values())
            if 'filter' in query:
                if self.filter_result is None:
                    return Reply(400, b'failed to read filter expression: 1:1 (0): no match found')
                nodes = [n for n in nodes if n['ID'] in self.filter_result]
            return Reply(200, [stub_of(n) for n in nodes], headers={'X-Nomad-Index': str(self.index)})
        parts = path.split('/')  # ['', 'v1', 'node', id, action?]
        node = self.nodes.get(parts[3]) if len(parts) > 3 else None
        if node is None:
            return Reply(404, b'node not found')
        action = parts[4] if len(parts) > 4 else ''
        if action == 'allocations':
            return Reply(200, self.allocs.get(node['ID'], []))
        if action == 'drain':
            return self.drain(node, json.loads(request.body))
        if action == 'eligibility':
            wanted = json.loads(request.body)['Eligibility']
            if node['DrainStrategy'] and wanted == 'eligible':
                return Reply(500, b"can not set node's scheduling eligibility to eligible while it is draining")
            node['SchedulingEligibility'] = wanted
            self.bump(node)
            return Reply(200, {'NodeModifyIndex': self.index, 'EvalIDs': None, 'EvalCreateIndex': 0, 'Index': self.index})
        if node['DrainStrategy'] is not None:
            self.reads_since_drain += 1
            if self.reads_since_drain >= self.drain_reads:
                self.complete(node)
        return Reply(200, node, headers={'X-Nomad-Index': str(self.index)})

    def drain(self, node, body):
        spec = body.get('DrainSpec')
        if spec is not None:
            node['DrainStrategy'] = {'Deadline': spec['Deadline'], 'IgnoreSystemJobs': spec['IgnoreSystemJobs'],
                                     'ForceDeadline': '2026-05-01T11:00:00Z', 'StartedAt': '2026-05-01T10:00:00Z'}
            node['Drain'] = True
            node['SchedulingEligibility'] = 'ineligible'
            node['LastDrain'] = {'Status': 'draining', 'StartedAt': '2026-05-01T10:00:00Z',
                                 'UpdatedAt': '2026-05-01T10:00:00Z', 'AccessorID': '', 'Meta': body.get('Meta')}
            self.reads_since_drain = 0
        else:
            node['DrainStrategy'] = None
            node['Drain'] = False
            if node['LastDrain']:
                node['LastDrain']['Status'] = 'canceled'
            if body.get('MarkEligible'):
                node['SchedulingEligibility'] = 'eligible'
        self.bump(node)
        return Reply(200, {'NodeModifyIndex': self.index, 'EvalIDs': None, 'EvalCreateIndex': 0, 'Index': self.index})

    def complete(self, node):
        node['DrainStrategy'] = None
        node['Drain'] = False
        node['LastDrain']['Status'] = 'complete'
        for alloc in self.allocs.get(node['ID'], []):
            alloc['ClientStatus'] = 'complete'
        self.bump(node)
