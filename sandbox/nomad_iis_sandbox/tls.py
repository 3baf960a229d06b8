"""A test CA and the certificates the sandbox's HTTPS listener uses, as `nomad tls` makes them."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem")


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue(ca_cert, ca_key, common_name: str, sans: list, usage) -> tuple:
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def ensure_certs(tls_dir: str, region: str = "global") -> dict[str, str]:
    """Use the certificates in `tls_dir`, creating a CA, a server and a client certificate if absent."""
    os.makedirs(tls_dir, exist_ok=True)
    paths = {name: os.path.join(tls_dir, name) for name in FILES}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nomad Agent CA (sandbox)")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    server, server_key = _issue(ca_cert, ca_key, f"client.{region}.nomad", [
        x509.DNSName(f"client.{region}.nomad"), x509.DNSName(f"server.{region}.nomad"),
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    client, client_key = _issue(ca_cert, ca_key, f"cli.{region}.nomad", [x509.DNSName(f"cli.{region}.nomad")],
                                [ExtendedKeyUsageOID.CLIENT_AUTH])
    _write(paths["ca.pem"], ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(paths["ca-key.pem"], _pem_key(ca_key))
    _write(paths["server.pem"], server.public_bytes(serialization.Encoding.PEM))
    _write(paths["server-key.pem"], _pem_key(server_key))
    _write(paths["client.pem"], client.public_bytes(serialization.Encoding.PEM))
    _write(paths["client-key.pem"], _pem_key(client_key))
    return paths


def server_context(paths: dict[str, str], verify_client: bool) -> ssl.SSLContext:
    """Nomad's `tls { http = true }`, with `verify_https_client` as asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths["server.pem"], paths["server-key.pem"])
    context.load_verify_locations(paths["ca.pem"])
    context.verify_mode = ssl.CERT_REQUIRED if verify_client else ssl.CERT_OPTIONAL
    return context
