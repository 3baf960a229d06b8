# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The WinRM connection, accepted by every nomad_iis_* module (so that module_defaults of the
    # nomad_iis group can set it) and used by those with `via`; argument spec:
    # plugins/module_utils/_argspec.py WINRM_OPTIONS. VIA (VIA_OPTIONS): how such a module reaches IIS.
    DOCUMENTATION = r"""
options:
  winrm_host:
    description:
      - Where WinRM is reached. If not set, each node's address as Nomad knows it.
      - A host name or address for every node, or a dictionary from Nomad node name to host, for nodes
        whose WinRM answers under another name.
      - A value may carry a port (V(host:5986)) or be a whole WinRM URL (V(https://host:5986/wsman)); then it
        wins over O(winrm_scheme) and O(winrm_port).
    type: raw
  winrm_scheme:
    description:
      - V(https) (the default, as ansible's winrm connection) or V(http).
      - V(http) is Windows' stock listener; with O(winrm_transport=ntlm) every message is encrypted with
        NTLM's session key, so it is safe on a trusted network.
      - If not set, the E(NOMAD_IIS_WINRM_SCHEME) environment variable is used.
    type: str
    choices: [https, http]
    default: https
  winrm_port:
    description:
      - The port of the WinRM listener. If not set, V(5986) for V(https) and V(5985) for V(http).
    type: int
  winrm_transport:
    description:
      - How pywinrm authenticates, V(ntlm), V(basic), V(kerberos), V(credssp) or V(certificate).
      - V(basic) works with local accounts only, and over V(http) only where the listener allows unencrypted traffic.
      - If not set, the E(NOMAD_IIS_WINRM_TRANSPORT) environment variable is used.
    type: str
    choices: [ntlm, basic, kerberos, credssp, certificate]
    default: ntlm
  winrm_user:
    description:
      - The user to log on to the nodes with, such as V(Administrator), V(.\\deployer) or V(CORP\\deployer).
        It must be a member of the node's Administrators group to manage IIS with appcmd and to dump
        worker processes with procdump.
      - If not set, the E(NOMAD_IIS_WINRM_USER) environment variable is used.
    type: str
  winrm_password:
    description:
      - The password of O(winrm_user).
      - If not set, the E(NOMAD_IIS_WINRM_PASSWORD) environment variable is used. Set it in the controller's
        environment, not with a task's C(environment) keyword, which ansible-core shows at C(-vvv).
      - Never returned or shown in messages.
    type: str
  winrm_validate_certs:
    description:
      - Whether to verify the TLS certificate of the node's WinRM HTTPS listener.
    type: bool
    default: true
  winrm_ca_cert:
    description:
      - PEM file with the CA certificates to verify the WinRM listener's certificate with.
    type: path
  winrm_operation_timeout:
    description:
      - Seconds one command may run on a node before the module gives up on it. A pool stop waits for
        the worker processes to exit, which can take the pool's C(shutdown_time_limit) (90 seconds by default).
    type: int
    default: 60
notes:
  - The WinRM options (C(winrm_*)) are used only by the modules with a C(via) option, when they act over
    WinRM. The other C(nomad_iis_*) modules accept and ignore them, so that one C(module_defaults) block of
    C(group/nomad_iis.management.nomad_iis) can set them for every module.
"""

    VIA = r"""
options:
  via:
    description:
      - How the module reaches IIS on each node.
      - V(api) uses the Nomad IIS driver's Management API, which only the driver's build with the API has.
      - V(winrm) runs C(%windir%\system32\inetsrv\appcmd.exe) on the node over WinRM, with the O(winrm_user)
        and O(winrm_password) of an administrator of the node. It works with every driver build.
      - V(auto) uses the Management API where the node advertises it (or O(api_url) is set), else WinRM
        where O(winrm_user) is set, and fails naming both otherwise.
      - Each entry of the module's results says which was used, in C(via).
    type: str
    choices: [auto, api, winrm]
    default: auto
requirements:
  - pywinrm (only when acting over WinRM)
notes:
  - "WinRM on a node: C(winrm quickconfig) makes an HTTP listener on port 5985 that takes NTLM and Kerberos;
    for HTTPS add a listener with a certificate (C(winrm create winrm/config/Listener?Address=*+Transport=HTTPS
    @{Hostname=\"node1\";CertificateThumbprint=\"...\"})) and open port 5986. Basic needs
    C(winrm set winrm/config/service/auth @{Basic=\"true\"}), and over HTTP also
    C(winrm set winrm/config/service @{AllowUnencrypted=\"true\"}), which is not advised."
  - "The WinRM user runs C(appcmd.exe) (and, for dumps, procdump) and so must be an administrator of the node;
    a local account other than the built-in Administrator also needs
    C(LocalAccountTokenFilterPolicy=1) to get an elevated token over WinRM."
"""
