"""The examples of upstream's two Management API documents, run against the sandbox with real IDs.

- The current docs (website/docs/features/management-api.md): its curl examples, verbatim, with the
  allocation ID, host and file path replaced (with curl itself when it is installed, otherwise with an
  interpreter of the few curl options they use). Screenshot and procdump are covered elsewhere.
- An older version of the page documented routes that no released driver has: they answer what
  upstream answers (404: no route template matches; 405 for a template with another verb).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import zipfile

import pytest

from sandbox_http import request

DOC_ALLOC_ID = "e4c0ee58-2e27-2cd6-7ca5-6ef1ed036aad"
DOC_API = "http://localhost:5004"
DOC_ZIP = r"C:\Path\To\static-sample-app.zip"

# Verbatim from the current docs.
UPLOAD_ZIP = r'''curl -X PUT \
-H "X-Api-Key: 12345" \
-H "Content-Type: application/zip" \
--data-binary @"C:\Path\To\static-sample-app.zip" \
http://localhost:5004/api/v1/allocs/e4c0ee58-2e27-2cd6-7ca5-6ef1ed036aad/app/fs/local?clean=true'''
DOWNLOAD_FOLDER = r'''curl -X GET \
-H "X-Api-Key: 12345" \
-o "local.zip" \
http://localhost:5004/api/v1/allocs/e4c0ee58-2e27-2cd6-7ca5-6ef1ed036aad/app/fs/local'''
DOWNLOAD_FILE = r'''curl -X GET \
-H "X-Api-Key: 12345" \
-o "index.html" \
http://localhost:5004/api/v1/allocs/e4c0ee58-2e27-2cd6-7ca5-6ef1ed036aad/app/fs/local%2findex.html'''

SAMPLE_APP = {"index.html": b"<html><body><h1>static sample app</h1></body></html>",
              "css/site.css": b"h1 { color: teal; }"}


def localize(example: str, sandbox, zip_path) -> list[str]:
    """The example's arguments with the sandbox's allocation, address and files."""
    text = example.replace("\\\n", " ").replace(DOC_ALLOC_ID, sandbox.alloc_id).replace(DOC_API, sandbox.api_url)
    args = shlex.split(text.replace(DOC_ZIP, "DOC_ZIP"))
    return [a.replace("DOC_ZIP", str(zip_path)) for a in args]


def run_curl(args: list[str], cwd) -> int:
    """Run the example; the HTTP status. Uses curl when installed, else the same request in Python."""
    if shutil.which("curl"):
        result = subprocess.run([*args, "-sS", "-w", "%{http_code}"], cwd=cwd, capture_output=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.decode()[-3:])
    return emulate_curl(args[1:], cwd)


def emulate_curl(args: list[str], cwd) -> int:
    """The curl options the docs use: -X, -H, --data-binary @file, -o file, and one URL."""
    method, headers, body, output, url = "GET", {}, None, None, None
    items = iter(args)
    for arg in items:
        if arg == "-X":
            method = next(items)
        elif arg == "-H":
            key, value = next(items).split(":", 1)
            headers[key.strip()] = value.strip()
        elif arg == "--data-binary":
            with open(next(items).removeprefix("@"), "rb") as handle:
                body = handle.read()
        elif arg == "-o":
            output = os.path.join(cwd, next(items))
        else:
            url = arg
    reply = request(method, url, body=body, headers=headers)
    if output:
        with open(output, "wb") as handle:
            handle.write(reply.body)
    return reply.status


@pytest.fixture(scope="module")
def sample_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("docs") / "static-sample-app.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in SAMPLE_APP.items():
            archive.writestr(name, data)
    return path


def test_current_docs_curl_examples(demo, sample_zip, tmp_path):
    assert demo.api_key == "12345"  # the key the examples send
    local = demo.task_state()["dir"] + "/local"
    with open(f"{local}/left-over.txt", "wb") as handle:
        handle.write(b"from an earlier deployment")

    # Upload a zipped application to the local directory (clean=true replaces what was there).
    assert run_curl(localize(UPLOAD_ZIP, demo, sample_zip), tmp_path) == 200
    state = demo.task_state()
    local_files = {k: v for k, v in state["files"].items() if k.startswith("local/") and v["type"] == "file"}
    assert set(local_files) == {"local/index.html", "local/css/site.css"}
    assert state["events"][-2:] == ["Driver: ApplicationPool stopped", "Driver: ApplicationPool started"]
    # The pushed app is what the site serves once its pool is up again.
    app_url = demo.alloc["tasks"]["app"]["app_url"]
    deadline = time.monotonic() + 15
    while (page := request("GET", app_url)).status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page.body == SAMPLE_APP["index.html"]

    # Download the entire local directory as a zip archive.
    assert run_curl(localize(DOWNLOAD_FOLDER, demo, sample_zip), tmp_path) == 200
    with zipfile.ZipFile(tmp_path / "local.zip") as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == SAMPLE_APP

    # Download just a single file from the local directory (note the lower-case %2f).
    assert run_curl(localize(DOWNLOAD_FILE, demo, sample_zip), tmp_path) == 200
    assert (tmp_path / "index.html").read_bytes() == SAMPLE_APP["index.html"]


def test_current_docs_lifecycle_table(demo):
    def pool():
        return demo.task_state()["pools"]["default"]["state"]

    def wait(state):
        deadline = time.monotonic() + 15
        while pool() != state:
            assert time.monotonic() < deadline, f"pool never became {state}"
            time.sleep(0.02)

    wait("Started")
    assert demo.api("PUT", "stop").status == 200
    wait("Stopped")
    assert demo.api("PUT", "start").status == 200
    wait("Started")
    assert demo.api("PUT", "recycle").status == 200
    assert demo.task_state()["events"][-3:] == [
        "Driver: ApplicationPool stopped", "Driver: ApplicationPool started", "Driver: ApplicationPool recycled"]


def test_current_docs_statements_that_hold_and_that_do_not(demo, sample_zip):
    archive = sample_zip.read_bytes()
    # "If you want to upload the ZIP-file as-is, send it using the Content-Type application/octet-stream."
    assert demo.api("PATCH", "fs/local%2Fas-is.zip", body=archive,
                    headers={"Content-Type": "application/octet-stream"}).status == 200
    # The docs' "application-zip" is a typo: with it the archive is stored as-is too.
    assert demo.api("PATCH", "fs/local%2Ftypo.zip", body=archive, headers={"Content-Type": "application-zip"}).status == 200
    files = demo.task_state()["files"]
    assert files["local/as-is.zip"]["size"] == files["local/typo.zip"]["size"] == len(archive)
    # "If the path ends with /* or /*.* the folder will only be cleaned": upstream answers 500, cleans nothing.
    for suffix in ("%2F*", "%2F*.*"):
        assert demo.api("DELETE", f"fs/local{suffix}").status == 500
    assert "local/as-is.zip" in demo.task_state()["files"]


OLDER_DOC_ROUTES = [
    ("PUT", "/api/v1/allocs/{alloc}/upload"),
    ("PUT", "/api/v1/allocs/{alloc}/upload?appAlias=app"),
    ("GET", "/api/v1/allocs/{alloc}/start"),
    ("GET", "/api/v1/allocs/{alloc}/stop"),
    ("GET", "/api/v1/allocs/{alloc}/recycle"),
    ("GET", "/api/v1/allocs/{alloc}/screenshot"),
    ("GET", "/api/v1/allocs/{alloc}/screenshot?path=/"),
    ("GET", "/api/v1/allocs/{alloc}/procdump"),
]


@pytest.mark.parametrize("method,route", OLDER_DOC_ROUTES)
def test_older_docs_routes_match_no_template(demo, method, route):
    reply = demo.api(method, route.format(alloc=demo.alloc_id), body=b"PK\x05\x06" + bytes(18) if method == "PUT" else None)
    assert (reply.status, reply.body) == (404, b"")


@pytest.mark.parametrize("action", ["start", "stop", "recycle"])
def test_older_docs_get_on_a_task_lifecycle_route_is_405(demo, action):
    before = demo.task_state()
    reply = demo.api("GET", action)
    assert reply.status == 405 and reply.headers["Allow"] == "PUT"
    after = demo.task_state()
    assert after["events"] == before["events"] and after["pools"] == before["pools"]


def test_older_docs_upload_does_not_extract_anything(demo, sample_zip):
    before = demo.task_state()["files"]
    reply = demo.api("PUT", f"/api/v1/allocs/{demo.alloc_id}/upload", body=sample_zip.read_bytes(),
                     headers={"Content-Type": "application/zip"})
    assert reply.status == 404
    assert demo.task_state()["files"] == before
