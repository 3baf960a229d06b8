"""Management API authentication and authorization as upstream implements them
(`Authentication.cs`, `Authorization.cs`; README, "Faithful quirks")."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time

CAPABILITIES = ("Status", "FilesystemAccess", "AppPoolLifecycle", "Screenshots", "ProcDump", "Debug")
ISSUER = "NomadIIS"
AUDIENCE = "ManagementApi"
CLOCK_SKEW = 300  # Microsoft.IdentityModel's default
MIN_KEY_BYTES = 32  # HS256 keys under 256 bits are refused (IDX10720)
_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


class AuthCrash(Exception):
    """The handler throws (e.g. a too-short Authorization header): upstream answers 500."""


class Principal:
    """Claims by type (types compared case-insensitively, values ordinally, as .NET's HasClaim)."""

    def __init__(self, claims: dict[str, list[str]]):
        self.claims = {k.lower(): v for k, v in claims.items()}

    def has(self, claim_type: str, value: str) -> bool:
        return value in self.claims.get(claim_type.lower(), [])

    def may(self, capability: str) -> bool:
        return self.has("capabilities", capability) or self.has("capabilities", "*")

    def may_access(self, namespace: str, job: str, alloc_id: str, capability: str) -> bool:
        def match(claim: str, value: str) -> bool:
            return self.has(claim, value) or self.has(claim, "*")
        return (match("namespace", namespace) and match("jobName", job) and match("allocId", alloc_id)
                and self.may(capability))


API_KEY_PRINCIPAL = Principal({"namespace": ["*"], "jobName": ["*"], "allocId": ["*"],
                               "capabilities": list(CAPABILITIES)})
ANONYMOUS = Principal({})


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def validate_jwt(token: str, secret: str, now: float | None = None) -> Principal | None:
    """The token's principal, or None when JwtSecurityTokenHandler would reject it."""
    now = time.time() if now is None else now
    key = secret.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        return None
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        payload = json.loads(_b64decode(payload_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    digest = _HASHES.get(header.get("alg"))
    if digest is None:
        return None
    expected = hmac.new(key, f"{header_b64}.{payload_b64}".encode("ascii"), digest).digest()
    if not hmac.compare_digest(expected, signature):
        return None
    if payload.get("iss") != ISSUER:
        return None
    audiences = payload.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if AUDIENCE not in audiences:
        return None
    exp = payload.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or now > exp + CLOCK_SKEW:
        return None
    nbf = payload.get("nbf")
    if isinstance(nbf, (int, float)) and now + CLOCK_SKEW < nbf:
        return None
    claims: dict[str, list[str]] = {}
    for name, value in payload.items():
        values = value if isinstance(value, list) else [value]
        claims[name] = [v if isinstance(v, str) else json.dumps(v) for v in values]
    return Principal(claims)


def authenticate(headers, api_key: str | None, jwt_secret: str | None) -> Principal | None:
    """ApiKeyAuthenticationHandler.HandleAuthenticateAsync: a principal, or None for Fail()."""
    if not api_key and not jwt_secret:
        return ANONYMOUS
    key_header = headers.get("X-Api-Key")
    authorization = headers.get("Authorization")
    if key_header is None and authorization is None:
        return None
    if key_header and api_key and key_header == api_key:  # ordinal ==, as upstream
        return API_KEY_PRINCIPAL
    if jwt_secret and authorization is not None:
        if len(authorization) < len("Bearer "):
            raise AuthCrash("Authorization header shorter than 'Bearer '")
        # Upstream strips seven characters without checking that they say "Bearer ".
        return validate_jwt(authorization[len("Bearer "):], jwt_secret)
    return None
