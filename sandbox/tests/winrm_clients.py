"""Two independent WinRM clients for the WinRM listener's tests: pywinrm (the collection's) and
pypsrp (`pypsrp.client.Client.execute_cmd`), each given a node of a ready file."""

from __future__ import annotations

import json
import ssl
import urllib.parse

import winrm
from pypsrp.client import Client
from sandbox_http import request

APPCMD = r"%windir%\system32\inetsrv\appcmd.exe"
CONFIG = {
    "nodes": [
        {"name": "win-node-1", "winrm": {"users": {"admin": "S3cret-pass"}},
         "management_api": {"procdump": {"binary_path": "gcore", "accept_eula": True}},
         "iis": {"extra_pools": ["nomad-0b6e3c1a-1111-4222-8333-944455566677-app",
                                 {"name": "admin-pool", "state": "Stopped", "runtime": ""}],
                 "extra_sites": [{"name": "nomad-0b6e3c1a-1111-4222-8333-944455566677-app",
                                  "pool": "nomad-0b6e3c1a-1111-4222-8333-944455566677-app",
                                  "bindings": ["http/*:8081:"]}]}},
        {"name": "win-node-2", "winrm": {"users": {"basic-user": "Basic-pass1"}, "auth": ["basic"],
                                         "allow_unencrypted": True}},
    ],
    "jobs": [{"id": "web", "groups": [{"name": "web", "nodes": ["win-node-1"], "tasks": [{"name": "app", "config": {
        "application_pool": [{"name": "default", "shutdown_delay": 2.5}, {"name": "api", "start_mode": "AlwaysRunning"}],
        "application": [{"path": "local"}, {"path": "local/api", "alias": "api", "application_pool": "api"}]}}]}]}],
}


def port_of(url: str) -> int:
    return urllib.parse.urlsplit(url).port


def protocol(node: dict, transport: str = "ntlm", https: bool = False, password: str | None = None,
             **kwargs) -> winrm.Protocol:
    url = node["winrm_https_url"] if https else node["winrm_url"]
    if https:
        kwargs.setdefault("server_cert_validation", "ignore")
    return winrm.Protocol(url, transport=transport, username=node["winrm_user"],
                          password=node["winrm_password"] if password is None else password, **kwargs)


class PyWinrmShell:
    """One pywinrm shell for many commands, as the collection uses it."""

    def __init__(self, node: dict, transport: str = "ntlm", https: bool = False, codepage: int = 65001, **kwargs):
        self.protocol = protocol(node, transport, https, **kwargs)
        self.shell_id = self.protocol.open_shell(codepage=codepage)

    def run(self, line: str) -> tuple[str, str, int]:
        command_id = self.protocol.run_command(self.shell_id, line)
        try:
            out, err, rc = self.protocol.get_command_output(self.shell_id, command_id)
        finally:
            self.protocol.cleanup_command(self.shell_id, command_id)
        return out.decode("utf-8"), err.decode("utf-8"), rc

    def close(self) -> None:
        self.protocol.close_shell(self.shell_id)


def pypsrp_client(node: dict, auth: str = "negotiate", https: bool = False, password: str | None = None,
                  **kwargs) -> Client:
    url = node["winrm_https_url"] if https else node["winrm_url"]
    if https:
        kwargs.setdefault("cert_validation", False)
    return Client("127.0.0.1", port=port_of(url), ssl=https, auth=auth, username=node["winrm_user"],
                  password=node["winrm_password"] if password is None else password, **kwargs)


def inspect(sandbox, what: str = "state") -> dict | list:
    """The inspection endpoint, also of a sandbox whose Nomad API is HTTPS with mutual TLS."""
    tls = sandbox.info.get("tls")
    context = None
    if tls:
        context = ssl.create_default_context(cafile=tls["ca_cert"])
        context.check_hostname = False
        context.load_cert_chain(tls["client_cert"], tls["client_key"])
    reply = request("GET", f"{sandbox.info['inspect_url']}/{what}", context=context)
    assert reply.status == 200, reply.text
    return json.loads(reply.body)
