"""HTTPS (--tls-dir): the generated CA and certificates, server name verification, mutual TLS and
its optional mode."""

import http.client
import json
import os
import socket
import ssl
import time
import urllib.parse

import pytest

from conftest import SandboxProcess
from sandbox_http import request
from nomad_iis_sandbox.tls import ensure_certs


@pytest.fixture(scope="module")
def mtls(tmp_path_factory):
    sandbox = SandboxProcess(tmp_path_factory.mktemp("mtls"), ["--tls-dir", str(tmp_path_factory.mktemp("certs")),
                                                               "--inspect"])
    yield sandbox
    assert not sandbox.stop()


def context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def https_get(sandbox, path, ctx, server_name="client.global.nomad"):
    """GET over a TLS connection to 127.0.0.1 that sends and verifies `server_name` (SNI)."""
    parts = urllib.parse.urlsplit(sandbox.nomad_addr)
    raw = socket.create_connection((parts.hostname, parts.port), timeout=30)
    tls = ctx.wrap_socket(raw, server_hostname=server_name)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.sock = tls
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def client_context(sandbox):
    tls = sandbox.info["tls"]
    return context(tls["ca_cert"], tls["client_cert"], tls["client_key"])


def test_ready_file_describes_the_certificates(mtls):
    tls = mtls.info["tls"]
    assert mtls.nomad_addr.startswith("https://127.0.0.1:")
    assert tls["server_name"] == "client.global.nomad"
    assert all(os.path.isfile(tls[k]) for k in ("ca_cert", "client_cert", "client_key"))


def test_https_with_the_ca_client_cert_and_server_name(mtls):
    status, body = https_get(mtls, "/v1/agent/health", client_context(mtls))
    assert status == 200 and b'"ok":true' in body
    assert https_get(mtls, "/v1/agent/health", client_context(mtls), server_name="localhost")[0] == 200


def test_node_and_agent_report_tls(mtls):
    node_id = mtls.info["nodes"][0]["id"]
    status, body = https_get(mtls, f"/v1/node/{node_id}", client_context(mtls))
    assert status == 200 and b'"TLSEnabled":true' in body
    status, body = https_get(mtls, "/v1/agent/self", client_context(mtls))
    assert b'"EnableHTTP":true' in body and b'"VerifyHTTPSClient":true' in body


def test_a_wrong_server_name_is_refused(mtls):
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        https_get(mtls, "/v1/agent/health", client_context(mtls), server_name="server.other.nomad")


def test_a_wrong_ca_is_refused(mtls, tmp_path):
    other = ensure_certs(str(tmp_path / "other"))
    tls = mtls.info["tls"]
    ctx = context(other["ca.pem"], tls["client_cert"], tls["client_key"])
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(mtls, "/v1/agent/health", ctx)


def test_mutual_tls_refuses_a_client_without_certificate(mtls):
    ctx = context(mtls.info["tls"]["ca_cert"])
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        https_get(mtls, "/v1/agent/health", ctx)


def test_mutual_tls_refuses_a_certificate_of_another_ca(mtls, tmp_path):
    other = ensure_certs(str(tmp_path / "other"))
    ctx = context(mtls.info["tls"]["ca_cert"], other["client.pem"], other["client-key.pem"])
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        https_get(mtls, "/v1/agent/health", ctx)


def test_optional_client_certificate_mode(start_sandbox, tmp_path):
    certs = tmp_path / "certs"
    paths = ensure_certs(str(certs))
    with open(paths["ca.pem"], "rb") as handle:
        ca_before = handle.read()
    sandbox = start_sandbox(["--tls-dir", str(certs), "--tls-optional-client-cert"])
    with open(sandbox.info["tls"]["ca_cert"], "rb") as handle:
        assert handle.read() == ca_before  # existing certificates are reused
    ctx = context(sandbox.info["tls"]["ca_cert"])
    assert https_get(sandbox, "/v1/agent/health", ctx)[0] == 200
    assert https_get(sandbox, "/v1/agent/health", client_context(sandbox))[0] == 200
    status, body = https_get(sandbox, "/v1/agent/self", ctx)
    assert b'"VerifyHTTPSClient":false' in body


def test_a_download_cut_over_tls_resets_at_once(mtls):
    """A cut_after fault delivers its bytes and resets the connection over TLS too, instead of
    leaving the client waiting for its read timeout."""
    ctx = client_context(mtls)
    inspect = mtls.info["inspect_url"]
    state = request("GET", f"{inspect}/state?alloc={mtls.alloc_id}&hash=false", context=ctx).json()
    data = os.urandom(3_000_000)
    with open(os.path.join(state["allocs"][mtls.alloc_id]["tasks"]["app"]["dir"], "local", "cut.bin"), "wb") as out:
        out.write(data)
    fault = request("POST", f"{inspect}/faults", context=ctx, headers={"Content-Type": "application/json"},
                    body=json.dumps({"server": "nomad", "path": "/v1/client/fs/cat/", "cut_after": 100_000}).encode())
    assert fault.status == 200, fault.text
    parts = urllib.parse.urlsplit(mtls.nomad_addr)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30, context=ctx)
    started = time.monotonic()
    try:
        conn.request("GET", f"/v1/client/fs/cat/{mtls.alloc_id}?path=app/local/cut.bin")
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises((http.client.IncompleteRead, OSError)) as cut:
            response.read()
    finally:
        conn.close()
    assert time.monotonic() - started < 10, "the client waited for its timeout"
    partial = getattr(cut.value, "partial", b"")
    assert data.startswith(partial) and len(partial) <= 100_000
