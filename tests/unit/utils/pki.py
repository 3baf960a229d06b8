# -*- coding: utf-8 -*-
# Copyright (c) 2026 nomad_iis.management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A throw-away PKI made with cryptography: CAs, server and client certificates as PEM files."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class Pki:
    """PEM files in ``directory``: two unrelated CAs, a server certificate for
    ``client.global.nomad`` and ``localhost`` (not for 127.0.0.1), and client certificates."""

    def __init__(self, directory):
        self.directory = directory
        self._keys = {}
        self.ca_cert, ca_key = self._ca('Test Nomad CA')
        self.other_ca_cert, other_ca_key = self._ca('Some Other CA')
        self.server_cert, self.server_key = self._leaf(
            'server', self.ca_cert, ca_key, server=True,
            names=[x509.DNSName('client.global.nomad'), x509.DNSName('localhost')])
        self.server_ip_cert, self.server_ip_key = self._leaf(
            'server-ip', self.ca_cert, ca_key, server=True,
            names=[x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))])
        self.client_cert, self.client_key = self._leaf('client', self.ca_cert, ca_key, server=False)
        self.other_client_cert, self.other_client_key = self._leaf('other-client', self.other_ca_cert, other_ca_key,
                                                                   server=False)
        self.encrypted_client_key = self._write('client-encrypted.key', self._keys['client'].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b'passphrase')))

    def _write(self, name, data):
        path = os.path.join(self.directory, name)
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def _ca(self, common_name):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (self._builder(name, name, key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        path = self._write(common_name.replace(' ', '-').lower() + '.pem', cert.public_bytes(serialization.Encoding.PEM))
        return path, (cert, key)

    def _leaf(self, label, ca_path, ca, server, names=None):
        ca_cert, ca_key = ca
        key = ec.generate_private_key(ec.SECP256R1())
        self._keys[label] = key
        builder = (self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)]), ca_cert.subject,
                                 key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                         else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        cert_path = self._write(label + '.pem', cert.public_bytes(serialization.Encoding.PEM))
        key_path = self._write(label + '.key', key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return cert_path, key_path

    @staticmethod
    def _builder(subject, issuer, public_key):
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1)))

    def server_context(self, require_client_cert=False, cert='server'):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if cert == 'server':
            context.load_cert_chain(self.server_cert, self.server_key)
        else:
            context.load_cert_chain(self.server_ip_cert, self.server_ip_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=self.ca_cert)
        return context
