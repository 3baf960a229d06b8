# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""make_unsafe: strings that could be templates are never rendered; the rest is left as it is."""

from __future__ import annotations

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.nomad_iis.management.plugins.plugin_utils._unsafe import make_unsafe

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 renders every string
    def trust_as_template(value):
        return value

TEMPLATE = '{{ 6 * 7 }}'


def render(variables, expression):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


def test_templates_stay_text_wherever_they_are():
    data = make_unsafe({'a': TEMPLATE, TEMPLATE: 'key', 'list': [TEMPLATE, {'b': '{% if true %}x{% endif %}'}],
                        'tuple': ('{# c #}',), 'set': {TEMPLATE}})
    assert render(data, '{{ a }}') == TEMPLATE
    assert render(data, '{{ list[0] }}') == TEMPLATE
    assert render(data, '{{ list[1].b }}') == '{% if true %}x{% endif %}'
    assert render(data, '{{ tuple[0] }}') == '{# c #}'
    assert render(data, '{{ a ~ list[0] }}') == TEMPLATE + TEMPLATE
    assert TEMPLATE in render(data, '{{ set | list | first }}')
    assert TEMPLATE in render({'data': data}, '{{ data.keys() | list }}')


def test_other_values_are_unchanged():
    data = {'name': 'win-node-1', 'port': 5004, 'healthy': True, 'none': None, 'ratio': 0.5}
    assert make_unsafe(data) == data
    assert all(value.__class__ is data[key].__class__ for key, value in make_unsafe(data).items())
    assert make_unsafe(('a', 1)) == ['a', 1]
