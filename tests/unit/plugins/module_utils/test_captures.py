# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_captures: the server's attachment names, dest as a file or a directory, and where a task's
site answers according to Nomad's allocation; resolve_targets without a Management API."""

from __future__ import annotations

import os

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._captures import (
    Destination,
    attachment_filename,
    task_site,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._iis_targets import resolve_targets

ALLOC_ID = '8f3a21bc-5d2e-4c8b-9a01-0123456789ab'
NODE_ID = '36d23ca3-d71c-4126-8f16-b1dbda29b0c4'


# -- attachment_filename ----------------------------------------------------------------------

@pytest.mark.parametrize('header, name', [
    # As ASP.NET Core writes it (and the sandbox): a token plus filename*.
    ("attachment; filename=screenshot_%s_app_2026-11-25-08-59-51.png; "
     "filename*=UTF-8''screenshot_%s_app_2026-11-25-08-59-51.png" % (ALLOC_ID, ALLOC_ID),
     'screenshot_%s_app_2026-11-25-08-59-51.png' % ALLOC_ID),
    ('attachment; filename="my dump.dmp"', 'my dump.dmp'),
    ("attachment; filename=fallback.png; filename*=UTF-8''%C3%BCber.png", 'über.png'),
    ('attachment; filename="..\\\\..\\\\evil.png"', 'evil.png'),
    ('attachment; filename="../../etc/passwd"', 'passwd'),
    ('attachment; filename="a:b?.png"', 'a_b_.png'),
    ('attachment; filename=".."', None),
    ('attachment; filename=""', None),
    ('inline', None),
    ('', None),
])
def test_attachment_filename(header, name):
    assert attachment_filename({'Content-Disposition': header}) == name


def test_attachment_filename_without_the_header():
    assert attachment_filename({}) is None
    assert attachment_filename(None) is None


# -- Destination --------------------------------------------------------------------------------

def test_a_file_dest_takes_the_capture_under_its_own_name(tmp_path):
    dest = Destination(str(tmp_path / 'new' / 'shot.png'), 1)
    assert not dest.is_dir
    assert dest.planned() == str(tmp_path / 'new' / 'shot.png')
    assert dest.path_for('server.png') == str(tmp_path / 'new' / 'shot.png')
    assert os.path.isdir(str(tmp_path / 'new'))


@pytest.mark.parametrize('suffix', ['/', ''])
def test_a_directory_dest_takes_the_server_name(tmp_path, suffix):
    target = tmp_path / 'shots'
    if not suffix:
        target.mkdir()  # an existing directory counts without the slash
    dest = Destination(str(target) + suffix, 2)
    assert dest.is_dir
    assert dest.planned() == str(target) + suffix
    assert dest.path_for('a.png') == os.path.join(str(target) + suffix, 'a.png')
    assert os.path.isdir(str(target))


def test_several_allocations_need_a_directory(tmp_path):
    with pytest.raises(OptionError, match=r"dest '.*one.png' must be a directory .* when 2 allocations match"):
        Destination(str(tmp_path / 'one.png'), 2)


# -- task_site ----------------------------------------------------------------------------------

class FakeNomad:
    """get_json over a dict of path -> answer; records the paths asked for."""

    namespace = 'default'

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def get_json(self, path, action, params=None):
        self.asked.append(path)
        return self.answers[path]


class FakeTarget:
    alloc_id = ALLOC_ID
    task = 'app'
    label = "allocation 8f3a21bc task 'app'"


def alloc(bindings, shared_ports=None, networks=None, task_networks=None):
    return {
        'ID': ALLOC_ID, 'NodeID': NODE_ID, 'TaskGroup': 'web', 'JobID': 'web',
        'Job': {'TaskGroups': [{'Name': 'web', 'Tasks': [
            {'Name': 'app', 'Driver': 'iis', 'Config': {'application': [{'path': 'local'}], 'binding': bindings}}]}]},
        'AllocatedResources': {
            'Shared': {'Ports': shared_ports, 'Networks': networks},
            'Tasks': {'app': {'Networks': task_networks}},
        },
    }


def site_of(allocation, node=None):
    answers = {'/v1/allocation/%s' % ALLOC_ID: allocation}
    if node is not None:
        answers['/v1/node/%s' % NODE_ID] = node
    nomad = FakeNomad(answers)
    return task_site(nomad, FakeTarget()), nomad


def test_the_site_is_the_shared_port_of_the_http_binding():
    site, nomad = site_of(alloc([{'type': 'https', 'port': 'tls'}, {'type': 'http', 'port': 'web'}],
                                shared_ports=[{'Label': 'tls', 'Value': 443, 'HostIP': '10.0.0.5'},
                                              {'Label': 'web', 'Value': 23456, 'HostIP': '10.0.0.5'}]))
    assert site.url('/health') == 'http://10.0.0.5:23456/health'
    assert site.named_url('/') is None and site.host_header is None
    assert nomad.asked == ['/v1/allocation/%s' % ALLOC_ID]


def test_a_port_bound_to_every_address_is_reached_at_the_node_address():
    site, nomad = site_of(alloc([{'type': 'http', 'port': 'http'}],
                                shared_ports=[{'Label': 'http', 'Value': 8080, 'HostIP': '0.0.0.0'}]),
                          node={'Name': 'win-node-1', 'HTTPAddr': '10.0.0.7:4646'})
    assert site.url() == 'http://10.0.0.7:8080/'
    assert nomad.asked[-1] == '/v1/node/%s' % NODE_ID


def test_older_allocations_name_the_port_in_their_networks():
    network = {'IP': '10.0.0.8', 'DynamicPorts': [{'Label': 'http', 'Value': 31000}], 'ReservedPorts': None}
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}], networks=[network]))
    assert site.url() == 'http://10.0.0.8:31000/'
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}], task_networks=[network]))
    assert site.url() == 'http://10.0.0.8:31000/'


