# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""TLS against a real local HTTPS server: CA, server name override (SNI and verification), mTLS."""

from __future__ import annotations

import os
import socket
import ssl
import threading

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nomad_iis.management.plugins.module_utils._argspec import nomad_argument_spec
from ansible_collections.nomad_iis.management.plugins.module_utils._errors import ApiConnectionError, OptionError
from ansible_collections.nomad_iis.management.plugins.module_utils._nomad_client import NomadClient
from ansible_collections.nomad_iis.management.plugins.module_utils._tls import build_ssl_context

ACTION = "reading metadata of node 'abc'"


def client_for(url, **options):
    options.setdefault('retries', 0)
    options.setdefault('timeout', 5)
    return NomadClient(addr=url, **options)


def read(client):
    return client.get_json('/v1/client/metadata', action=ACTION)


def test_ca_cert_verifies_the_server(make_server, pki):
    server = make_server(pki.server_context())
    assert read(client_for(server.url('localhost'), ca_cert=pki.ca_cert)) == {}
    assert server.sni_names == ['localhost']


def test_wrong_ca_fails_with_a_clear_message(make_server, pki):
    server = make_server(pki.server_context())
    url = server.url('localhost')
    with pytest.raises(ApiConnectionError) as error:
        read(client_for(url, ca_cert=pki.other_ca_cert, retries=3, backoff_factor=0))
    message = str(error.value)
    assert message.startswith(ACTION + ' failed: the TLS certificate of %s was not accepted: ' % url)
    assert 'unable to get local issuer certificate' in message
    assert message.endswith('(check nomad_ca_cert, nomad_tls_server_name or nomad_validate_certs)')
    assert error.value.attempts == 1, 'TLS failures are not retried'
    assert server.requests == []


def test_system_cas_do_not_trust_a_private_ca(make_server, pki):
    server = make_server(pki.server_context())
    with pytest.raises(ApiConnectionError, match='was not accepted'):
        read(client_for(server.url('localhost')))


def test_system_cas_are_loaded_at_the_first_tls_connection_only(make_server, pki):
    # Loading the system store costs ~50 ms per client: a plain-HTTP module run should not pay it.
    context = build_ssl_context()
    if not ssl.create_default_context().cert_store_stats()['x509_ca']:
        pytest.skip('this system has no CA certificates to load')
    assert context.cert_store_stats()['x509_ca'] == 0
    server = make_server(pki.server_context())
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(('127.0.0.1', server.port), timeout=5) as sock:
            context.wrap_socket(sock, server_hostname='localhost')
    assert context.cert_store_stats()['x509_ca'] > 0


def test_validate_certs_false_skips_verification(make_server, pki):
    server = make_server(pki.server_context())
    assert read(client_for(server.url('127.0.0.1'), ca_cert=pki.other_ca_cert, validate_certs=False)) == {}


def test_ip_address_not_in_certificate_fails_hostname_check(make_server, pki):
    server = make_server(pki.server_context())
    with pytest.raises(ApiConnectionError) as error:
        read(client_for(server.url('127.0.0.1'), ca_cert=pki.ca_cert))
    assert "mismatch, certificate is not valid for '127.0.0.1'" in str(error.value)
    assert 'nomad_tls_server_name' in str(error.value)


def test_server_name_override_is_sent_as_sni_and_verified(make_server, pki):
    server = make_server(pki.server_context())
    client = client_for(server.url('127.0.0.1'), ca_cert=pki.ca_cert, tls_server_name='client.global.nomad')
    assert read(client) == {}
    # The TCP connection went to 127.0.0.1, the TLS name was the override.
    assert server.sni_names == ['client.global.nomad']
    assert server.requests[0].headers['Host'] == '127.0.0.1:%d' % server.port


def test_server_name_override_is_what_the_certificate_is_checked_against(make_server, pki):
    server = make_server(pki.server_context())
    # localhost is in the certificate, server.global.nomad is not: the override must win.
    with pytest.raises(ApiConnectionError, match="Hostname mismatch, certificate is not valid for 'server.global.nomad'"):
        read(client_for(server.url('localhost'), ca_cert=pki.ca_cert, tls_server_name='server.global.nomad'))
    assert server.sni_names == ['server.global.nomad']


def test_ip_certificate_without_override(make_server, pki):
    server = make_server(pki.server_context(cert='ip'))
    assert read(client_for(server.url('127.0.0.1'), ca_cert=pki.ca_cert)) == {}


def test_client_certificate_required_and_given(make_server, pki):
    server = make_server(pki.server_context(require_client_cert=True))
    client = client_for(server.url('localhost'), ca_cert=pki.ca_cert, client_cert=pki.client_cert,
                        client_key=pki.client_key)
    assert read(client) == {}
    assert dict(x[0] for x in server.peer_certs[0]['subject'])['commonName'] == 'client'


def test_client_certificate_required_but_missing(make_server, pki):
    server = make_server(pki.server_context(require_client_cert=True))
    with pytest.raises(ApiConnectionError) as error:
        read(client_for(server.url('localhost'), ca_cert=pki.ca_cert))
    message = str(error.value)
    assert message.startswith(ACTION + ' failed: ')
    assert 'nomad_client_cert and nomad_client_key' in message
    assert server.requests == []


