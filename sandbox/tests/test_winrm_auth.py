"""The WinRM listener's authentication matrix, driven by two independent clients (pywinrm and
pypsrp): Basic over HTTPS (and over HTTP only with allow_unencrypted), NTLM with message encryption
over HTTP, NTLM over HTTPS, SPNEGO Negotiate, wrong credentials, disabled schemes, and plaintext
after NTLM on HTTP."""

from __future__ import annotations

import base64

import pytest
import winrm.exceptions
from pypsrp.exceptions import AuthenticationError
from conftest import SandboxProcess
from sandbox_http import request
from winrm_clients import APPCMD, CONFIG, PyWinrmShell, inspect, protocol, pypsrp_client


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("winrm-auth")
    sandbox = SandboxProcess(tmp, ["--inspect", "--winrm-port", "0", "--tls-dir", str(tmp / "tls")], CONFIG)
    yield sandbox
    assert sandbox.stop() == set()


@pytest.fixture(scope="module")
def node(sandbox):
    return sandbox.info["nodes"][0]


@pytest.fixture(scope="module")
def basic_node(sandbox):
    return sandbox.info["nodes"][1]


def wsman_requests(sandbox, since: int) -> list[dict]:
    return [r for r in inspect(sandbox, f"requests?since={since}") if r["server"].endswith(":winrm")]


def last_seq(sandbox) -> int:
    return max([r["seq"] for r in inspect(sandbox, "requests")] or [0])


@pytest.mark.parametrize("transport, https", [("ntlm", False), ("ntlm", True), ("basic", True), ("ssl", True)])
def test_pywinrm_runs_commands(node, transport, https):
    shell = PyWinrmShell(node, transport, https)
    try:
        out, err, rc = shell.run(f"{APPCMD} list apppool DefaultAppPool /text:state")
        assert (out, err, rc) == ("Started\r\n", "", 0)
    finally:
        shell.close()


def test_ntlm_over_http_encrypts_every_message(sandbox, node):
    since = last_seq(sandbox)
    shell = PyWinrmShell(node, "ntlm")
    shell.run("echo hello")
    shell.close()
    requests = wsman_requests(sandbox, since)
    # The empty POST, the NTLM legs, then Create, Command, Receive, Signal and Delete, all sealed.
    sealed = [r for r in requests if r["headers"].get("content-type", "").startswith("multipart/encrypted")]
    assert [r["winrm"]["action"] for r in sealed] == ["Create", "Command", "Receive", "Signal", "Delete"]
    assert all(r["status"] == 200 for r in sealed)
    assert [r["status"] for r in requests[:3]] == [401, 401, 200]


def test_basic_over_https_verifies_against_the_sandbox_ca(sandbox, node):
    shell = PyWinrmShell(node, "basic", https=True, server_cert_validation="validate",
                         ca_trust_path=sandbox.info["tls"]["ca_cert"])
    try:
        assert shell.run("echo ok")[0] == "ok\r\n"
    finally:
        shell.close()


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_pypsrp_ntlm_and_negotiate_over_http(node, auth):
    out, err, rc = pypsrp_client(node, auth).execute_cmd(f"{APPCMD} list apppool /state:Started /text:name")
    assert rc == 0 and err == ""
    assert "DefaultAppPool" in out.split("\r\n")


def test_pypsrp_basic_over_https(node):
    out, _err, rc = pypsrp_client(node, "basic", https=True).execute_cmd("echo %COMPUTERNAME%")
    assert (out, rc) == ("WIN-NODE-1\r\n", 0)


@pytest.mark.parametrize("transport, https", [("ntlm", False), ("basic", True)])
def test_pywinrm_wrong_password_is_rejected(node, transport, https):
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol(node, transport, https, password="wrong").open_shell()


@pytest.mark.parametrize("auth, https", [("negotiate", False), ("ntlm", False), ("basic", True)])
def test_pypsrp_wrong_password_is_rejected(node, auth, https):
    with pytest.raises(AuthenticationError):
        pypsrp_client(node, auth, https, password="wrong").execute_cmd("echo x")


def test_a_user_of_another_node_is_rejected(node, basic_node):
    stranger = dict(node, winrm_user=basic_node["winrm_user"], winrm_password=basic_node["winrm_password"])
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol(stranger, "ntlm").open_shell()


def test_basic_over_http_needs_allow_unencrypted(node, basic_node):
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol(node, "basic").open_shell()  # AllowUnencrypted=false: 401
    shell = PyWinrmShell(basic_node, "basic")
    try:
        assert shell.run("whoami")[0] == "win-node-2\\basic-user\r\n"
    finally:
        shell.close()


def test_a_disabled_scheme_is_refused(basic_node):
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol(basic_node, "ntlm").open_shell()


def test_plaintext_after_ntlm_on_http_is_refused_without_allow_unencrypted(node):
    with pytest.raises(winrm.exceptions.WinRMError) as caught:
        protocol(node, "ntlm", message_encryption="never").open_shell()
    assert "unencrypted" in str(caught.value)


def test_the_challenge_names_every_enabled_scheme(node, basic_node):
    reply = request("POST", node["winrm_url"], body=b"", headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    assert reply.status == 401 and reply.body == b""
    assert reply.headers.get_all("WWW-Authenticate") == ["Negotiate", 'Basic realm="WSMAN"']
    assert reply.headers["Server"] == "Microsoft-HTTPAPI/2.0"
    reply = request("POST", basic_node["winrm_url"], body=b"")
    assert reply.headers.get_all("WWW-Authenticate") == ['Basic realm="WSMAN"']
    token = base64.b64encode(b"basic-user:wrong").decode()
    reply = request("POST", basic_node["winrm_url"], body=b"<x/>", headers={"Authorization": "Basic " + token})
    assert reply.status == 401


def test_only_post_is_allowed(node):
    reply = request("GET", node["winrm_url"])
    assert (reply.status, reply.headers["Allow"]) == (405, "POST")
