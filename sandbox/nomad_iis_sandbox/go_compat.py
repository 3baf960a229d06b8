"""Go's behaviour where Nomad's answers show it, so that texts and shapes match the agent's byte
for byte: strconv's quoting and parsing, time's durations and timestamps, path/filepath, os errors
and file modes, net/http's content sniffing, encoding/hex, hclsyntax identifiers and go-memdb's UUID
index. Plain functions of their arguments; nothing here knows about HTTP."""

from __future__ import annotations

import os
import posixpath
import re
import stat
import time
import unicodedata

MAX_INT64 = 2**63 - 1


# --- strconv ----------------------------------------------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               '"': '\\"', "\\": "\\\\"}


def _strconv_quote(text: str, surrogateescape: bool) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif surrogateescape and 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_quote(text: str) -> str:
    """strconv.Quote (`%q`) of text: printable Unicode kept, the rest escaped. A lone surrogate
    (only a JSON `\\udcXX` escape brings one in) is an unprintable code point: `\\udcXX`."""
    return _strconv_quote(text, surrogateescape=False)


def go_quote_surrogateescape(text: str) -> str:
    """strconv.Quote of text that stands for bytes, decoded with surrogateescape (file names and
    what is read from disk): U+DC80..U+DCFF is an undecodable byte and prints as `\\xNN`, as Go
    prints a byte of invalid UTF-8. Elsewhere the same as go_quote."""
    return _strconv_quote(text, surrogateescape=True)


def go_parse_int(text: str, func: str = "ParseInt") -> int:
    """strconv.ParseInt(text, 10, 64) (or Atoi); ValueError carries Go's error text."""
    def fail(reason: str):
        raise ValueError(f"strconv.{func}: parsing {go_quote_surrogateescape(text)}: {reason}")

    digits, negative = text, False
    if digits[:1] in ("+", "-"):
        negative, digits = digits[0] == "-", digits[1:]
    if not digits:
        fail("invalid syntax")
    value = 0
    for char in digits:
        if not "0" <= char <= "9":
            fail("invalid syntax")
        value = value * 10 + ord(char) - 48
        if value > 2**64 - 1:  # ParseUint gives up as soon as it overflows
            fail("value out of range")
    if value > MAX_INT64 + negative:
        fail("value out of range")
    return -value if negative else value


def go_parse_bool(text: str) -> bool:
    """strconv.ParseBool; ValueError carries Go's error text. (Its callers pass query values,
    which never hold surrogates: aiohttp decodes invalid UTF-8 to U+FFFD.)"""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"strconv.ParseBool: parsing {go_quote_surrogateescape(text)}: invalid syntax")


def go_atoi(text: str) -> int:
    """strconv.Atoi with the error dropped, as the pprof handler does."""
    return int(text) if re.fullmatch(r"[+-]?\d+", text or "") else 0


# --- time -------------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_parse_duration(text: str) -> float:
    """time.ParseDuration, in seconds; ValueError when Go would refuse it."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(text)
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            raise ValueError(text)
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return -total if text.startswith("-") else total


def go_duration(ns: int) -> str:
    """time.Duration.String(), e.g. `1.234567ms`, `512µs`, `1m2.5s`."""
    def decimal(value: int, unit: int) -> str:
        whole, part = divmod(value, unit)
        digits = f"{part:0{len(str(unit)) - 1}d}".rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)

    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{decimal(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{decimal(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = sign + (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
    return text + decimal(rest, 10**9) + "s"


class GoDuration(int):
    """Nanoseconds, printed as Go prints a time.Duration (and as a number in JSON)."""


def rfc3339nano(ns: int) -> str:
    """time.RFC3339Nano in UTC: trailing zeros of the fraction are dropped."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


# --- path/filepath and os ---------------------------------------------------------------------

