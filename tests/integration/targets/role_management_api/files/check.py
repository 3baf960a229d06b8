# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check the role's effects through the sandbox's inspection endpoint and Nomad API, not through
Ansible's output.

    check.py READY_FILE STATE_FILE STEP [RUN_LOG]

STATE_FILE keeps what a step needs from an earlier one (allocation IDs, request marks).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request

API_KEY = 'role-api-key-0123456789'
JWT_SECRET = 'role-jwt-secret-0123456789abcdef0123456789'


class Sandbox:
    def __init__(self, ready_file):
        with open(ready_file, encoding='utf-8') as handle:
            self.ready = json.load(handle)
        self.ids = {n['name']: n['id'] for n in self.ready['nodes']}
        self.names = {v: k for k, v in self.ids.items()}

    def get(self, url, headers=None):
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            return json.loads(answer.read())

    def nodes(self):
        return self.get(self.ready['inspect_url'] + '/nodes')

    def node(self, name):
        return self.get('%s/v1/node/%s' % (self.ready['nomad_addr'], self.ids[name]))

    def requests(self, since=0):
        return self.get('%s/requests?since=%d' % (self.ready['inspect_url'], since))

    def web_allocs(self):
        return self.get(self.ready['nomad_addr'] + '/v1/job/web/allocations')


def expect(condition, message):
    if not condition:
        raise SystemExit('check failed: ' + message)


def node_writes(requests):
    """(node name, drain | eligibility) of every write to a node through Nomad's API, in order."""
    out = []
    for request in requests:
        match = re.match(r'^/v1/node/([0-9a-f-]{36})/(drain|eligibility)$', request['path'])
        if match and request['method'] in ('POST', 'PUT'):
            out.append((request['_node'], match.group(2)))
    return out


def smoke_tests(requests):
    """(node name, status) of every request for the Management API's debug view."""
    return [(r['server'], r['status']) for r in requests if r['path'] == '/api/v1/debug']


def running(sandbox, version, name):
    node = sandbox.nodes()[name]
    return (node['agent'], node['status'], (node['running'] or {}).get('version')) == ('running', 'ready', version)


