# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_nomad_allocations: alloc_id prefix resolution (Nomad's even-length rule, validation before sending, no
match, ambiguity), job and node listings, filters, ports, summaries."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_allocations import (
    AllocIdPrefix,
    allocated_ports,
    allocation_ports,
    allocation_summary,
    canonical_prefix,
    filter_allocations,
    find_allocations,
    is_terminal,
    job_allocations,
    list_allocations,
    read_job,
    resolve_allocation,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import AllocationLookupError, ApiError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._http_client import fill_path
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

A1 = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
A2 = '8f3a21bd-0000-4000-8000-000000000001'
A3 = '8f3a21bc-5d00-4000-8000-000000000002'
B1 = '11112222-3333-4444-5555-666677778888'


def stub(alloc_id, namespace='default', job='web'):
    return {'ID': alloc_id, 'Namespace': namespace, 'JobID': job, 'TaskGroup': 'web', 'NodeID': 'n-1',
            'NodeName': 'win-1', 'ClientStatus': 'running'}


ALLOCS = [stub(A1), stub(A2), stub(A3), stub(B1, namespace='other', job='api')]


def nomad_like(request):
    """/v1/allocations as Nomad answers it: hex prefix of even length (hyphens ignored) within a namespace."""
    params = urllib.parse.parse_qs(request.query)
    prefix = params.get('prefix', [''])[0]
    namespace = params.get('namespace', ['default'])[0]
    digits = prefix.replace('-', '')
    if len(digits) % 2:
        return Reply(500, b'alloc lookup failed: index error: Input (without hyphens) must be even length')
    if not re.match('^[0-9a-f]*$', digits):
        return Reply(500, b'alloc lookup failed: index error: Invalid UUID: encoding/hex: invalid byte')
    return Reply(200, [a for a in ALLOCS if a['ID'].replace('-', '').startswith(digits)
                       and namespace in ('*', a['Namespace'])])


@pytest.fixture
def nomad(server):
    server.route = nomad_like
    return NomadClient(addr=server.url(), retries=0)


def sent_prefixes(server):
    return [urllib.parse.parse_qs(r.query)['prefix'][0] for r in server.requests]


@pytest.mark.parametrize('alloc_id, hex_digits, query', [
    (A1, A1.replace('-', ''), A1),
    ('8f', '8f', '8f'),
    ('8f3', '8f3', '8f'),
    ('8F3A21BC', '8f3a21bc', '8f3a21bc'),
    ('8f3a21bc5', '8f3a21bc5', '8f3a21bc'),
    ('8f3a21bc5d', '8f3a21bc5d', '8f3a21bc-5d'),
    ('8f3a21bc-5d2', '8f3a21bc5d2', '8f3a21bc-5d'),
    ('8f3a21bc5d2e4c8b', '8f3a21bc5d2e4c8b', '8f3a21bc-5d2e-4c8b'),
    ('  8f3a21bc-  ', '8f3a21bc', '8f3a21bc'),
])
def test_prefix_normalisation(alloc_id, hex_digits, query):
    prefix = AllocIdPrefix(alloc_id)
    assert (prefix.hex, prefix.query) == (hex_digits, query)
    assert len(prefix.query.replace('-', '')) % 2 == 0


@pytest.mark.parametrize('alloc_id, message', [
    ('8', "alloc_id '8' is too short: give at least 2 characters of the allocation ID"),
    ('8-', "alloc_id '8-' is too short"),
    ('', 'alloc_id must not be empty'),
    (None, 'alloc_id must not be empty'),
    ('web-1', "alloc_id 'web-1' is not an allocation ID or a prefix of one: only hexadecimal digits and \"-\" are allowed"),
    ('8f3a 21bc', "alloc_id '8f3a 21bc' is not an allocation ID"),
    (A1 + '0', "alloc_id '%s0' is longer than an allocation ID (32 hexadecimal digits)" % A1),
])
def test_refused_before_any_request(nomad, server, alloc_id, message):
    with pytest.raises(OptionError) as error:
        resolve_allocation(nomad, alloc_id)
    assert str(error.value).startswith(message)
    assert server.requests == []


def test_canonical_prefix():
    assert canonical_prefix(A1.replace('-', '')) == A1
    assert canonical_prefix('') == ''
    assert canonical_prefix('8f3a21bc5d2e') == '8f3a21bc-5d2e'


def test_full_id(nomad, server):
    assert resolve_allocation(nomad, A1)['ID'] == A1
    assert sent_prefixes(server) == [A1]


def test_even_prefix(nomad, server):
    assert resolve_allocation(nomad, '8f3a21bc5d2e')['ID'] == A1
    assert sent_prefixes(server) == ['8f3a21bc-5d2e']