def go_clean(path: str) -> str:
    """filepath.Clean (POSIX): unlike normpath, a leading `//` becomes `/`."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def go_join(*parts: str) -> str:
    """filepath.Join: empty elements are ignored and the result is cleaned."""
    kept = [p for p in parts if p]
    return go_clean("/".join(kept)) if kept else ""


def go_errno_text(exc: OSError) -> str:
    """Go's syscall error strings are strerror's, starting with a lower-case letter."""
    if exc.errno is None:
        return str(exc)
    text = os.strerror(exc.errno)
    return text[:1].lower() + text[1:]


def go_path_error(op: str, path: str, exc: OSError) -> str:
    return f"{op} {path}: {go_errno_text(exc)}"


def go_file_mode(mode: int) -> str:
    """os.FileMode.String() of a Unix st_mode."""
    kind = stat.S_IFMT(mode)
    flags = [("d", kind == stat.S_IFDIR), ("L", kind == stat.S_IFLNK),
             ("D", kind in (stat.S_IFBLK, stat.S_IFCHR)), ("p", kind == stat.S_IFIFO),
             ("S", kind == stat.S_IFSOCK), ("u", mode & stat.S_ISUID), ("g", mode & stat.S_ISGID),
             ("c", kind == stat.S_IFCHR), ("t", mode & stat.S_ISVTX)]
    prefix = "".join(letter for letter, is_set in flags if is_set) or "-"
    return prefix + "".join(letter if mode & (1 << (8 - i)) else "-" for i, letter in enumerate("rwxrwxrwx"))


# --- net/http: DetectContentType --------------------------------------------------------------

# http.DetectContentType (net/http/sniff.go), in Go's order.
_WHITESPACE = b"\t\n\x0c\r "
_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


def _html_sig(sig: bytes):
    def match(data: bytes, first: int) -> str:
        data = data[first:]
        if len(data) < len(sig) + 1:
            return ""
        for expected, got in zip(sig, data):
            if 65 <= expected <= 90:
                got &= 0xDF
            if expected != got:
                return ""
        return _HTML if data[len(sig)] in b" >" else ""
    return match


def _masked_sig(mask: bytes, pattern: bytes, content_type: str, skip_ws: bool = False):
    def match(data: bytes, first: int) -> str:
        if skip_ws:
            data = data[first:]
        if len(data) < len(pattern):
            return ""
        return content_type if all(d & m == p for d, m, p in zip(data, mask, pattern)) else ""
    return match


def _exact_sig(sig: bytes, content_type: str):
    return lambda data, first: content_type if data.startswith(sig) else ""


def _mp4_sig(data: bytes, first: int) -> str:
    if len(data) < 12:
        return ""
    box_size = int.from_bytes(data[:4], "big")
    if len(data) < box_size or box_size % 4 != 0 or data[4:8] != b"ftyp":
        return ""
    for start in range(8, box_size, 4):
        if start != 12 and data[start:start + 3] == b"mp4":
            return "video/mp4"
    return ""


def _text_sig(data: bytes, first: int) -> str:
    for byte in data[first:]:
        if byte <= 0x08 or byte == 0x0B or 0x0E <= byte <= 0x1A or 0x1C <= byte <= 0x1F:
            return ""
    return _TEXT


_RIFF_MASK = b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF"
_SNIFFERS = [
    *(_html_sig(s) for s in (b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV",
                             b"<FONT", b"<TABLE", b"<A", b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P",
                             b"<!--")),
    _masked_sig(b"\xFF" * 5, b"<?xml", "text/xml; charset=utf-8", skip_ws=True),
    _exact_sig(b"%PDF-", "application/pdf"),
    _exact_sig(b"%!PS-Adobe-", "application/postscript"),
    _masked_sig(b"\xFF\xFF\x00\x00", b"\xFE\xFF\x00\x00", "text/plain; charset=utf-16be"),
    _masked_sig(b"\xFF\xFF\x00\x00", b"\xFF\xFE\x00\x00", "text/plain; charset=utf-16le"),
    _exact_sig(b"\xEF\xBB\xBF", _TEXT),
    _exact_sig(b"\x00\x00\x01\x00", "image/x-icon"),
    _exact_sig(b"\x00\x00\x02\x00", "image/x-icon"),
    _exact_sig(b"BM", "image/bmp"),
    _exact_sig(b"GIF87a", "image/gif"),
    _exact_sig(b"GIF89a", "image/gif"),
    _masked_sig(_RIFF_MASK + b"\xFF\xFF", b"RIFF\x00\x00\x00\x00WEBPVP", "image/webp"),
    _exact_sig(b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    _exact_sig(b"\xFF\xD8\xFF", "image/jpeg"),
    _masked_sig(_RIFF_MASK, b"FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
    _masked_sig(b"\xFF\xFF\xFF", b"ID3", "audio/mpeg"),
    _masked_sig(b"\xFF" * 5, b"OggS\x00", "application/ogg"),
    _masked_sig(b"\xFF" * 8, b"MThd\x00\x00\x00\x06", "audio/midi"),
    _masked_sig(_RIFF_MASK, b"RIFF\x00\x00\x00\x00AVI ", "video/avi"),
    _masked_sig(_RIFF_MASK, b"RIFF\x00\x00\x00\x00WAVE", "audio/wave"),
    _mp4_sig,
    _exact_sig(b"\x1A\x45\xDF\xA3", "video/webm"),
    _masked_sig(b"\x00" * 34 + b"\xFF\xFF", b"\x00" * 34 + b"LP", "application/vnd.ms-fontobject"),
    _exact_sig(b"\x00\x01\x00\x00", "font/ttf"),
    _exact_sig(b"OTTO", "font/otf"),
    _exact_sig(b"ttcf", "font/collection"),
    _exact_sig(b"wOFF", "font/woff"),
    _exact_sig(b"wOF2", "font/woff2"),
    _exact_sig(b"\x1F\x8B\x08", "application/x-gzip"),
    _exact_sig(b"PK\x03\x04", "application/zip"),
    _exact_sig(b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    _exact_sig(b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    _exact_sig(b"\x00\x61\x73\x6D", "application/wasm"),
    _text_sig,
]


def detect_content_type(data: bytes) -> str:
    data = data[:512]
    first = next((i for i, byte in enumerate(data) if byte not in _WHITESPACE), len(data))
    for sniff in _SNIFFERS:
        found = sniff(data, first)
        if found:
            return found
    return "application/octet-stream"


# --- encoding/hex and go-memdb's UUID index ---------------------------------------------------

def go_hex_error(text: str) -> str | None:
    """encoding/hex's error for the first invalid byte, as Go formats it with %#U."""
    for byte in text.encode("utf-8"):
        if chr(byte) not in "0123456789abcdefABCDEF":
            char = chr(byte)
            shown = f" '{char}'" if char.isprintable() and byte != 0x7F else ""
            return f"encoding/hex: invalid byte: U+{byte:04X}{shown}"
    return None


