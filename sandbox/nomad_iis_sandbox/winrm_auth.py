"""Authentication and message encryption of a node's WinRM listener, as Windows' WinRM service does
them for local accounts (README, "WinRM").

- Basic: the `Authorization: Basic` header on every request. Over HTTP only with
  `allow_unencrypted` (Windows' `AllowUnencrypted=true`); otherwise 401, as Windows answers.
- NTLM and Negotiate: the `Negotiate` scheme (Windows never advertises `NTLM`). pyspnego's acceptor
  does the handshake (https://github.com/jborean93/pyspnego, `spnego.server`, `_negotiate.py`):
  raw NTLMSSP tokens (pywinrm's and pypsrp's `ntlm`) and SPNEGO tokens (pypsrp's `negotiate`).
  The context belongs to the TCP connection; after it completes, bodies on HTTP travel as
  `multipart/encrypted` (MS-WSMV 2.2.9.1.1, sealed with the context), and each answer is sealed in
  turn. A plaintext body after NTLM on HTTP without `allow_unencrypted` is refused with a 500
  (reported that way by pywinrm users; 401 loops are reported too: README, "Chosen behaviours").
- 401s carry one `WWW-Authenticate` header per enabled scheme and an empty body; a wrong password
  ends the connection (`Connection: close`), as Windows does.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import re
import struct
import tempfile
import weakref
from dataclasses import dataclass

import spnego
from aiohttp import web
from multidict import CIMultiDict

ENCRYPTED_TYPE = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"'
BOUNDARY = b"--Encrypted Boundary"
SERVER = "Microsoft-HTTPAPI/2.0"
NTLMSSP = b"NTLMSSP\x00"

_user_file: str | None = None
_all_users: dict[str, str] = {}


class BadRequest(Exception):
    """An encrypted body this connection cannot decrypt (Windows answers 400)."""


class PlaintextRefused(Exception):
    """A plaintext SOAP body on HTTP after NTLM, with AllowUnencrypted=false."""


def register_users(users: dict[str, str], node_name: str) -> None:
    """Add users to the credential file pyspnego's NTLM acceptor reads (`NTLM_USER_FILE`, one per
    process: a listener checks afterwards that the user is one of its node's). Each user is written
    for the domains clients send: none, `.` and the node's name."""
    global _user_file
    for user, password in users.items():
        _all_users[user] = password
    if _user_file is None:
        fd, _user_file = tempfile.mkstemp(prefix="nomad-iis-sandbox-ntlm-", suffix=".txt")
        os.close(fd)
        os.environ["NTLM_USER_FILE"] = _user_file
        atexit.register(_remove_user_file)
    lines = []
    for user, password in _all_users.items():
        for domain in ("", ".", node_name.upper()):
            lines.append(f"{domain}:{user}:{password}")
    with open(_user_file, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _remove_user_file() -> None:
    if _user_file:
        with contextlib.suppress(OSError):
            os.remove(_user_file)


@dataclass
class Connection:
    """The NTLM/SPNEGO state of one TCP connection."""
    context: object | None = None
    user: str | None = None  # set once the context is complete and the user is the node's

    @property
    def complete(self) -> bool:
        return self.user is not None


@dataclass
class Authenticated:
    user: str
    connection: Connection | None  # None for Basic
    body: bytes  # the plaintext SOAP body
    encrypted: bool  # the answer must be sealed
    final_token: bytes | None = None  # SPNEGO's last token, sent back in the 200


class WinrmAuth:
    def __init__(self, users: dict[str, str], schemes: list[str], allow_unencrypted: bool, https: bool):
        self.users = {u.lower(): (u, p) for u, p in users.items()}
        self.schemes = schemes
        self.allow_unencrypted = allow_unencrypted
        self.https = https
        self.connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def challenge(self, close: bool = False) -> web.Response:
        headers = CIMultiDict(Server=SERVER)
        if "ntlm" in self.schemes or "negotiate" in self.schemes:
            headers.add("WWW-Authenticate", "Negotiate")
        if "basic" in self.schemes:
            headers.add("WWW-Authenticate", 'Basic realm="WSMAN"')
        response = web.Response(status=401, headers=headers)
        if close:
            response.force_close()
        return response

    def _user(self, principal: str | None) -> str | None:
        """The node's user a principal (`user`, `DOMAIN\\user`, `user@domain`) names, or None."""
        name = (principal or "").rsplit("\\", 1)[-1]
        found = self.users.get(name.lower())
        return found[0] if found else None

    async def authenticate(self, request: web.Request) -> Authenticated | web.Response:
        body = await request.read()
        header = request.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() == "basic" and token:
            return self._basic(token.strip(), body)
        if scheme.lower() == "negotiate" and token:
            return self._negotiate(request, token.strip(), body)
        connection = self.connections.get(request.transport) if request.transport else None
        if connection is None or not connection.complete:
            return self.challenge()
        return self._authenticated(connection, request, body)

    def _basic(self, token: str, body: bytes) -> Authenticated | web.Response:
        if "basic" not in self.schemes or not (self.https or self.allow_unencrypted):
            return self.challenge()
        try:
            user, _sep, password = base64.b64decode(token).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return self.challenge()
        known = self.users.get(user.rsplit("\\", 1)[-1].lower())
        if known is None or known[1] != password:
            return self.challenge(close=True)
        return Authenticated(known[0], None, body, encrypted=False)

    def _negotiate(self, request: web.Request, token: str, body: bytes) -> Authenticated | web.Response:
        try:
            raw = base64.b64decode(token)
        except ValueError:
            return self.challenge()
        kind = "ntlm" if raw.startswith(NTLMSSP) else "negotiate"
        transport = request.transport
        connection = self.connections.get(transport) if transport else None
        if connection is None or connection.complete or connection.context is None:
            if kind not in self.schemes:
                return self.challenge()
            connection = Connection(spnego.server(protocol="negotiate", options=spnego.NegotiateOptions.use_negotiate))
            if transport is not None:
                self.connections[transport] = connection
        try:
            out = connection.context.step(raw)
        except Exception:  # noqa: BLE001 - any acceptor failure (wrong password, bad token) is a 401
            self._forget(transport)
            return self.challenge(close=True)
        if not connection.context.complete:
            headers = CIMultiDict(Server=SERVER)
            headers.add("WWW-Authenticate", "Negotiate " + base64.b64encode(out or b"").decode())
            return web.Response(status=401, headers=headers)
        user = self._user(connection.context.client_principal)
        if user is None:
            self._forget(transport)
            return self.challenge(close=True)
        connection.user = user
        if not body:
            return Authenticated(user, connection, b"", encrypted=False, final_token=out)
        result = self._authenticated(connection, request, body)
        if isinstance(result, Authenticated):
            result.final_token = out
        return result

    def _forget(self, transport) -> None:
        if transport is not None:
            self.connections.pop(transport, None)

    def _authenticated(self, connection: Connection, request: web.Request, body: bytes) -> Authenticated | web.Response:
        content_type = request.headers.get("Content-Type", "")
        if content_type.lower().startswith("multipart/encrypted"):
            try:
                plain = unwrap(connection.context, body)
            except Exception as exc:  # noqa: BLE001 - a body this context cannot unseal
                raise BadRequest(str(exc)) from exc
            return Authenticated(connection.user, connection, plain, encrypted=True)
        if body and not self.https and not self.allow_unencrypted:
            raise PlaintextRefused()
        return Authenticated(connection.user, connection, body, encrypted=False)


def unwrap(context, body: bytes) -> bytes:
    """The SOAP text of a `multipart/encrypted` body (MS-WSMV 2.2.9.1.1; pywinrm `encryption.py`)."""
    parts = body.split(BOUNDARY + b"\r\n")
    if len(parts) < 3:
        raise ValueError("not an encrypted WinRM body")
    length = re.search(rb"Length=(\d+)", parts[1])
    if length is None:
        raise ValueError("no OriginalContent length")
    payload = parts[2].split(b"\r\n", 1)[1]
    if payload.endswith(BOUNDARY + b"--\r\n"):
        payload = payload[:-len(BOUNDARY + b"--\r\n")]
    signature_length = struct.unpack("<I", payload[:4])[0]
    signature = payload[4:4 + signature_length]
    plain = context.unwrap_winrm(signature, payload[4 + signature_length:])
    if len(plain) != int(length.group(1)):
        raise ValueError("the decrypted length does not match OriginalContent")
    return plain


def wrap(context, plain: bytes) -> bytes:
    sealed = context.wrap_winrm(plain)
    return (BOUNDARY + b"\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n" % len(plain)
            + BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<I", len(sealed.header)) + sealed.header + sealed.data + BOUNDARY + b"--\r\n")