def main(ready_file, state_file, step, run_log=None):
    sandbox = Sandbox(ready_file)
    state = {}
    if os.path.exists(state_file):
        with open(state_file, encoding='utf-8') as handle:
            state = json.load(handle)
    requests = sandbox.requests(state.get('mark', 0))
    for request in requests:
        match = re.match(r'^/v1/node/([0-9a-f-]{36})/', request['path'])
        request['_node'] = sandbox.names.get(match.group(1)) if match else None
    writes = node_writes(requests)
    nodes = sandbox.nodes()
    # Agent restarts since the last step, per node: (starts, stops).
    counts = {name: [node['agent_starts'], node['agent_stops']] for name, node in nodes.items()}
    before = state.get('counts', counts)
    restarts = {name: tuple(now - then for now, then in zip(counts[name], before[name])) for name in counts}
    log = open(run_log, encoding='utf-8').read() if run_log else ''

    if step == 'mark':
        pass  # the test changed the cluster itself: later checks start from here
    elif step == 'start':
        state['web'] = sorted(a['ID'] for a in sandbox.web_allocs() if a['ClientStatus'] == 'running')
        expect(len(state['web']) == 2, 'job web runs two allocations')
    elif step == 'first_install':
        expect(running(sandbox, '0.20.1', 'win-c'), 'win-c runs driver 0.20.1: %s' % nodes['win-c'])
        expect(nodes['win-c']['running']['api_key'] is None and nodes['win-c']['running']['jwt_secret'] == JWT_SECRET,
               'win-c has the JWT secret and no key')
        expect(JWT_SECRET not in log, 'the secret is never shown')
        expect(smoke_tests(requests) == [('win-c', 200)], 'the API answered the smoke test with a JWT')
        expect(nodes['win-c']['eligibility'] == 'eligible', 'win-c is eligible')
        iis = sandbox.node('win-c')['Drivers']['iis']
        expect(iis['Healthy'] and iis['Attributes']['driver.iis.version'] == '0.20.1', 'Nomad sees the driver')
        for name in ('win-a', 'win-b'):
            expect(running(sandbox, '0.19.0', name) and nodes[name]['eligibility'] == 'eligible', name + ' untouched')
        expect([w for w in writes if w[0] != 'win-c'] == [], 'only win-c was touched: %s' % writes)
        expect(restarts == {'win-a': (0, 0), 'win-b': (0, 0), 'win-c': (1, 1)}, 'win-c restarted once: %s' % restarts)
    elif step == 'upgrade_two':
        for name in ('win-a', 'win-b', 'win-c'):
            expect(running(sandbox, '0.20.1', name), '%s runs 0.20.1: %s' % (name, nodes[name]))
            expect(nodes[name]['eligibility'] == 'eligible', name + ' is eligible again')
        order = [w for w in writes if w[1] == 'drain']
        expect(order == [('win-a', 'drain'), ('win-b', 'drain')]
               and writes.index(('win-b', 'drain')) > max(i for i, w in enumerate(writes) if w == ('win-a', 'eligibility')),
               'one node after the other, win-a back in service before win-b is drained: %s' % writes)
        expect(not any(w[0] == 'win-c' for w in writes), 'win-c, already on 0.20.1, was not touched')
        expect(restarts == {'win-a': (1, 1), 'win-b': (1, 1), 'win-c': (0, 0)}, 'one restart each: %s' % restarts)
        expect(smoke_tests(requests) == [('win-a', 200), ('win-b', 200)], 'with the key, the API answered the smoke tests')
        allocs = sandbox.web_allocs()
        live = [a for a in allocs if a['ClientStatus'] == 'running']
        expect(len(live) == 2, 'job web still runs two allocations')
        expect(not set(a['ID'] for a in live) & set(state['web']), 'they are new allocations')
        old = [a for a in allocs if a['ID'] in state['web']]
        expect(all(a['ClientStatus'] == 'complete' and a['DesiredTransition']['Migrate'] for a in old),
               'the old ones were migrated')
        expect(sorted(a['NodeName'] for a in live) == ['win-a', 'win-c'],
               'win-a\'s allocation moved to win-c, and win-b\'s came back to win-a: %s' % [a['NodeName'] for a in live])
        expect(re.search(r'win-a: driver 0\.19\.0 -> 0\.20\.1 \(exe and plugin block changed, after a drain\)', log),
               'the playbook reports what changed on win-a')
    elif step == 'unchanged':
        expect(writes == [], 'a run with nothing to change touches no node: %s' % writes)
        expect(set(restarts.values()) == {(0, 0)}, 'and restarts no agent: %s' % restarts)
        expect(re.search(r'win-a +: ok=\d+ +changed=0 ', log) and re.search(r'win-c +: ok=\d+ +changed=0 ', log),
               'and reports no change')
        expect('unchanged (driver 0.20.1)' in log, 'the report says so')
    elif step == 'failed_start':
        expect(running(sandbox, '0.20.1', 'win-a'), 'win-a was rolled back to 0.20.1: %s' % nodes['win-a'])
        expect(nodes['win-a']['eligibility'] == 'ineligible', 'win-a is left ineligible')
        expect(nodes['win-a']['installed']['version'] == '0.20.1', 'its previous driver is installed again')
        expect(restarts['win-a'] == (2, 1), 'stopped, started, and started again with the old driver: %s' % restarts)
        expect(not any(w[0] in ('win-b', 'win-c') for w in writes) and restarts['win-b'] == restarts['win-c'] == (0, 0),
               'the play stopped after win-a: %s %s' % (writes, restarts))
        expect('Rolled back: the node runs its previous driver (0.20.1) again' in log, 'the failure says it rolled back')
        expect('left ineligible' in log, 'and that the node is ineligible')
        expect(API_KEY not in log and JWT_SECRET not in log, 'the credentials are never shown')
    elif step == 'last_node':
        expect('is the last ready, eligible node with a healthy iis driver' in log, 'the refusal names the cause')
        expect(not any(w[0] == 'win-a' for w in writes) and restarts['win-a'] == (0, 0), 'win-a was not touched: %s' % writes)
        expect(nodes['win-a']['eligibility'] == 'eligible' and running(sandbox, '0.20.1', 'win-a'), 'win-a as it was')
    else:
        raise SystemExit('unknown step ' + step)

    state['counts'] = counts
    state['mark'] = max([r['seq'] for r in requests] + [state.get('mark', 0)])
    with open(state_file, 'w', encoding='utf-8') as handle:
        json.dump(state, handle)
    sys.stdout.write('check %s: ok\n' % step)


if __name__ == '__main__':
    main(*sys.argv[1:])
