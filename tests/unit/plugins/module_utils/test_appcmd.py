# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The appcmd layer over appcmd's documented outputs: command lines and quoting, /xml, and the
ERROR lines and exit codes turned into typed errors."""

from __future__ import annotations

import pytest

from ansible_collections.nomad_iis.management.plugins.module_utils._appcmd import (
    APPCMD,
    AccessDenied,
    AlreadyInState,
    Appcmd,
    AppcmdError,
    AppcmdMissing,
    NotFound,
    check,
    command_line,
    parse_xml,
    quote,
)
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._winrm import CommandResult

POOLS_XML = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<appcmd>\r\n'
             '    <APPPOOL APPPOOL.NAME="DefaultAppPool" PipelineMode="Integrated" RuntimeVersion="v4.0" state="Started" />\r\n'
             '    <APPPOOL APPPOOL.NAME="nomad-a1-app &amp; co" PipelineMode="Classic" RuntimeVersion="" state="Stopped" />\r\n'
             '</appcmd>\r\n')
WP_XML = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<appcmd>\r\n'
          '    <WP WP.NAME="3577" APPPOOL.NAME="DefaultAppPool" />\r\n    <WP WP.NAME="4100" APPPOOL.NAME="DefaultAppPool" />\r\n'
          '</appcmd>\r\n')
SITES_XML = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<appcmd>\r\n'
             '    <SITE SITE.NAME="Default Web Site" SITE.ID="1" bindings="http/*:80:" state="Started" />\r\n'
             '    <SITE SITE.NAME="live" id="2" bindings="http/*:81:" state="Stopped" />\r\n</appcmd>\r\n')
NOT_FOUND = 'ERROR ( message:Cannot find APPPOOL object with identifier "X". )\r\n'
ALREADY = ('ERROR ( hresult:80070420, message:Command execution failed.\r\nAn instance of the service is already '
           'running.\r\n )\r\n')
NOT_STARTED = 'ERROR ( hresult:80070426, message:Command execution failed.\r\nThe service has not been started.\r\n )\r\n'
NOT_RECOGNIZED = "'appcmd' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"


def test_quote_refuses_what_cmd_would_act_on():
    assert quote('nomad-a1-app') == '"nomad-a1-app"'
    assert quote('Default Web Site') == '"Default Web Site"'
    assert quote('a&b|c') == '"a&b|c"'
    for bad in ('a"b', '50%', '%windir%', 'a\r\nb', ''):
        with pytest.raises(OptionError):
            quote(bad)


def test_command_lines():
    assert command_line('list', 'APPPOOL', None, 'xml') == APPCMD + ' list apppool /xml'
    assert command_line('stop', 'APPPOOL', 'nomad-a1-app') == APPCMD + ' stop apppool "nomad-a1-app"'
    assert command_line('list', 'VDIR', None, 'xml', 'app.name:site/') == APPCMD + ' list vdir /xml /app.name:"site/"'
    assert command_line('set', 'APPPOOL', 'p', 'autoStart:false') == APPCMD + ' set apppool "p" /autoStart:false'


def test_parse_xml():
    pools = parse_xml(POOLS_XML, 'APPPOOL')
    assert pools[1] == {'APPPOOL.NAME': 'nomad-a1-app & co', 'PipelineMode': 'Classic', 'RuntimeVersion': '',
                        'state': 'Stopped'}
    assert parse_xml('<?xml version="1.0" encoding="UTF-8"?>\r\n<appcmd>\r\n</appcmd>\r\n', 'APPPOOL') == []
    with pytest.raises(AppcmdError):
        parse_xml('APPPOOL "x" (state:Started)', 'APPPOOL')


@pytest.mark.parametrize('rc, out, err, cls, hresult, reason', [
    (1168, NOT_FOUND, '', NotFound, None, 'Cannot find APPPOOL object with identifier "X".'),
    (1056, ALREADY, '', AlreadyInState, '80070420', 'Command execution failed. An instance of the service is already running.'),
    (1062, NOT_STARTED, '', AlreadyInState, '80070426', 'Command execution failed. The service has not been started.'),
    (9009, '', NOT_RECOGNIZED, AppcmdMissing, None, None),
    (50, 'ERROR ( message:The WAS service is not available - try starting the service first. )\r\n', '', AccessDenied,
     None, 'The WAS service is not available - try starting the service first.'),
    (87, 'Object \'FOO\' is not supported.  Run \'appcmd.exe /?\' to display supported objects.\r\r\n', '', AppcmdError,
     None, None),
])
def test_errors_are_typed(rc, out, err, cls, hresult, reason):
    with pytest.raises(cls) as caught:
        check(CommandResult(rc, out, err), 'appcmd x', 'stopping pool X')
    assert type(caught.value) is cls  # pylint: disable=unidiomatic-typecheck
    assert caught.value.rc == rc and caught.value.hresult == hresult
    if reason:
        assert caught.value.reason == reason
    assert str(caught.value).startswith('stopping pool X failed: `appcmd x` exited with %d: ' % rc)


def test_an_error_on_stderr_is_read_too():
    with pytest.raises(NotFound) as caught:
        check(CommandResult(1168, '', NOT_FOUND), 'l', 'a')
    assert 'Cannot find' in caught.value.reason


def test_success_returns_stdout():
    assert check(CommandResult(0, '"p" successfully stopped.\r\n', ''), 'l', 'a') == '"p" successfully stopped.\r\n'


class FakeNode:
    def __init__(self, answers):
        self.answers = answers
        self.lines = []

    def run(self, line, action, timeout=None):
        self.lines.append(line)
        for needle, answer in self.answers:
            if needle in line:
                return answer
        return CommandResult(0, '', '')


def test_listing_pools_sites_and_workers():
    node = FakeNode([('list apppool', CommandResult(0, POOLS_XML, '')), ('list wp', CommandResult(0, WP_XML, '')),
                     ('list site', CommandResult(0, SITES_XML, ''))])
    appcmd = Appcmd(node.run)
    assert appcmd.pools() == {'DefaultAppPool': {'state': 'Started', 'runtime': 'v4.0', 'pipeline': 'Integrated'},
                              'nomad-a1-app & co': {'state': 'Stopped', 'runtime': '', 'pipeline': 'Classic'}}
    assert appcmd.worker_pids() == {'DefaultAppPool': [3577, 4100]}
    assert appcmd.sites()['live'] == {'id': '2', 'state': 'Stopped', 'bindings': 'http/*:81:'}
    assert node.lines[0] == APPCMD + ' list apppool /xml'


def test_act_is_idempotent_for_start_and_stop_only():
    node = FakeNode([('start', CommandResult(1056, ALREADY, '')), ('recycle', CommandResult(1062, NOT_STARTED, '')),
                     ('stop', CommandResult(0, '"p" successfully stopped.\r\n', ''))])
    appcmd = Appcmd(node.run)
    assert appcmd.act('start', 'APPPOOL', 'p', 'starting p') is False
    assert appcmd.act('stop', 'APPPOOL', 'p', 'stopping p') is True
    with pytest.raises(AlreadyInState):
        appcmd.act('recycle', 'APPPOOL', 'p', 'recycling p')
