"""The WS-Management/WinRS operations of the WinRM listener as pywinrm and pypsrp use them: one shell
for many commands, RelatesTo, CommandState and ExitCode, the OperationTimeout fault and a Receive
again, the InvalidSelectors faults, Signal and Delete, code pages, the request log (with secrets
redacted) and injected faults."""

from __future__ import annotations

import time

import pytest
import requests
import winrm.exceptions
from conftest import SandboxProcess
from sandbox_http import request
from winrm_clients import APPCMD, CONFIG, PyWinrmShell, protocol, pypsrp_client


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("winrm-wsman"), ["--inspect", "--winrm-port", "0"], CONFIG)
    yield sandbox
    assert sandbox.stop() == set()


@pytest.fixture(scope="module")
def node(sandbox):
    return sandbox.info["nodes"][0]


@pytest.fixture
def shell(node):
    shell = PyWinrmShell(node)
    yield shell
    shell.close()


def winrm_log(sandbox, since: int = 0) -> list[dict]:
    return [r["winrm"] for r in sandbox.inspect(f"requests?since={since}") if "winrm" in r]


def last_seq(sandbox) -> int:
    return max([r["seq"] for r in sandbox.inspect("requests")] or [0])


def test_one_shell_serves_many_commands_with_one_handshake(sandbox, node):
    since = last_seq(sandbox)
    shell = PyWinrmShell(node)
    try:
        results = [shell.run(line) for line in ("echo one", "echo two", "exit /b 3")]
    finally:
        shell.close()
    assert results == [("one\r\n", "", 0), ("two\r\n", "", 0), ("", "", 3)]
    requests_ = [r for r in sandbox.inspect(f"requests?since={since}") if r["server"] == "win-node-1:winrm"]
    assert [r["status"] for r in requests_].count(401) == 2  # the NTLM handshake, once
    actions = [r["winrm"]["action"] for r in requests_ if "winrm" in r]
    assert actions[0] == "Create" and actions[-1] == "Delete" and actions.count("Create") == 1


def test_relates_to_is_checked_by_pypsrp_on_every_reply(node):
    client = pypsrp_client(node, "ntlm")
    assert client.execute_cmd("echo %USERNAME%") == ("admin\r\n", "", 0)


def test_pypsrp_decodes_the_default_code_page(node):
    # pypsrp sends no WINRS_CODEPAGE and decodes 437, the OEM code page the shell then uses.
    out, _err, rc = pypsrp_client(node).execute_cmd("echo Grüße")
    assert (out, rc) == ("Grüße\r\n", 0)


def test_utf8_code_page(shell):
    assert shell.run("echo Grüße")[0] == "Grüße\r\n"


def test_receive_times_out_and_is_sent_again(sandbox, node):
    """A stop waits for the worker (shutdown_delay 2.5 s); with OperationTimeout 1 s the first
    Receive gets the timeout fault, and a Receive sent again gets the result."""
    app_url = sandbox.info["allocs"][0]["tasks"]["app"]["app_url"]
    assert request("GET", app_url).status == 200  # the OnDemand pool gets its worker
    pool = f"nomad-{sandbox.alloc_id}-app"
    client = protocol(node, operation_timeout_sec=1, read_timeout_sec=5)
    shell_id = client.open_shell(codepage=65001)
    try:
        command_id = client.run_command(shell_id, f'{APPCMD} stop apppool "{pool}"')
        timeouts = 0
        while True:
            try:
                out, _err, rc, done = client.get_command_output_raw(shell_id, command_id)
            except winrm.exceptions.WinRMOperationTimeoutError:
                timeouts += 1
                continue
            if done:
                break
        assert timeouts >= 1
        assert (out.decode(), rc) == (f'"{pool}" successfully stopped.\r\n', 0)
        client.cleanup_command(shell_id, command_id)
        command_id = client.run_command(shell_id, f'{APPCMD} start apppool "{pool}"')
        assert client.get_command_output(shell_id, command_id)[2] == 0
    finally:
        client.close_shell(shell_id)


def test_unknown_shell_and_command_ids_are_invalid_selectors(node, shell):
    client = shell.protocol
    with pytest.raises(winrm.exceptions.WSManFaultError) as caught:
        client.run_command("00000000-0000-0000-0000-000000000000", "echo x")
    assert caught.value.wsman_fault_code == 2150858843 and caught.value.fault_subcode == "w:InvalidSelectors"
    assert "shell was not found" in caught.value.reason
    with pytest.raises(winrm.exceptions.WSManFaultError) as caught:
        client.get_command_output_raw(shell.shell_id, "11111111-1111-1111-1111-111111111111")
    assert caught.value.wsman_fault_code == 2150858843
    assert "command identifier that does not exist" in caught.value.reason


def test_signal_terminate_forgets_the_command(shell):
    command_id = shell.protocol.run_command(shell.shell_id, "echo bye")
    shell.protocol.cleanup_command(shell.shell_id, command_id)
    with pytest.raises(winrm.exceptions.WSManFaultError):
        shell.protocol.get_command_output_raw(shell.shell_id, command_id)


def test_a_deleted_shell_is_gone(node):
    client = protocol(node)
    shell_id = client.open_shell()
    client.close_shell(shell_id, close_session=False)
    with pytest.raises(winrm.exceptions.WSManFaultError):
        client.run_command(shell_id, "echo x")


def test_the_request_log_shows_command_lines_with_secrets_redacted(sandbox, shell):
    since = last_seq(sandbox)
    out, _err, rc = shell.run(f'{APPCMD} set apppool DefaultAppPool /processModel.password:hunter2 & echo S3cret-pass')
    assert rc == 0 and "Unknown attribute" in out
    commands = [e["command"] for e in winrm_log(sandbox, since) if e.get("command")]
    assert commands == [f"{APPCMD} set apppool DefaultAppPool /processModel.password:******** & echo ********"]
    receives = [e for e in winrm_log(sandbox, since) if e["action"] == "Receive"]
    assert receives[-1]["exit_code"] == 0 and receives[-1]["user"] == "admin"


def test_injected_faults_on_the_winrm_listener(sandbox, node):
    # A request a fault swallowed never reached the NTLM context: the connection's sealing is then
    # out of step (as behind a proxy that ate a request), so each case uses a shell of its own.
    shell = PyWinrmShell(node)
    sandbox.fault(path="^/wsman$", server="win-node-1:winrm", status=503, times=1)
    with pytest.raises(winrm.exceptions.WinRMTransportError) as caught:
        shell.run("echo x")
    assert caught.value.code == 503
    sandbox.inspect("faults", "DELETE")
    client = protocol(node)
    shell_id = client.open_shell()
    sandbox.fault(path="^/wsman$", server="win-node-1:winrm", delay=1.0, times=1)
    started = time.monotonic()
    command_id = client.run_command(shell_id, "echo slow")
    assert time.monotonic() - started >= 1.0
    assert client.get_command_output(shell_id, command_id)[0] == b"slow\r\n"
    sandbox.fault(path="^/wsman$", server="win-node-1:winrm", cut_after=10, times=1)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        client.run_command(shell_id, "echo cut")
    sandbox.inspect("faults", "DELETE")


def test_powershell_remoting_is_not_served(node):
    with pytest.raises(Exception) as caught:
        pypsrp_client(node, "ntlm").execute_ps("Get-Date")
    assert "2150858770" in str(caught.value) or "not served by the sandbox" in str(caught.value)
