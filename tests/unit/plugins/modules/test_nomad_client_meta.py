# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nomad_client_meta: Nomad's key rule, value conversion, the changes to send and what they make of
the node's metadata; and one run of the module against a scripted Nomad (only changed keys sent,
nothing sent in check mode or for invalid keys)."""

from __future__ import annotations

import json

import pytest


from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.modules import nomad_client_meta
from ansible_collections.nomad_iis.management.plugins.modules.nomad_client_meta import (
    apply_changes,
    changed_keys,
    check_keys,
    key_problem,
    meta_value,
    wanted_meta,
)
from ansible_collections.nomad_iis.management.tests.unit.utils.fake_http import Reply

STATIC = {'rack': 'r1', 'connect.log_level': 'info'}


def node_meta(dynamic=None, static=None):
    """A /v1/client/metadata answer: Meta is Static merged with Dynamic, without null (unset) keys."""
    static = dict(STATIC if static is None else static)
    dynamic = dict(dynamic or {})
    meta = dict(static)
    meta.update(dynamic)
    meta = dict((k, v) for k, v in meta.items() if v is not None)
    return {'Meta': meta, 'Dynamic': dynamic, 'Static': static}


# -- Keys -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', [
    'rack', 'my_key', 'my-key', 'a.b.c', '_x', '_', 'x1', 'a-1.b_2', 'team.owner-name',
    'größe', 'ключ.значение', 'ǅx', 'Ⅻ', 'a\u0301',  # letters of other scripts, titlecase, letter number, combining mark
])
def test_valid_keys(key):
    assert key_problem(key) is None


@pytest.mark.parametrize('key, problem', [
    ('', 'it is empty'),
    ('1abc', "part '1abc' starts with '1'"),
    ('a..b', 'empty part'),
    ('.a', 'empty part'),
    ('a.', 'empty part'),
    ('a b', "part 'a b' contains ' '"),
    ('a/b', "part 'a/b' contains '/'"),
    ('a:b', "part 'a:b' contains ':'"),
    ('-x', "part '-x' starts with '-'"),
    ('a.1b', "part '1b' starts with '1'"),
    ('a.-b', "part '-b' starts with '-'"),
    ('é\u00b2', "part 'é²' contains '²'"),  # a digit that is not a decimal digit (category No)
    ('a$', "part 'a$' contains '$'"),
])
def test_invalid_keys(key, problem):
    assert problem in key_problem(key)


def test_check_keys_names_every_invalid_key():
    with pytest.raises(OptionError) as exc:
        check_keys(['ok', '1abc', 'a..b', 'fine.too'])
    message = str(exc.value)
    assert message.startswith('invalid metadata keys: ')
    assert "'1abc'" in message and "'a..b'" in message
    assert "'ok'" not in message and 'fine.too' not in message


def test_check_keys_accepts_valid_keys():
    check_keys(['rack', 'a.b', '_x-y'])


# -- Values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('x', 'x'), ('', ''), (None, None), (True, 'true'), (False, 'false'), (3, '3'), (0, '0'), (1.5, '1.5'),
])
def test_meta_value_converts_scalars(value, expected):
    assert meta_value('k', value) == expected


@pytest.mark.parametrize('value, kind', [([1], 'list'), ({'a': 1}, 'dict')])
def test_meta_value_refuses_containers(value, kind):
    with pytest.raises(OptionError, match="metadata key 'k' must be a string .* not a %s" % kind):
        meta_value('k', value)


def test_wanted_meta_present_and_absent():
    assert wanted_meta({'a': 'x', 'b': None, 'c': 2}, 'present') == {'a': 'x', 'b': None, 'c': '2'}
    # state=absent ignores the values, also ones that could not be sent
    assert wanted_meta({'a': 'x', 'b': None, 'c': [1]}, 'absent') == {'a': None, 'b': None, 'c': None}


def test_wanted_meta_checks_keys_first():
    with pytest.raises(OptionError, match='invalid metadata key'):
        wanted_meta({'1abc': 'x'}, 'absent')


# -- What to send -----------------------------------------------------------------------------------

def test_no_change_when_meta_already_shows_the_values():
    current = node_meta(dynamic={'role': 'web'})
    assert changed_keys(current['Meta'], {'role': 'web', 'rack': 'r1', 'gone': None}) == {}


def test_only_differing_keys_are_sent():
    current = node_meta(dynamic={'role': 'web', 'tier': '1'})
    wanted = {'role': 'web', 'tier': '2', 'new': 'x', 'rack': None, 'absent': None}
    assert changed_keys(current['Meta'], wanted) == {'tier': '2', 'new': 'x', 'rack': None}


def test_static_key_set_to_its_value_after_unset_is_a_change():
    current = node_meta(dynamic={'rack': None})
    assert 'rack' not in current['Meta']
    assert changed_keys(current['Meta'], {'rack': 'r1'}) == {'rack': 'r1'}
    # and unsetting it again is not
    assert changed_keys(current['Meta'], {'rack': None}) == {}


def test_empty_string_is_a_value_not_an_unset():
    current = node_meta()
    assert changed_keys(current['Meta'], {'note': ''}) == {'note': ''}
    assert changed_keys(node_meta(dynamic={'note': ''})['Meta'], {'note': ''}) == {}


# -- What Nomad makes of it -------------------------------------------------------------------------

def test_apply_sets_into_dynamic_and_meta():
    after = apply_changes(node_meta(), {'role': 'web', 'rack': 'r9'})
    assert after == node_meta(dynamic={'role': 'web', 'rack': 'r9'})
    assert after['Static']['rack'] == 'r1'


def test_apply_unset_of_dynamic_key_drops_it():
    after = apply_changes(node_meta(dynamic={'role': 'web'}), {'role': None})
    assert after == node_meta()
    assert 'role' not in after['Dynamic']


def test_apply_unset_of_static_key_leaves_a_tombstone():
    after = apply_changes(node_meta(), {'rack': None})
    assert after['Dynamic'] == {'rack': None}
    assert 'rack' not in after['Meta']
    assert after == node_meta(dynamic={'rack': None})


def test_apply_then_compare_is_idempotent():
    current = node_meta(dynamic={'a': '1'})
    wanted = {'a': '2', 'b': 'x', 'rack': None}
    after = apply_changes(current, changed_keys(current['Meta'], wanted))
    assert changed_keys(after['Meta'], wanted) == {}


def test_apply_does_not_touch_its_input():
    current = node_meta(dynamic={'a': '1'})
    snapshot = json.loads(json.dumps(current))
    apply_changes(current, {'a': None, 'rack': None})
    assert current == snapshot


# -- The module against a scripted Nomad ------------------------------------------------------------


def metadata_server(server, state):
    """/v1/client/metadata as Nomad answers it, keeping ``state`` (a node_meta() dict) up to date."""
    def route(request):
        if request.method == 'POST':
            changes = json.loads(request.body)['Meta']
            state.update(apply_changes(state, changes))
        return Reply(200, state)
    server.route = route


def posts(server):
    return [json.loads(r.body) for r in server.requests if r.method == 'POST']


def test_module_sends_only_changed_keys(server, run_module):
    state = node_meta(dynamic={'keep': 'same'})
    metadata_server(server, state)
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'keep': 'same', 'new': 1, 'rack': None}),
                        diff=True)
    assert result['changed'] is True
    assert posts(server) == [{'Meta': {'new': '1', 'rack': None}}]
    assert result['changes'] == {'new': '1', 'rack': None}
    assert result['dynamic'] == {'keep': 'same', 'new': '1', 'rack': None}
    assert result['diff']['before']['rack'] == 'r1' and 'rack' not in result['diff']['after']
    assert result['node_id'] is None


def test_module_second_run_sends_nothing(server, run_module):
    state = node_meta(dynamic={'new': '1', 'rack': None})
    metadata_server(server, state)
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'new': 1, 'rack': 'ignored'}, state='absent'))
    assert result['changed'] is True and posts(server) == [{'Meta': {'new': None}}]
    server.requests.clear()
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'new': 1, 'rack': 'ignored'}, state='absent'))
    assert result['changed'] is False and result['changes'] == {}
    assert posts(server) == []


def test_module_check_mode_predicts_without_sending(server, run_module):
    state = node_meta()
    metadata_server(server, state)
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'role': 'web'}), check_mode=True)
    assert result['changed'] is True
    assert result['meta']['role'] == 'web' and result['dynamic'] == {'role': 'web'}
    assert posts(server) == []


def test_module_refuses_invalid_keys_before_any_request(server, run_module):
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'a..b': 'x', '9': 'y'}))
    assert result['failed'] is True
    assert result['msg'].startswith("invalid metadata keys: 'a..b'")
    assert server.requests == []


def test_module_resolves_node_names(server, run_module):
    node = {'ID': '4b3c2a1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d', 'Name': 'win-node-2', 'Status': 'ready'}
    state = node_meta()

    def route(request):
        if request.path_only == '/v1/nodes':
            return Reply(200, [node])
        return Reply(200, state)
    server.route = route
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'rack': 'r1'}, node_id='win-node-2'))
    assert result['changed'] is False
    assert (result['node_id'], result['node_name']) == (node['ID'], 'win-node-2')
    metadata_reads = [r for r in server.requests if r.path_only == '/v1/client/metadata']
    assert 'node_id=' + node['ID'] in metadata_reads[0].query


def test_module_error_names_action_and_node(server, run_module):
    server.route = lambda request: Reply(403, b'Permission denied')
    result = run_module(nomad_client_meta, dict(nomad_addr=server.url(), meta={'a': 'b'}))
    assert result['failed'] is True
    assert result['msg'].startswith('reading the metadata of the node of the agent at %s failed: 403 Permission denied'
                                    % server.url())