def test_odd_prefix_is_trimmed_for_nomad_and_filtered_here(nomad, server):
    # Nomad would answer 500 to '8f3a21bc5' and return A1 and A3 for '8f3a21bc'; '8f3a21bc5d2' picks A1.
    assert resolve_allocation(nomad, '8f3a21bc5d2')['ID'] == A1
    assert sent_prefixes(server) == ['8f3a21bc-5d']


def test_odd_prefix_keeps_every_real_match(nomad):
    # '8f3a21b' is sent as '8f3a21'; all three IDs start with '8f3a21b', so it stays ambiguous.
    with pytest.raises(AllocationLookupError) as error:
        resolve_allocation(nomad, '8f3a21b')
    assert len(error.value.candidates) == 3
    assert resolve_allocation(nomad, '8f3a21bd')['ID'] == A2


def test_no_match_in_the_configured_namespace(nomad, server):
    with pytest.raises(AllocationLookupError) as error:
        resolve_allocation(nomad, '1111')
    assert str(error.value) == ("no allocation ID starts with '1111' in namespace 'default' "
                                "(set nomad_namespace to '*' to search every namespace)")
    assert urllib.parse.parse_qs(server.requests[0].query)['namespace'] == ['default']


def test_namespace_star_searches_everywhere(nomad, server):
    assert resolve_allocation(nomad, '1111', namespace='*')['ID'] == B1
    assert urllib.parse.parse_qs(server.requests[0].query)['namespace'] == ['*']


def test_configured_namespace_is_used(server):
    server.route = nomad_like
    client = NomadClient(addr=server.url(), namespace='other')
    assert resolve_allocation(client, '11')['ID'] == B1


def test_no_match_in_every_namespace_has_no_hint(nomad):
    with pytest.raises(AllocationLookupError) as error:
        resolve_allocation(nomad, 'ffff', namespace='*')
    assert str(error.value) == "no allocation ID starts with 'ffff' in every namespace"


def test_ambiguous_prefix_lists_the_candidates(nomad):
    with pytest.raises(AllocationLookupError) as error:
        resolve_allocation(nomad, '8f3a21bc')
    assert str(error.value) == (
        "alloc_id '8f3a21bc' is ambiguous in namespace 'default': it matches 2 allocations: "
        "%s (job 'web', group 'web', node 'win-1', running); "
        "%s (job 'web', group 'web', node 'win-1', running). Give more characters of the ID" % (A1, A3))
    assert [c['ID'] for c in error.value.candidates] == [A1, A3]


def test_many_candidates_are_counted_not_listed(server):
    many = [stub('8f%030x' % i) for i in range(15)]
    server.route = lambda request: Reply(200, many)
    with pytest.raises(AllocationLookupError) as error:
        resolve_allocation(NomadClient(addr=server.url()), '8f')
    assert 'it matches 15 allocations' in str(error.value) and '; and 5 more.' in str(error.value)


def test_find_allocations_returns_every_match(nomad):
    assert [a['ID'] for a in find_allocations(nomad, '8f3a21')] == [A1, A2, A3]


def test_lookup_errors_name_the_lookup(server):
    server.route = lambda request: Reply(403, b'Permission denied')
    with pytest.raises(Exception) as error:
        resolve_allocation(NomadClient(addr=server.url(), token='t0k'), '8f3a')
    assert str(error.value) == ("looking up allocation '8f3a' in namespace 'default' failed: 403 Permission denied "
                                'from %s (check nomad_token)' % server.url())


# -- Listings, filters, ports, summaries ----------------------------------------------------------

NODE_1 = '2d2b8b75-cf4b-418a-9757-5d911622abc0'
NODE_3 = 'f716a23f-a785-4015-8288-a9164b3e7b74'


class FakeClient:
    namespace = 'default'

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get_json(self, path, *path_args, action, params=None):
        path = fill_path(path, path_args)
        self.calls.append((path, params))
        return self.answers[path]


def test_allocation_ports_from_shared_ports():
    alloc = {'AllocatedResources': {'Shared': {
        'Ports': [{'Label': 'http', 'Value': 24780, 'HostIP': '10.0.0.5'},
                  {'Label': 'admin', 'Value': 24781, 'HostIP': 'fe80::1'}],
        'Networks': [{'IP': '10.0.0.5', 'DynamicPorts': [{'Label': 'http', 'Value': 1}]}]}}}
    assert allocation_ports(alloc) == {'http': '10.0.0.5:24780', 'admin': '[fe80::1]:24781'}


