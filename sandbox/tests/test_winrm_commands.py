"""cmd.exe, appcmd.exe and procdump.exe over the WinRM listener, through pywinrm and pypsrp. Effects
are checked through the Management API's status, the sites themselves and the inspection endpoint,
not through appcmd's own answers."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
from conftest import SandboxProcess
from sandbox_http import request
from winrm_clients import APPCMD, CONFIG, PyWinrmShell, pypsrp_client

LEFTOVER = "nomad-0b6e3c1a-1111-4222-8333-944455566677-app"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("winrm-commands"),
                             ["--inspect", "--winrm-port", "0", "--api-key", "k"], CONFIG)
    yield sandbox
    assert sandbox.stop() == set()


@pytest.fixture(scope="module")
def node(sandbox):
    return sandbox.info["nodes"][0]


@pytest.fixture(scope="module")
def shell(node):
    shell = PyWinrmShell(node)
    yield shell
    shell.close()


@pytest.fixture(scope="module")
def names(sandbox):
    alloc = sandbox.alloc_id
    return {"default": f"nomad-{alloc}-app", "api": f"nomad-{alloc}-app-api", "site": f"nomad-{alloc}-app"}


def appcmd(shell, args: str) -> tuple[str, int]:
    out, err, rc = shell.run(f"{APPCMD} {args}")
    assert err == ""
    return out, rc


def api_states(sandbox) -> dict:
    status = sandbox.api("GET", "status").json()
    return {p["name"]: (p["status"], p["isWorkerProcessRunning"]) for p in status["applicationPools"]}


def pools(sandbox) -> dict:
    return sandbox.task_state()["pools"]


def app_url(sandbox, path: str = "") -> str:
    return sandbox.alloc["tasks"]["app"]["app_url"] + path


# --- cmd.exe ---------------------------------------------------------------------------------------

def test_unknown_programs_are_not_recognized(shell, node):
    expected = ("", "'appcmd' is not recognized as an internal or external command,\r\n"
                    "operable program or batch file.\r\n", 9009)
    assert shell.run("appcmd list apppool") == expected
    assert pypsrp_client(node).execute_cmd("appcmd list apppool") == (expected[0], expected[1], 9009)


def test_variables_expand_and_undefined_ones_stay(shell):
    assert shell.run("echo %windir% %SystemDrive% %NOPE%")[0] == "C:\\Windows C: %NOPE%\r\n"


def test_chaining(shell):
    assert shell.run("exit /b 1 && echo skipped || echo ran & echo last") == ("ran \r\nlast\r\n", "", 0)


def test_cmd_strips_a_leading_quote_and_the_last_one(shell, sandbox):
    # `"prog" "arg"` loses its first and last quote (cmd /c's rule); quoting the whole line keeps it.
    line = f'"{APPCMD}" list apppool "DefaultAppPool" /text:state'
    assert shell.run(line)[2] == 9009
    assert shell.run(f'"{line}"')[:3:2] == ("Started\r\n", 0)


# --- appcmd list -----------------------------------------------------------------------------------

def test_list_apppool_text_and_xml(shell, names):
    out, rc = appcmd(shell, "list apppool")
    assert rc == 0
    assert out.split("\r\n") == [
        'APPPOOL "DefaultAppPool" (MgdVersion:v4.0,MgdMode:Integrated,state:Started)',
        f'APPPOOL "{LEFTOVER}" (MgdVersion:v4.0,MgdMode:Integrated,state:Started)',
        'APPPOOL "admin-pool" (MgdVersion:,MgdMode:Integrated,state:Stopped)',
        f'APPPOOL "{names["default"]}" (MgdVersion:v4.0,MgdMode:Integrated,state:Started)',
        f'APPPOOL "{names["api"]}" (MgdVersion:v4.0,MgdMode:Integrated,state:Started)', ""]
    out, rc = appcmd(shell, "list apppools /xml")
    root = ET.fromstring(out)
    assert root.tag == "appcmd" and len(root) == 5
    assert root[0].attrib == {"APPPOOL.NAME": "DefaultAppPool", "PipelineMode": "Integrated",
                              "RuntimeVersion": "v4.0", "state": "Started"}


def test_list_with_filters_and_text(shell, names):
    assert appcmd(shell, "list apppool /state:Stopped /text:name") == ("admin-pool\r\n", 0)
    assert appcmd(shell, f'list apppool "{names["api"]}" /text:state') == ("Started\r\n", 0)
    assert appcmd(shell, "list apppool /state:Unknown") == ("", 0)
    out, rc = appcmd(shell, "list apppool DefaultAppPool /text:*")
    assert rc == 0 and out.startswith("APPPOOL\r\n  APPPOOL.NAME: DefaultAppPool\r\n") and '    autoStart:"true"' in out
    assert appcmd(shell, "list apppool /bogus:1") == ('ERROR ( message:Unknown attribute "bogus".  Replace with -? for '
                                                      'help. )\r\n', 87)


def test_list_sites_apps_vdirs(shell, sandbox, names):
    out = appcmd(shell, "list site")[0]
    port = sandbox.task_state()["ports"]["http"]
    assert f'SITE "{names["site"]}" (id:3,bindings:http/*:{port}:,state:Started)' in out.split("\r\n")
    assert out.startswith('SITE "Default Web Site" (id:1,bindings:http/*:80:,state:Started)\r\n')
    apps = ET.fromstring(appcmd(shell, f'list app /apppool.name:"{names["api"]}" /xml')[0])
    assert [a.attrib["APP.NAME"] for a in apps] == [f'{names["site"]}/api']
    assert appcmd(shell, f'list app "{names["site"]}/"')[0] == f'APP "{names["site"]}/" (applicationPool:{names["default"]})\r\n'
    vdir = ET.fromstring(appcmd(shell, f'list vdir "{names["site"]}/" /xml')[0])[0].attrib
    assert vdir["physicalPath"] == f"C:\\nomad\\data\\alloc\\{sandbox.alloc_id}\\app\\local"


def test_list_wp_shows_the_real_worker_pids(shell, sandbox, names):
    assert request("GET", app_url(sandbox)).status == 200
    state = pools(sandbox)
    wps = {wp.attrib["WP.NAME"]: wp.attrib["APPPOOL.NAME"] for wp in ET.fromstring(appcmd(shell, "list wp /xml")[0])}
    assert wps == {str(state["default"]["worker_pid"]): names["default"], str(state["api"]["worker_pid"]): names["api"]}
    out = appcmd(shell, f'list wp /apppool.name:"{names["api"]}"')[0]
    assert out == f'WP "{state["api"]["worker_pid"]}" (applicationPool:{names["api"]})\r\n'


def test_not_found_and_usage_errors(shell):
    assert appcmd(shell, 'stop apppool "nope"') == ('ERROR ( message:Cannot find APPPOOL object with identifier '
                                                    '"nope". )\r\n', 1168)
    assert appcmd(shell, 'list apppool "nope"')[1] == 1168
    assert appcmd(shell, "start site") == ("ERROR ( message:Must specify the SITE object with identifier. )\r\n", 87)
    assert appcmd(shell, "list foo") == ("Object 'FOO' is not supported.  Run 'appcmd.exe /?' to display supported "
                                         "objects.\r\r\n", 87)
    assert appcmd(shell, "restart site x") == ("Command 'RESTART' is not supported on object 'SITE'. Run 'appcmd.exe "
                                               "SITE /?'\r\r\nto display supported commands.\r\r\n", 87)
    assert appcmd(shell, "")[1] == 87 and appcmd(shell, "/?")[1] == 1


# --- appcmd lifecycle ------------------------------------------------------------------------------

def test_stop_and_start_a_driver_pool(shell, sandbox, names):
    assert request("GET", app_url(sandbox)).status == 200
    old = pools(sandbox)["default"]["worker_pid"]
    assert appcmd(shell, f'stop apppool "{names["default"]}"') == (f'"{names["default"]}" successfully stopped.\r\n', 0)
    assert api_states(sandbox)["default"] == ("Stopped", False)
    assert not os.path.exists(f"/proc/{old}")
    assert request("GET", app_url(sandbox)).status == 503
    assert appcmd(shell, f'stop apppool /apppool.name:"{names["default"]}"') == (
        "ERROR ( hresult:80070426, message:Command execution failed.\r\nThe service has not been started.\r\n )\r\n", 1062)
    assert appcmd(shell, f'recycle apppool "{names["default"]}"')[1] == 1062
    assert appcmd(shell, f'start apppool "{names["default"]}"') == (f'"{names["default"]}" successfully started.\r\n', 0)
    # Started at once; an OnDemand pool has no worker until a request comes.
    assert api_states(sandbox)["default"] == ("Started", False)
    assert appcmd(shell, f'start apppool "{names["default"]}"') == (
        "ERROR ( hresult:80070420, message:Command execution failed.\r\nAn instance of the service is already "
        "running.\r\n )\r\n", 1056)
    assert request("GET", app_url(sandbox)).status == 200


def test_recycle_replaces_the_worker(shell, sandbox, names):
    old = pools(sandbox)["api"]["worker_pid"]
    assert appcmd(shell, f'recycle apppool "{names["api"]}"') == (f'"{names["api"]}" successfully recycled.\r\n', 0)
    new = pools(sandbox)["api"]["worker_pid"]
    assert new and new != old
    assert request("GET", app_url(sandbox, "api/")).status in (200, 404)  # served by the new worker


def test_a_recycle_right_after_a_start_succeeds(shell, sandbox, names):
    appcmd(shell, f'stop apppool "{names["api"]}"')
    assert sandbox.api("PUT", "start").status == 200
    assert appcmd(shell, f'recycle apppool "{names["api"]}"')[1] == 0
    assert api_states(sandbox)["api"] == ("Started", True)


def test_set_autostart(shell):
    assert appcmd(shell, "set apppool admin-pool /autoStart:false") == ('APPPOOL object "admin-pool" changed\r\n', 0)
    assert appcmd(shell, "list apppool /autoStart:false /text:name") == ("admin-pool\r\n", 0)
    assert appcmd(shell, "set apppool admin-pool /autoStartx:false")[1] == 87


def test_stop_and_start_a_site(shell, sandbox, names):
    assert appcmd(shell, f'stop site "{names["site"]}"') == (f'"{names["site"]}" successfully stopped.\r\n', 0)
    assert request("GET", app_url(sandbox)).status == 404
    assert appcmd(shell, f'stop site "{names["site"]}"')[1] == 1062
    assert appcmd(shell, f'start site "{names["site"]}"')[1] == 0
    assert request("GET", app_url(sandbox)).status == 200


def test_delete_leftovers(shell, sandbox):
    assert appcmd(shell, f'delete site "{LEFTOVER}"') == (f'SITE object "{LEFTOVER}" deleted\r\n', 0)
    assert appcmd(shell, f'delete apppool "{LEFTOVER}"') == (f'APPPOOL object "{LEFTOVER}" deleted\r\n', 0)
    debug = sandbox.api("GET", "/api/v1/debug").json()
    assert LEFTOVER not in [p["name"] for p in debug["iisAppPools"] + debug["iisWebsites"]]
    assert appcmd(shell, f'delete apppool "{LEFTOVER}"')[1] == 1168


# --- procdump --------------------------------------------------------------------------------------

def test_procdump_writes_into_the_allocation_directory(shell, sandbox, names):
    pid = pools(sandbox)["api"]["worker_pid"]
    target = f"C:\\nomad\\data\\alloc\\{sandbox.alloc_id}\\app\\tmp\\w3wp.dmp"
    out, err, rc = shell.run(f"C:\\procdump.exe -accepteula -ma {pid} {target}")
    assert rc == -2 and err == "" and "Dump count reached." in out and f"Dump 1 initiated: {target}" in out
    stat = sandbox.nomad("GET", f"/v1/client/fs/stat/{sandbox.alloc_id}?path=app/tmp/w3wp.dmp")
    assert stat.status == 200 and stat.json()["Size"] > 0
    assert shell.run(f"del /f /q {target}") == ("", "", 0)
    assert sandbox.nomad("GET", f"/v1/client/fs/stat/{sandbox.alloc_id}?path=app/tmp/w3wp.dmp").status == 404
    assert shell.run(f"del {target}") == ("", f"Could Not Find {target}\r\n", 0)


def test_procdump_needs_the_eula_and_a_worker(shell, sandbox):
    out, _err, rc = shell.run("C:\\procdump.exe -ma 1 C:\\x.dmp")
    assert rc == -1 and "Use -accepteula to accept EULA." in out
    out, _err, rc = shell.run("C:\\procdump.exe -accepteula -ma 1 C:\\x.dmp")
    assert rc == -1 and "No process matching the specified PID can be found." in out
    assert shell.run("C:\\Tools\\procdump.exe -accepteula")[2] == 9009


def test_a_crashed_driver_leaves_its_objects_and_appcmd_removes_them(tmp_path):
    """Inspection: stopping an allocation with leave_iis=true keeps its pools and sites (dangling)."""
    sandbox = SandboxProcess(tmp_path, ["--inspect", "--winrm-port", "0", "--api-key", "k"], CONFIG)
    try:
        node, alloc = sandbox.info["nodes"][0], sandbox.alloc_id
        reply = request("POST", f"{sandbox.info['inspect_url']}/allocs/{alloc}/stop?leave_iis=true")
        assert reply.status == 200
        iis = sandbox.inspect()["nodes"][node["id"]]["iis"]
        assert iis["pools"][f"nomad-{alloc}-app"]["state"] == "Stopped" and f"nomad-{alloc}-app" in iis["sites"]
        shell = PyWinrmShell(node)
        assert appcmd(shell, f'delete apppool "nomad-{alloc}-app"')[1] == 0
        assert appcmd(shell, f'delete site "nomad-{alloc}-app"')[1] == 0
        shell.close()
        iis = sandbox.inspect()["nodes"][node["id"]]["iis"]
        assert f"nomad-{alloc}-app" not in iis["pools"] and f"nomad-{alloc}-app" not in iis["sites"]
        assert f"nomad-{alloc}-app-api" in iis["pools"]
    finally:
        assert sandbox.stop() == set()
