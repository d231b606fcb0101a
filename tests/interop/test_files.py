"""Issue 10 items 2, 3, 5, 7 with the real Python original (aixplain 0.2.48).

Each was seen to fail before its fix (reverted in a scratch copy):
- item 3: the library moved the original's whole file aside ("lone leading
  surrogate in hex escape") and both then saw an empty cache (format::FileKey
  reverted to a String key);
- item 2: after a library rewrite a `chmod 600` file was 0644, and a new
  cache was 0644 in a 0755 folder (io::take_over_permissions, create_folder);
- item 5: opening an expired cache as a user who may not write its folder
  failed with IO "Permission denied" (FileBackend::sync's read-only fallback);
- item 7: the warning for a file starting with a BOM said "expected value
  at line 1 column 1" (format::parse)."""

import json
import os
import subprocess
import sys
import tempfile

from acache import Cache, NOT_FOUND, lib
from conftest import HERE, Model, fields

NAME = "model"
ODD = "scan-\udcff.bin"  # what os.fsdecode gives for the bytes b"scan-\xff.bin"


def test_a_python_id_without_utf8_form_keeps_the_rest_of_the_cache(original, workdir):
    py = original.AssetCache(Model, cache_filename=NAME)
    py.add(Model(id="m1", name="GPT"))
    py.add(Model(id=ODD, path=ODD))
    py.add(Model(id="m3"))
    with Cache(".cache", NAME) as c:
        assert [a["id"] for a in c.get_all()] == ["m1", "m3"]
        assert json.loads(c.get_text("m1"))["name"] == "GPT"
        assert not os.path.exists(".cache/model.json.corrupt")
        c.add({"id": "m4"})  # a rewrite in the library's layout
        again = original.AssetCache(Model, cache_filename=NAME)
        assert sorted(again.store.data) == sorted(["m1", ODD, "m3", "m4"])
        assert fields(again.store.data[ODD]) == {"id": ODD, "path": ODD}
        c.add({"id": "m5"})  # an append
        c.save()  # a rewrite from memory
    again = original.AssetCache(Model, cache_filename=NAME)
    assert sorted(again.store.data) == sorted(["m1", ODD, "m3", "m4", "m5"])


def mode(path):
    return os.stat(path).st_mode & 0o7777


def test_a_rewrite_keeps_the_mode_and_new_files_are_private(original, workdir):
    original.AssetCache(Model, cache_filename=NAME).add(Model(id="m1"))
    os.chmod(".cache/model.json", 0o600)
    with Cache(".cache", NAME) as c:
        c.add_list([{"id": "a"}, {"id": "b"}])
        assert mode(".cache/model.json") == 0o600
        os.chmod(".cache/model.json", 0o640)
        c.save()
        assert mode(".cache/model.json") == 0o640
    old = os.umask(0)
    try:
        with Cache("fresh/sub", NAME) as c:
            c.add({"id": "m1"})
    finally:
        os.umask(old)
    assert (mode("fresh"), mode("fresh/sub")) == (0o700, 0o700)
    assert (mode("fresh/sub/model.json"), mode("fresh/sub/model.lock")) == (0o600, 0o600)


def test_an_expired_python_cache_opens_for_a_reader_that_cannot_write():
    # Outside pytest's 0700 tmp folder, so that nobody can reach it.
    top = tempfile.mkdtemp(prefix="asset-cache-ro-")
    os.chmod(top, 0o755)
    cwd = os.getcwd()
    os.chdir(top)
    try:
        with Cache(".cache", NAME) as c:
            c.add({"id": "m1"})
        with open(".cache/model.json", "w") as f:  # as the original writes it, expired
            json.dump({"expiry": 1.5, "data": {"m1": {"id": "m1"}}}, f, indent=4)
        for p, m in ((".cache", 0o755), (".cache/model.json", 0o644), (".cache/model.lock", 0o644)):
            os.chmod(p, m)
        before = open(".cache/model.json", "rb").read()
        lib()  # loaded before the fork
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                else:
                    os.chmod(".cache", 0o555)
                with Cache(".cache", NAME, lock_timeout_ms=5000) as r:
                    code = 2 if r.get_text("m1") is not None else 0
            except Exception as e:  # the open failed: that is the bug
                sys.stderr.write(f"reader: {e}\n")
                code = 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        os.chmod(".cache", 0o755)
        assert os.waitstatus_to_exitcode(status) == 0
        assert open(".cache/model.json", "rb").read() == before, "left for a writer"
    finally:
        os.chdir(cwd)
        subprocess.run(["rm", "-rf", top])


def test_a_byte_order_mark_is_named(workdir):
    os.makedirs(".cache")
    with open(".cache/model.json", "wb") as f:
        f.write(b"\xef\xbb\xbf" + json.dumps({"expiry": 9e9, "data": {"m1": {"id": "m1"}}}).encode())
    script = "import sys; sys.path.insert(0, sys.argv[1]); from acache import Cache; Cache('.cache', 'model').close()"
    out = subprocess.run([sys.executable, "-c", script, HERE], capture_output=True, text=True,
                         env=dict(os.environ, ASSET_CACHE_LOG="warn"))
    assert out.returncode == 0, out.stderr
    assert "byte-order mark" in out.stderr, out.stderr
    assert os.path.exists(".cache/model.json.corrupt")