def uuid_index_error(value: str, exact: bool) -> str | None:
    """go-memdb UUIDFieldIndex.parseString: the index error for an ID (exact) or a prefix."""
    length = len(value.encode("utf-8"))
    if exact and length != 36:
        return "UUID must be 36 characters"
    if length > 36:
        return f"Invalid UUID length. UUID have 36 characters; got {length}"
    hyphens = value.count("-")
    if hyphens > 4:
        return f'UUID should have maximum of 4 "-"; got {hyphens}'
    sanitized = value.replace("-", "")
    if len(sanitized.encode("utf-8")) % 2:
        return "Input (without hyphens) must be even length"
    hex_error = go_hex_error(sanitized)
    return f"Invalid UUID: {hex_error}" if hex_error else None


def uuid_key(value: str) -> str:
    """What the UUID index stores: the decoded bytes, so case and hyphens do not matter."""
    return value.replace("-", "").lower()


# --- hclsyntax --------------------------------------------------------------------------------

_ID_START = {"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"}
_ID_CONTINUE = _ID_START | {"Mn", "Mc", "Nd", "Pc"}


def hcl_identifier(text: str) -> bool:
    """hclsyntax.ValidIdentifier: (ID_Start | '_') (ID_Continue | '-')*, by Unicode category."""
    if not text:
        return False
    first, rest = text[0], text[1:]
    if first != "_" and unicodedata.category(first) not in _ID_START:
        return False
    return all(c in "_-" or unicodedata.category(c) in _ID_CONTINUE for c in rest)
