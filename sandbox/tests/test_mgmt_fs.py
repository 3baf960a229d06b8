"""File routes of the Management API (README, "Faithful quirks", and mgmt_fs.py): one test per upstream
quirk, effects checked on disk and through /_sandbox/state, never through the API under test alone."""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import io
import os
import re
import socket
import threading
import time
import urllib.parse
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox_http import request

LIMIT = 30_000_000  # Kestrel's MaxRequestBodySize


# --- helpers -----------------------------------------------------------------------------------------

def fs(sandbox, method: str, path: str, **kwargs):
    return sandbox.api(method, f"fs/{path}", **kwargs)


def task_dir(sandbox) -> Path:
    return Path(sandbox.task_state()["dir"])


def files(sandbox) -> dict:
    return sandbox.task_state()["files"]


def make_zip(entries, date_time=(2020, 5, 17, 12, 30, 0)) -> bytes:
    """A zip of (name, data) entries in this order; data None makes a directory entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, b"" if data is None else data)
    return buffer.getvalue()


ZIP = {"Content-Type": "application/zip"}


def pct(name: str) -> str:
    """Percent-encode a name completely (also `/`), as a client encodes one route value."""
    return urllib.parse.quote(name, safe="")


def events(sandbox) -> list[str]:
    return sandbox.task_state()["events"]


def pool_state(sandbox) -> str:
    return sandbox.task_state()["pools"]["default"]["state"]


def wait_for(condition, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def raw_upload(url: str, method: str, headers: dict, chunks, content_length: int | None = None):
    """Send a request head and then body chunks from a thread, while reading the answer: the server may
    answer (and close) before the body is complete. Returns (status, headers, body)."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    head = [f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {parts.hostname}:{parts.port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {content_length}" if content_length is not None else "Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))

    def pump():
        try:
            for chunk in chunks:
                sock.sendall(chunk if content_length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if content_length is None:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed the connection

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, response.headers, response.read()
    finally:
        sender.join(timeout=30)
        sock.close()


def repeated(data: bytes, total: int, size: int = 1 << 20):
    sent = 0
    while sent < total:
        part = data[: min(size, total - sent)]
        sent += len(part)
        yield part


def vm_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so a peak measures only what follows."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass


@pytest.fixture
def area(demo, request):
    """A fresh directory `local/<test name>` in the demo task, and its `{path}` route value."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:60] + "-" + digest
    path = task_dir(demo) / "local" / name
    path.mkdir(parents=True)
    return path, f"local%2F{pct(name)}"


# --- {path}: decoding, sanitising, Windows names ---------------------------------------------------------

def test_encoded_slashes_reach_subdirectories_and_a_plain_slash_matches_no_route(demo, area):
    path, route = area
    (path / "a" / "b").mkdir(parents=True)
    (path / "a" / "b" / "c.txt").write_bytes(b"deep")
    assert fs(demo, "GET", f"{route}%2Fa%2Fb%2Fc.txt").body == b"deep"
    assert fs(demo, "GET", f"{route}%2fa%2fb%2fc.txt").body == b"deep"  # lower-case %2f too
    plain = route.replace("%2F", "/") + "/a/b/c.txt"
    assert fs(demo, "GET", plain).status == 404
    assert fs(demo, "PATCH", f"{route}%2Fa%2Fb%2Fnew.txt", body=b"n").status == 200
    assert (path / "a" / "b" / "new.txt").read_bytes() == b"n"


def test_plus_is_a_space_unless_double_encoded(demo, area):
    path, route = area
    assert fs(demo, "PATCH", f"{route}%2Fa+b.txt", body=b"1").status == 200
    assert fs(demo, "PATCH", f"{route}%2Fc%2Bd.txt", body=b"2").status == 200  # Kestrel: +, UrlDecode: space
    assert fs(demo, "PATCH", f"{route}%2Fe%252Bf.txt", body=b"3").status == 200
    assert sorted(os.listdir(path)) == ["a b.txt", "c d.txt", "e+f.txt"]


def test_percent_is_decoded_twice(demo, area):
    path, route = area
    assert fs(demo, "PATCH", f"{route}%2F100%2525.txt", body=b"p").status == 200
    assert fs(demo, "PATCH", f"{route}%2Fx%2541.txt", body=b"a").status == 200  # %41 after the first decode
    assert sorted(os.listdir(path)) == ["100%.txt", "xA.txt"]


def test_unicode_and_spaces_in_names_and_the_download_header(demo, area):
    path, route = area
    name = "café menü 😀.txt"
    assert fs(demo, "PATCH", f"{route}%2F{pct(name)}", body=b"unicode").status == 200
    assert (path / name).read_bytes() == b"unicode"
    reply = fs(demo, "GET", f"{route}%2F{pct(name)}")
    assert reply.status == 200 and reply.body == b"unicode"
    # ASP.NET: non-ASCII UTF-16 units become `_` in filename (quoted: not a token), RFC 5987 in filename*.
    assert reply.headers["Content-Disposition"] == (
        "attachment; filename=\"caf_ men_ __.txt\"; "
        "filename*=UTF-8''caf%C3%A9%20men%C3%BC%20%F0%9F%98%80.txt")


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_dot_dot_segments_are_500_and_touch_nothing(demo, method):
    before_events = len(events(demo))
    alloc_dir = task_dir(demo).parent
    for path in ["..%2Fescape.txt", "local%2F..%2F..%2Fescape.txt", "local%2F..", "local%5C..%5Cescape.txt"]:
        assert fs(demo, method, path, body=b"x" if method in ("PUT", "PATCH") else None).status == 500, path
    assert not list(alloc_dir.rglob("escape.txt"))
    assert (task_dir(demo) / "local").is_dir()
    assert len(events(demo)) == before_events  # PUT fails in the sanitising, before stopping the pools


@pytest.mark.parametrize("path", ["%2Fetc%2Fpasswd", "%5Cwindows", "C:%5Cwindows", "c:foo", "%5C%5Cserver%5Cshare"])
def test_rooted_drive_and_unc_paths_are_500(demo, path):
    assert fs(demo, "GET", path).status == 500
    assert fs(demo, "PATCH", path, body=b"x").status == 500
    assert fs(demo, "DELETE", path).status == 500


def test_names_windows_refuses_fail_on_write_and_are_missing_on_read(demo, area):
    path, route = area
    for name in ["a%3Fb.txt", "a%3Cb.txt", "a%22b.txt", "a%7Cb.txt", "a%3Ab.txt", "tab%09.txt"]:
        assert fs(demo, "PATCH", f"{route}%2F{name}", body=b"x").status == 500, name
        assert fs(demo, "GET", f"{route}%2F{name}").status == 404, name  # File.Exists is false
        assert fs(demo, "DELETE", f"{route}%2F{name}").status == 500, name
    # Device names: a real node may write to the device; the sandbox refuses them (documented).
    for name in ["con", "NUL.txt", "com1"]:
        assert fs(demo, "PATCH", f"{route}%2F{name}", body=b"x").status == 500, name
    assert os.listdir(path) == []


def test_names_are_case_insensitive_as_on_ntfs(demo, area):
    path, route = area
    (path / "Sub").mkdir()
    (path / "Sub" / "Readme.TXT").write_bytes(b"0123456789")
    upper = route.upper()
    reply = fs(demo, "GET", f"{upper}%2FSUB%2Freadme.txt")
    assert reply.status == 200 and reply.body == b"0123456789"
    assert "filename=readme.txt;" in reply.headers["Content-Disposition"]  # the name as requested
    assert fs(demo, "PATCH", f"{route}%2Fsub%2FREADME.txt", body=b"ab").status == 200
    assert os.listdir(path / "Sub") == ["Readme.TXT"]
    assert (path / "Sub" / "Readme.TXT").read_bytes() == b"ab23456789"
    assert fs(demo, "DELETE", f"{route}%2FSUB").status == 200
    assert os.listdir(path) == []


def test_trailing_dots_and_spaces_are_dropped_as_win32_does(demo, area):
    path, route = area
    assert fs(demo, "PATCH", f"{route}%2Fweb.config.", body=b"1").status == 200
    assert fs(demo, "PATCH", f"{route}%2Fnotes.txt%20%20", body=b"2").status == 200
    assert sorted(os.listdir(path)) == ["notes.txt", "web.config"]
    assert fs(demo, "GET", f"{route}%2Fweb.config...").body == b"1"


# --- GET ------------------------------------------------------------------------------------------------

def test_file_download_is_a_physical_file_result(demo, area):
    path, route = area
    data = os.urandom(100_000)
    (path / "blob.bin").write_bytes(data)
    mtime = int((path / "blob.bin").stat().st_mtime)
    reply = fs(demo, "GET", f"{route}%2Fblob.bin", headers={"Range": "bytes=0-9"})
    assert reply.status == 200 and reply.body == data  # no range processing
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Length"] == str(len(data))
    assert reply.headers["Content-Disposition"] == "attachment; filename=blob.bin; filename*=UTF-8''blob.bin"
    assert reply.headers["Last-Modified"] == email.utils.formatdate(mtime, usegmt=True)
    assert "Accept-Ranges" not in reply.headers and "Transfer-Encoding" not in reply.headers


def test_file_download_honours_date_preconditions(demo, area):
    path, route = area
    (path / "f.txt").write_bytes(b"content")
    mtime = int((path / "f.txt").stat().st_mtime)
    at = email.utils.formatdate(mtime, usegmt=True)
    before = email.utils.formatdate(mtime - 60, usegmt=True)
    not_modified = fs(demo, "GET", f"{route}%2Ff.txt", headers={"If-Modified-Since": at})
    assert not_modified.status == 304 and not_modified.body == b""
    assert not_modified.headers["Last-Modified"] == at
    assert fs(demo, "GET", f"{route}%2Ff.txt", headers={"If-Modified-Since": before}).status == 200
    assert fs(demo, "GET", f"{route}%2Ff.txt", headers={"If-Unmodified-Since": before}).status == 412
    assert fs(demo, "GET", f"{route}%2Ff.txt", headers={"If-Unmodified-Since": at}).status == 200


def test_folder_download_is_a_streamed_zip_of_every_file(demo, area):
    path, route = area
    layout = {"b.txt": b"b", "A.txt": b"a", "sub/c.txt": b"c" * 5000, "sub/deeper/d.txt": b"d", "Z/e.txt": b"e"}
    for name, data in layout.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    (path / "empty").mkdir()
    reply = fs(demo, "GET", route)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/zip"
    assert reply.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in reply.headers
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{path.name}.zip"'
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        # Directory.EnumerateFiles(AllDirectories) on NTFS: a directory's files by name, then the
        # queued subdirectories; no entries for directories, empty ones are left out.
        assert [i.filename for i in infos] == ["A.txt", "b.txt", "sub/c.txt", "Z/e.txt", "sub/deeper/d.txt"]
        assert {i.filename: archive.read(i) for i in infos} == layout
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_folder_download_follows_a_link_loop_only_once(demo, area):
    path, route = area
    (path / "f.txt").write_bytes(b"f")
    (path / "again").symlink_to(path, target_is_directory=True)
    reply = fs(demo, "GET", route)
    assert reply.status == 200
    assert zipfile.ZipFile(io.BytesIO(reply.body)).namelist() == ["f.txt"]


def test_folder_download_of_a_file_locked_by_an_upload(demo, area):
    """File.OpenRead fails on a file an upload holds (FileShare.None). For the first file nothing was
    written yet, so it is a 500; for a later one the 200 is out and the connection breaks."""
    path, route = area
    (path / "tree").mkdir()
    (path / "tree" / "m.txt").write_bytes(b"m" * 100_000)
    for locked, expect_status in [("a.bin", 500), ("z.bin", 200)]:
        release = threading.Event()

        def body():
            release.wait(30)
            yield b"late"

        with ThreadPoolExecutor(1) as pool:
            upload = pool.submit(fs, demo, "PATCH", f"{route}%2Ftree%2F{locked}", body=body())
            wait_for((path / "tree" / locked).exists, what="the upload to open its file")
            parts = urllib.parse.urlsplit(demo.api_url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", f"/api/v1/allocs/{demo.alloc_id}/app/fs/{route}%2Ftree",
                         headers={"X-Api-Key": demo.api_key})
            response = conn.getresponse()
            assert response.status == expect_status, locked
            if expect_status == 200:
                with pytest.raises((http.client.IncompleteRead, OSError)):
                    response.read()
            conn.close()
            release.set()
            assert upload.result().status == 200
        assert (path / "tree" / locked).read_bytes() == b"late"


def test_folder_with_a_trailing_slash_downloads_as_dot_zip(demo, area):
    path, route = area
    (path / "x.txt").write_bytes(b"x")
    reply = fs(demo, "GET", f"{route}%2F")
    assert reply.status == 200
    assert reply.headers["Content-Disposition"] == 'attachment; filename=".zip"'
    assert zipfile.ZipFile(io.BytesIO(reply.body)).namelist() == ["x.txt"]


def test_download_of_a_missing_path_is_404(demo, area):
    _path, route = area
    assert fs(demo, "GET", f"{route}%2Fnothing").status == 404
    assert fs(demo, "GET", f"{route}%2Fnothing%2F").status == 404


def test_folder_with_a_non_ascii_name_is_500(demo, area):
    """ZipDirectoryResult writes the name into Content-Disposition as it is; Kestrel refuses non-ASCII
    header values (InvalidOperationException) before the response starts."""
    path, route = area
    (path / "dä").mkdir()
    (path / "dä" / "f.txt").write_bytes(b"f")
    assert fs(demo, "GET", f"{route}%2F{pct('dä')}").status == 500
    assert fs(demo, "GET", f"{route}%2F{pct('dä')}%2Ff.txt").body == b"f"  # files are fine


# --- PUT / PATCH ----------------------------------------------------------------------------------------

def test_clean_is_parsed_as_a_dotnet_bool(demo, area):
    path, route = area
    (path / "old.txt").write_bytes(b"old")
    for n, query in enumerate(["clean=1", "clean=yes", "clean=", "clean=false"]):
        assert fs(demo, "PATCH", f"{route}?{query}", body=make_zip([(f"n{n}.txt", b"n")]), headers=ZIP).status == 200
        assert (path / "old.txt").exists(), query
    assert fs(demo, "PATCH", f"{route}?Clean=%20TRUE%20", body=make_zip([("new.txt", b"new")]), headers=ZIP).status == 200
    assert os.listdir(path) == ["new.txt"]


def test_clean_keeps_the_folder_and_needs_it_to_exist(demo, area):
    path, route = area
    (path / "sub" / "deeper").mkdir(parents=True)
    (path / "sub" / "deeper" / "f.txt").write_bytes(b"f")
    (path / "g.txt").write_bytes(b"g")
    assert fs(demo, "PATCH", f"{route}?clean=true", body=make_zip([]), headers=ZIP).status == 200
    assert path.is_dir() and os.listdir(path) == []
    assert fs(demo, "PATCH", f"{route}%2Fmissing?clean=true", body=make_zip([("a.txt", b"a")]), headers=ZIP).status == 500
    assert not (path / "missing").exists()
    (path / "file.txt").write_bytes(b"f")  # clean of a file: DirectoryInfo.EnumerateFiles throws
    assert fs(demo, "PATCH", f"{route}%2Ffile.txt?clean=true", body=b"new").status == 500
    assert (path / "file.txt").read_bytes() == b"f"


def test_put_stops_the_pools_during_the_upload_and_starts_them_after(demo, area):
    path, route = area
    assert request("GET", demo.alloc["tasks"]["app"]["app_url"]).status == 200
    worker = demo.task_state()["pools"]["default"]["worker_pid"]
    assert worker and pool_state(demo) == "Started"
    before = len(events(demo))
    seen = []

    def body():
        # The pools stop before the body is read; hold the body back until the state shows it.
        seen.append(wait_for(lambda: pool_state(demo) in ("Stopping", "Stopped") and pool_state(demo), what="stop"))
        yield b"first part,"
        seen.append(pool_state(demo))
        yield b"second part"

    started = time.monotonic()
    assert fs(demo, "PUT", f"{route}%2Fapp.txt", body=body()).status == 200
    assert time.monotonic() - started >= 0.5  # Task.Delay(500) after the stop
    assert (path / "app.txt").read_bytes() == b"first part,second part"
    assert seen[1] in ("Stopping", "Stopped")
    assert events(demo)[before:] == ["Driver: ApplicationPool stopped", "Driver: ApplicationPool started"]
    assert wait_for(lambda: pool_state(demo) == "Started", what="restart")
    assert not os.path.exists(f"/proc/{worker}")  # the old worker process was shut down


def test_patch_leaves_the_pools_running(demo, area):
    path, route = area
    wait_for(lambda: pool_state(demo) == "Started", what="a started pool")
    before = len(events(demo))
    seen = []

    def body():
        yield b"hot "
        seen.append(pool_state(demo))
        yield b"patch"

    assert fs(demo, "PATCH", f"{route}%2Fhot.txt", body=body()).status == 200
    assert seen == ["Started"] and pool_state(demo) == "Started"
    assert events(demo)[before:] == []
    assert (path / "hot.txt").read_bytes() == b"hot patch"


def test_put_starts_a_pool_that_was_stopped_on_purpose(demo, area):
    _path, route = area
    assert demo.api("PUT", "stop").status == 200
    wait_for(lambda: pool_state(demo) == "Stopped", what="stop")
    assert fs(demo, "PUT", f"{route}%2Fx.txt", body=b"x").status == 200
    assert wait_for(lambda: pool_state(demo) == "Started", what="start")


def test_zip_only_for_the_exact_content_type(demo, area):
    path, route = area
    archive = make_zip([("inside.txt", b"inside")])
    for n, content_type in enumerate(["application/zip; charset=binary", "application/x-zip-compressed",
                                      "application-zip", "Application/Zip", None]):
        headers = {"Content-Type": content_type} if content_type else {}
        assert fs(demo, "PATCH", f"{route}%2Fraw{n}.zip", body=archive, headers=headers).status == 200
        assert (path / f"raw{n}.zip").read_bytes() == archive, content_type
    assert fs(demo, "PATCH", f"{route}%2Fextracted", body=archive, headers=ZIP).status == 200
    assert (path / "extracted" / "inside.txt").read_bytes() == b"inside"


def test_zip_extraction_never_overwrites_and_put_still_restarts(demo, area):
    path, route = area
    (path / "b.txt").write_bytes(b"old b")
    before = len(events(demo))
    archive = make_zip([("a.txt", b"new a"), ("b.txt", b"new b"), ("c.txt", b"new c")])
    assert fs(demo, "PUT", route, body=archive, headers=ZIP).status == 500
    assert (path / "a.txt").read_bytes() == b"new a"  # extracted before the collision
    assert (path / "b.txt").read_bytes() == b"old b"
    assert not (path / "c.txt").exists()
    assert events(demo)[before:] == ["Driver: ApplicationPool stopped", "Driver: ApplicationPool started"]
    assert wait_for(lambda: pool_state(demo) == "Started", what="restart")


def test_zip_entry_collides_with_a_file_of_another_case(demo, area):
    path, route = area
    (path / "Index.html").write_bytes(b"old")
    assert fs(demo, "PATCH", route, body=make_zip([("INDEX.HTML", b"new")]), headers=ZIP).status == 500
    assert os.listdir(path) == ["Index.html"]


@pytest.mark.parametrize("evil", ["../slip.txt", "sub/../../slip.txt", "/slip.txt", "\\slip.txt", "."])
def test_zip_slip_is_500_after_the_earlier_entries(demo, area, evil):
    path, route = area
    archive = make_zip([("ok.txt", b"ok"), (evil, b"evil"), ("after.txt", b"after")])
    assert fs(demo, "PATCH", route, body=archive, headers=ZIP).status == 500
    assert sorted(os.listdir(path)) == ["ok.txt"]
    assert not list(task_dir(demo).parent.rglob("slip.txt"))


def test_zip_entries_that_climb_back_inside_are_fine(demo, area):
    path, route = area
    archive = make_zip([(f"../{path.name}/back.txt", b"back"), ("a/../b.txt", b"b")])
    assert fs(demo, "PATCH", route, body=archive, headers=ZIP).status == 200
    assert sorted(os.listdir(path)) == ["b.txt", "back.txt"]


def test_zip_creates_the_target_and_its_directories(demo, area):
    path, route = area
    archive = make_zip([("empty/", None), ("d/e/f.txt", b"f"), ("w:x?.txt", b"w")], date_time=(2021, 3, 4, 5, 6, 8))
    assert fs(demo, "PATCH", f"{route}%2Fnew%2Fnested", body=archive, headers=ZIP).status == 200
    target = path / "new" / "nested"
    state = files(demo)
    prefix = f"local/{path.name}/new/nested"
    assert state[f"{prefix}/empty"] == {"type": "dir"}
    assert state[f"{prefix}/d/e/f.txt"]["size"] == 1
    assert (target / "w_x_.txt").read_bytes() == b"w"  # characters Windows refuses become `_`
    assert time.localtime((target / "d" / "e" / "f.txt").stat().st_mtime)[:6] == (2021, 3, 4, 5, 6, 8)


def test_an_empty_zip_creates_nothing_and_a_broken_one_is_500(demo, area):
    path, route = area
    assert fs(demo, "PATCH", f"{route}%2Fnot-created", body=make_zip([]), headers=ZIP).status == 200
    assert not (path / "not-created").exists()
    assert fs(demo, "PATCH", f"{route}%2Fbroken", body=b"PK\x03\x04 not a zip", headers=ZIP).status == 500
    assert fs(demo, "PATCH", f"{route}%2Fempty-body", body=b"", headers=ZIP).status == 500
    assert os.listdir(path) == []


def test_raw_upload_does_not_truncate(demo, area):
    path, route = area
    (path / "f.txt").write_bytes(b"0123456789")
    assert fs(demo, "PATCH", f"{route}%2Ff.txt", body=b"abc").status == 200
    assert (path / "f.txt").read_bytes() == b"abc3456789"
    assert fs(demo, "PATCH", f"{route}%2Fempty.txt", body=b"").status == 200
    assert (path / "empty.txt").read_bytes() == b""


def test_raw_upload_needs_the_parent_and_a_file_name(demo, area):
    path, route = area
    assert fs(demo, "PATCH", f"{route}%2Fmissing%2Fx.txt", body=b"x").status == 500
    assert fs(demo, "PATCH", route, body=b"x").status == 500  # a directory
    assert fs(demo, "PATCH", f"{route}%2Fname%2F", body=b"x").status == 500  # ends with a separator
    assert os.listdir(path) == []


def test_body_over_the_limit_by_content_length_is_413_before_any_byte(demo, area):
    """Kestrel checks Content-Length when the body is first read: the raw file is open by then."""
    path, route = area
    url = f"{demo.api_url}/api/v1/allocs/{demo.alloc_id}/app/fs/{route}%2Fbig.bin"
    status, headers, body = raw_upload(url, "PATCH", {"X-Api-Key": demo.api_key}, [b"x" * 1000],
                                       content_length=LIMIT + 1)
    assert (status, body) == (413, b"")
    assert headers["Connection"] == "close"
    assert (path / "big.bin").stat().st_size == 0


def test_chunked_body_over_the_limit_is_413_after_the_earlier_bytes(demo, area):
    path, route = area
    url = f"{demo.api_url}/api/v1/allocs/{demo.alloc_id}/app/fs/{route}%2Fbig.bin"
    pattern = bytes(range(256)) * 4096  # 1 MiB
    status, _headers, _body = raw_upload(url, "PATCH", {"X-Api-Key": demo.api_key}, repeated(pattern, LIMIT + (1 << 20)))
    assert status == 413
    written = (path / "big.bin").read_bytes()
    assert 0 < len(written) <= LIMIT
    assert written == (pattern * 30)[: len(written)]


def test_100_continue_comes_only_when_the_body_is_read(demo, area):
    """Kestrel answers `Expect: 100-continue` when the action first reads the body: a request refused
    before that (too large, bad path) gets its final status at once and never a 100."""
    path, route = area
    base = urllib.parse.urlsplit(demo.api_url)

    def heads(target: str, length: int, body: bytes | None = None) -> list[str]:
        with socket.create_connection((base.hostname, base.port), timeout=30) as sock:
            sock.sendall((f"PATCH /api/v1/allocs/{demo.alloc_id}/app/fs/{target} HTTP/1.1\r\n"
                          f"Host: {base.hostname}:{base.port}\r\nX-Api-Key: {demo.api_key}\r\n"
                          f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n").encode())
            stream = sock.makefile("rb")
            lines = [" ".join(stream.readline().decode().split()[:2])]  # the reason phrase is not checked
            while stream.readline() not in (b"\r\n", b""):
                pass
            if body is not None and lines[0].startswith("HTTP/1.1 100"):
                sock.sendall(body)
                lines.append(" ".join(stream.readline().decode().split()[:2]))
            return lines

    assert heads(f"{route}%2Fbig.bin", LIMIT + 1) == ["HTTP/1.1 413"]
    assert (path / "big.bin").stat().st_size == 0
    assert heads("local%2F..%2Fx", 10) == ["HTTP/1.1 500"]
    assert heads(f"{route}%2Fok.bin", 5, b"hello") == ["HTTP/1.1 100", "HTTP/1.1 200"]
    assert (path / "ok.bin").read_bytes() == b"hello"


def test_put_over_the_limit_cleans_and_restarts_then_answers_413(demo, area):
    path, route = area
    (path / "sub").mkdir()
    (path / "sub" / "old.txt").write_bytes(b"old")
    (path / "old.txt").write_bytes(b"old")
    before = len(events(demo))
    url = f"{demo.api_url}/api/v1/allocs/{demo.alloc_id}/app/fs/{route}?clean=true"
    status, _headers, _body = raw_upload(url, "PUT", {"X-Api-Key": demo.api_key, "Content-Type": "application/zip"},
                                         [b"PK"], content_length=LIMIT + 1)
    assert status == 413
    assert path.is_dir() and os.listdir(path) == []
    assert events(demo)[before:] == ["Driver: ApplicationPool stopped", "Driver: ApplicationPool started"]
    assert wait_for(lambda: pool_state(demo) == "Started", what="restart")


# --- DELETE ---------------------------------------------------------------------------------------------

def test_delete_removes_a_file_or_a_whole_directory(demo, area):
    path, route = area
    (path / "f.txt").write_bytes(b"f")
    (path / "d" / "e").mkdir(parents=True)
    (path / "d" / "e" / "g.txt").write_bytes(b"g")
    assert fs(demo, "DELETE", f"{route}%2Ff.txt").status == 200
    assert fs(demo, "DELETE", f"{route}%2Fd").status == 200
    assert f"local/{path.name}" in files(demo) and os.listdir(path) == []
    assert fs(demo, "DELETE", f"{route}%2Fmissing").status == 500  # Directory.Delete throws: not 404


@pytest.mark.parametrize("suffix", ["%2F*", "%2F*.*"])
def test_delete_with_a_wildcard_is_500_and_cleans_nothing(demo, area, suffix):
    path, route = area
    (path / "keep.txt").write_bytes(b"k")
    assert fs(demo, "DELETE", f"{route}{suffix}").status == 500
    assert os.listdir(path) == ["keep.txt"]


def test_a_file_being_downloaded_cannot_be_deleted_or_overwritten(demo, area):
    path, route = area
    with open(path / "big.bin", "wb") as handle:
        handle.truncate(256 << 20)  # sparse; far more than the socket buffers hold
    parts = urllib.parse.urlsplit(demo.api_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("GET", f"/api/v1/allocs/{demo.alloc_id}/app/fs/{route}%2Fbig.bin", headers={"X-Api-Key": demo.api_key})
    response = conn.getresponse()
    assert response.status == 200  # headers are in: the file is open, the body is stalled
    assert fs(demo, "DELETE", f"{route}%2Fbig.bin").status == 500
    assert fs(demo, "PATCH", f"{route}%2Fbig.bin", body=b"x").status == 500
    assert fs(demo, "DELETE", route).status == 500
    received = 0
    while chunk := response.read(1 << 20):
        received += len(chunk)
    conn.close()
    assert received == 256 << 20
    wait_for(lambda: fs(demo, "DELETE", f"{route}%2Fbig.bin").status == 200, what="delete after the download")
    assert os.listdir(path) == []


# --- volume and concurrency ---------------------------------------------------------------------------

MEMORY_BOUND_KIB = 16 * 1024  # peak RSS growth per transfer; each transfer is far larger


def test_large_transfers_keep_the_sandbox_memory_flat(start_sandbox, tmp_path):
    sandbox = start_sandbox(["--inspect"])
    pid = sandbox.info["pid"]
    local = task_dir(sandbox) / "local"
    # Warm up the code paths (threads, buffers) so the peaks below measure the transfers only.
    assert fs(sandbox, "PATCH", "local%2Fwarm.bin", body=os.urandom(1 << 20)).status == 200
    assert fs(sandbox, "PATCH", "local%2Fwarm", body=make_zip([("w", os.urandom(1 << 20))]), headers=ZIP).status == 200
    assert fs(sandbox, "GET", "local%2Fwarm").status == 200

    def peak_growth(action) -> int:
        reset_peak(pid)
        before = vm_kib(pid, "VmHWM")
        action()
        return vm_kib(pid, "VmHWM") - before

    pattern = os.urandom(1 << 20)
    growth = peak_growth(lambda: assert_status(
        fs(sandbox, "PATCH", "local%2Fraw.bin", body=repeated(pattern, LIMIT)), 200))  # exactly the limit
    assert growth < MEMORY_BOUND_KIB, f"raw upload raised the peak RSS by {growth} KiB"
    assert (local / "raw.bin").stat().st_size == LIMIT

    payload = os.urandom(28 << 20)
    archive = make_stored_zip("payload.bin", payload)
    assert len(archive) <= LIMIT
    growth = peak_growth(lambda: assert_status(
        fs(sandbox, "PUT", "local%2Fzipped", body=archive, headers=ZIP), 200))
    assert growth < MEMORY_BOUND_KIB, f"zip upload raised the peak RSS by {growth} KiB"
    assert hashlib.sha256((local / "zipped" / "payload.bin").read_bytes()).digest() == hashlib.sha256(payload).digest()

    big = local / "big"
    (big / "sub").mkdir(parents=True)
    for n in range(4):
        with open(big / "sub" / f"zeros{n}.bin", "wb") as handle:
            handle.truncate(256 << 20)
    noise = os.urandom(16 << 20)
    (big / "noise.bin").write_bytes(noise)
    target = tmp_path / "big.zip"
    with open(target, "wb") as out:
        growth = peak_growth(lambda: assert_status(fs(sandbox, "GET", "local%2Fbig", stream_to=out), 200))
    assert growth < MEMORY_BOUND_KIB, f"1 GiB folder download raised the peak RSS by {growth} KiB"
    with zipfile.ZipFile(target) as downloaded:
        infos = downloaded.infolist()
        assert [i.filename for i in infos] == ["noise.bin", *(f"sub/zeros{n}.bin" for n in range(4))]
        assert [i.file_size for i in infos] == [16 << 20, *[256 << 20] * 4]
        assert downloaded.read("noise.bin") == noise
        for info in infos[1:]:  # reading to the end checks each entry's CRC
            with downloaded.open(info) as entry:
                while chunk := entry.read(1 << 22):
                    assert chunk == bytes(len(chunk))


def assert_status(reply, status: int):
    assert reply.status == status, (reply.status, reply.text[:200])
    return reply


def make_stored_zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_twenty_concurrent_requests_all_succeed(demo, area):
    path, route = area
    (path / "tree" / "sub").mkdir(parents=True)
    for n in range(5):
        (path / "tree" / "sub" / f"f{n}.bin").write_bytes(os.urandom(200_000))
    (path / "one.bin").write_bytes(os.urandom(500_000))
    uploads = {f"up{n}.bin": os.urandom(300_000) for n in range(5)}

    def job(n: int):
        kind = n % 4
        if kind == 0:
            reply = fs(demo, "GET", f"{route}%2Ftree")
            return reply.status == 200 and zipfile.ZipFile(io.BytesIO(reply.body)).testzip() is None
        if kind == 1:
            return fs(demo, "GET", f"{route}%2Fone.bin").body == (path / "one.bin").read_bytes()
        if kind == 2:
            name = f"up{n // 4}.bin"
            method = "PUT" if n == 2 else "PATCH"  # one of them stops and restarts the pools meanwhile
            return fs(demo, method, f"{route}%2F{name}", body=uploads[name]).status == 200
        return demo.api("GET", "status").status == 200

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(job, range(20)))
    assert results == [True] * 20
    for name, data in uploads.items():
        assert (path / name).read_bytes() == data