def test_a_static_port_with_a_host_name():
    site, dummy = site_of(alloc([{'type': 'http', 'port': '8081', 'hostname': 'shop.example.com'}]),
                          node={'Name': 'win-node-1', 'HTTPAddr': '10.0.0.7:4646'})
    assert site.url('/') == 'http://10.0.0.7:8081/'
    assert site.named_url('/x') == 'http://shop.example.com:8081/x'
    assert site.host_header == 'shop.example.com:8081'


def test_a_wildcard_host_name_is_not_sent():
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http', 'hostname': '*.example.com'}],
                                shared_ports=[{'Label': 'http', 'Value': 80, 'HostIP': '10.0.0.5'}]))
    assert site.named_url('/') is None and site.host_header is None


def test_ipv6_host_addresses_are_bracketed():
    site, dummy = site_of(alloc([{'type': 'http', 'port': 'http'}],
                                shared_ports=[{'Label': 'http', 'Value': 80, 'HostIP': 'fd00::5'}]))
    assert site.url('/') == 'http://[fd00::5]:80/'


def test_a_site_without_an_http_binding():
    with pytest.raises(OptionError, match="has no http binding"):
        site_of(alloc([{'type': 'https', 'port': 'tls'}]))


def test_a_binding_without_an_allocated_port():
    with pytest.raises(OptionError, match="Nomad allocated no port for the label 'web'"):
        site_of(alloc([{'type': 'http', 'port': 'web'}], shared_ports=[]))


# -- resolve_targets(require_api=False) --------------------------------------------------------

def test_local_captures_do_without_a_management_api():
    allocation = alloc([{'type': 'http', 'port': 'http'}])
    allocation['JobID'] = 'web'
    node = {'ID': NODE_ID, 'Name': 'win-node-9', 'HTTPAddr': '10.0.0.9:4646', 'Attributes': {}}
    nomad = FakeNomad({
        '/v1/job/web/allocations': [{'ID': ALLOC_ID, 'ClientStatus': 'running', 'DesiredStatus': 'run',
                                     'TaskGroup': 'web', 'NodeName': 'win-node-9', 'NodeID': NODE_ID}],
        '/v1/allocation/%s' % ALLOC_ID: allocation,
        '/v1/node/%s' % NODE_ID: node,
    })
    params = dict(job='web', alloc_id=None, task=None, task_group=None, node=None, api_url=None)
    with pytest.raises(OptionError, match='does not advertise a Management API'):
        resolve_targets(nomad, params)
    targets = resolve_targets(nomad, params, require_api=False)
    assert [(t.alloc_id, t.task, t.api_url, t.node_name) for t in targets] == [(ALLOC_ID, 'app', None, 'win-node-9')]