def test_allocation_ports_from_task_networks():
    alloc = {'AllocatedResources': {'Shared': {'Ports': None, 'Networks': None}, 'Tasks': {
        'app': {'Networks': [{'IP': '10.0.0.6', 'ReservedPorts': [{'Label': 'https', 'Value': 443}],
                              'DynamicPorts': [{'Label': 'http', 'Value': 25000}]}]},
        'sidecar': None}}}
    assert allocation_ports(alloc) == {'https': '10.0.0.6:443', 'http': '10.0.0.6:25000'}


def test_allocation_ports_without_resources():
    assert allocation_ports({'ID': 'x'}) == {}


def test_filter_allocations():
    stubs = [
        {'ID': 'a', 'JobID': 'web', 'TaskGroup': 'web', 'NodeID': NODE_1, 'ClientStatus': 'running'},
        {'ID': 'b', 'JobID': 'web', 'TaskGroup': 'web', 'NodeID': NODE_3, 'ClientStatus': 'complete'},
        {'ID': 'c', 'JobID': 'batch', 'TaskGroup': 'run', 'NodeID': NODE_1, 'ClientStatus': 'running'},
    ]

    def ids(found):
        return [s['ID'] for s in found]

    assert ids(filter_allocations(stubs)) == ['a', 'b', 'c']
    assert ids(filter_allocations(stubs, job='web')) == ['a', 'b']
    assert ids(filter_allocations(stubs, task_group='run')) == ['c']
    assert ids(filter_allocations(stubs, node_ids={NODE_1})) == ['a', 'c']
    assert ids(filter_allocations(stubs, statuses={'running'}, job='web')) == ['a']
    assert ids(filter_allocations(stubs, statuses=set())) == []


def test_job_allocations_quotes_the_job_and_sends_the_namespace():
    client = FakeClient({'/v1/job/a%2Fb/allocations': None})
    assert job_allocations(client, 'a/b', 'apps') == []
    assert client.calls == [('/v1/job/a%2Fb/allocations', {'namespace': 'apps'})]


def test_list_allocations_sends_a_filter_and_names_it_in_errors(server):
    client = NomadClient(addr=server.url(), retries=0)
    server.reply(Reply(200, [stub(A1)]), Reply(400, b'failed to create result paginator: failed to read filter expression: 1:5 (4): no match'))
    assert list_allocations(client, '*', filter_expression='JobID == "web"') == [stub(A1)]
    assert urllib.parse.parse_qs(server.requests[0].query) == {'namespace': ['*'], 'filter': ['JobID == "web"']}
    with pytest.raises(ApiError) as caught:
        list_allocations(client, filter_expression='JobID')
    assert str(caught.value).startswith("listing the allocations in namespace 'default' matching filter 'JobID' failed: 400 ")
    assert str(caught.value).endswith('(check filter: a Nomad filter expression, see https://developer.hashicorp.com/nomad/api-docs#filtering)')


def test_read_job_quotes_the_job_and_sends_the_namespace(server):
    client = NomadClient(addr=server.url(), retries=0)
    server.reply(Reply(200, {'ID': 'a/b'}))
    assert read_job(client, 'a/b', 'apps') == {'ID': 'a/b'}
    assert (server.requests[0].path_only, server.requests[0].query) == ('/v1/job/a%2Fb', 'namespace=apps')


def test_allocated_ports_of_one_task():
    network = {'IP': '10.0.0.6', 'DynamicPorts': [{'Label': 'http', 'Value': 25000}]}
    alloc = {'AllocatedResources': {'Shared': {'Ports': None}, 'Tasks': {
        'app': {'Networks': [network]}, 'other': {'Networks': [dict(network, IP='10.0.0.7')]}}}}
    assert allocated_ports(alloc, 'other') == {'http': ('10.0.0.7', 25000)}
    assert allocated_ports(alloc) == {'http': ('10.0.0.6', 25000)}


@pytest.mark.parametrize('status, terminal', [
    ('pending', False), ('running', False), ('unknown', False), ('complete', True), ('failed', True), ('lost', True),
])
def test_is_terminal(status, terminal):
    assert is_terminal({'ClientStatus': status}) is terminal


def test_allocation_summary():
    stub = {'ID': 'a', 'JobID': 'batch', 'Namespace': 'default', 'TaskGroup': 'run', 'NodeID': 'n',
            'NodeName': 'win-node-1', 'ClientStatus': 'complete', 'TaskStates': {}}
    assert allocation_summary(stub) == dict(alloc_id='a', job='batch', namespace='default', task_group='run',
                                            node_id='n', node_name='win-node-1', client_status='complete')