def test_client_certificate_from_another_ca_is_refused(make_server, pki):
    server = make_server(pki.server_context(require_client_cert=True))
    client = client_for(server.url('localhost'), ca_cert=pki.ca_cert, client_cert=pki.other_client_cert,
                        client_key=pki.other_client_key)
    with pytest.raises(ApiConnectionError) as error:
        read(client)
    assert 'nomad_client_cert and nomad_client_key' in str(error.value)
    assert server.requests == []


@pytest.mark.parametrize('given', ['client_cert', 'client_key'])
def test_client_cert_and_key_both_or_neither(pki, given):
    with pytest.raises(OptionError) as error:
        client_for('https://localhost:4646', **{given: getattr(pki, given)})
    assert str(error.value) == ('nomad_client_cert and nomad_client_key must be given together, or neither: '
                                'only nomad_%s is set' % given)


def test_client_cert_pair_is_checked_for_http_addresses_too(pki):
    # As Nomad's Go client does: a half-configured pair is a mistake whatever the scheme.
    with pytest.raises(OptionError, match='must be given together'):
        client_for('http://localhost:4646', client_cert=pki.client_cert)


def test_missing_ca_file(tmp_path):
    missing = str(tmp_path / 'nope.pem')
    with pytest.raises(OptionError) as error:
        client_for('https://localhost:4646', ca_cert=missing)
    assert str(error.value).startswith("cannot load nomad_ca_cert '%s': No such file or directory" % missing)


def returns_within(seconds, call):
    """Run ``call`` in a thread; fail (instead of hanging the test run) when it has not returned
    after ``seconds``."""
    outcome = {}

    def run():
        try:
            outcome['value'] = call()
        except Exception as exc:  # pylint: disable=broad-except
            outcome['error'] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), 'still waiting after %s seconds' % seconds
    return outcome


@pytest.mark.parametrize('option', ['ca_cert', 'client_cert'])
def test_a_fifo_is_refused_instead_of_waited_on(tmp_path, pki, option):
    fifo = str(tmp_path / 'fifo.pem')
    os.mkfifo(fifo)
    kwargs = dict(ca_cert=fifo) if option == 'ca_cert' else dict(client_cert=fifo, client_key=pki.client_key)
    names = dict(ca_cert='nomad_ca_cert', client_cert='nomad_client_cert')
    try:
        outcome = returns_within(10, lambda: build_ssl_context(option_names=names, **kwargs))
    finally:
        # Let a reader that did block go: open the write end without waiting, then close it.
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert isinstance(outcome.get('error'), OptionError)
    assert str(outcome['error']) == 'cannot load nomad_%s %r: it is a FIFO (named pipe)' % (option, fifo)


def test_client_key_that_does_not_match(pki):
    with pytest.raises(OptionError) as error:
        client_for('https://localhost:4646', client_cert=pki.client_cert, client_key=pki.other_client_key)
    assert str(error.value).startswith("cannot load nomad_client_cert '%s' with nomad_client_key '%s': "
                                       % (pki.client_cert, pki.other_client_key))


def test_encrypted_client_key_is_refused_without_prompting(pki):
    with pytest.raises(OptionError) as error:
        client_for('https://localhost:4646', client_cert=pki.client_cert, client_key=pki.encrypted_client_key)
    assert 'encrypted with a passphrase' in str(error.value)


def test_https_address_against_a_plain_http_server(server):
    with pytest.raises(ApiConnectionError) as error:
        read(client_for(server.url().replace('http:', 'https:'), validate_certs=False))
    assert 'TLS with https://127.0.0.1:%d failed' % server.port in str(error.value)
    assert 'does the server speak TLS? check nomad_addr' in str(error.value)


def test_tls_settings_from_the_environment(make_server, pki, monkeypatch):
    server = make_server(pki.server_context(require_client_cert=True))
    monkeypatch.setenv('NOMAD_ADDR', server.url('127.0.0.1'))
    monkeypatch.setenv('NOMAD_CACERT', pki.ca_cert)
    monkeypatch.setenv('NOMAD_CLIENT_CERT', pki.client_cert)
    monkeypatch.setenv('NOMAD_CLIENT_KEY', pki.client_key)
    monkeypatch.setenv('NOMAD_TLS_SERVER_NAME', 'client.global.nomad')
    result = ArgumentSpecValidator(nomad_argument_spec()).validate({})
    assert not result.error_messages
    assert read(NomadClient.from_params(result.validated_parameters)) == {}
    assert server.sni_names == ['client.global.nomad']


def test_skip_verify_from_the_environment(make_server, pki, monkeypatch):
    server = make_server(pki.server_context())
    monkeypatch.setenv('NOMAD_ADDR', server.url('127.0.0.1'))
    monkeypatch.setenv('NOMAD_SKIP_VERIFY', 'true')
    params = ArgumentSpecValidator(nomad_argument_spec()).validate({}).validated_parameters
    assert params['nomad_validate_certs'] is False
    assert read(NomadClient.from_params(params)) == {}
