"""The Redis backend from Python: `Cache(backend_url=...)` and the drop-in's
``backend_url`` / ASSET_CACHE_BACKEND_URL, against the private redis-server
that scripts/test-python.sh starts (ASSET_CACHE_REDIS_URL).

Each test uses cache names of its own, so they share the one server. How
each was checked to fail: noted per test ("checked:").
"""

import os
import socket
import time
import uuid

import pytest

import asset_cache
from asset_cache import AssetCache, Cache, Status
from assets import Model


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("ASSET_CACHE_REDIS_URL")
    if not url:
        pytest.fail("ASSET_CACHE_REDIS_URL is not set: run scripts/test-python.sh, which starts a redis-server")
    return url


@pytest.fixture
def name():
    return f"py-{uuid.uuid4().hex[:12]}"


def test_two_handles_share_one_cache_through_the_server(redis_url, name, tmp_path):
    # Each handle has a folder of its own (standing for two hosts): only the
    # server can join them. checked: Cache() not passing backend_url to the
    # library makes b.get("m1") None after load, and files appear.
    a = Cache(name, tmp_path / "host-a", backend_url=redis_url, backend_timeout_ms=2000)
    b = Cache(name, tmp_path / "host-b", backend_url=redis_url)
    with a, b:
        a.add({"id": "m1", "v": 1})
        a.add_json('{"id":"m2","v":2}')
        assert b.get("m1") is None  # reads are from memory, as with files
        b.load()
        assert b.get("m1") == {"id": "m1", "v": 1} and b.get("m2") == {"id": "m2", "v": 2}
        b.add({"id": "m1", "v": 3})  # replaces in place: insertion order kept
        a.load()
        assert [x["id"] for x in a.get_all()] == ["m1", "m2"] and a.get("m1") == {"id": "m1", "v": 3}
        assert a.has_valid_cache() and len(a) == 2 and "m2" in a
        assert b.remove("m2") and not b.remove("m2")
        a.load()
        assert a.get("m2") is None and a.ids() == ["m1"]
        a.invalidate()
        b.load()
        assert b.get_all() == []
    assert not (tmp_path / "host-a").exists() and not (tmp_path / "host-b").exists()
    assert repr(a).startswith(f"<asset_cache.Cache {name} on redis://")


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_server_raises_backend_unavailable(name):
    # Nothing listens on the port: refused at once. checked: mapping status
    # 11 to CacheError instead of BackendUnavailableError fails the raises.
    port = _closed_port()
    start = time.monotonic()
    with pytest.raises(asset_cache.BackendUnavailableError) as info:
        Cache(name, backend_url=f"redis://127.0.0.1:{port}/0", backend_timeout_ms=500)
    assert time.monotonic() - start < 3
    e = info.value
    assert e.status == Status.BACKEND_UNAVAILABLE and isinstance(e, ConnectionError)
    assert f"127.0.0.1:{port}" in e.message


def test_a_server_that_never_answers_fails_within_the_timeout(name):
    # A socket that accepts connections (the kernel's backlog) but never
    # answers, like a stopped server. checked: not passing backend_timeout_ms
    # to the library waits the default 5 s, failing the elapsed bound.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(asset_cache.BackendUnavailableError) as info:
            Cache(name, backend_url=f"redis://127.0.0.1:{port}/0", backend_timeout_ms=300)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert info.value.status == Status.BACKEND_UNAVAILABLE
    assert elapsed < 2.5, f"took {elapsed:.2f} s with a 300 ms timeout"
    assert f"127.0.0.1:{port}" in info.value.message


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://cache-host:6379/0", "http://cache-host"),
        ("redis://user:s3cret@cache-host:notaport/0", "cache-host"),
        ("redis://cache-host:6379/notadb", "notadb"),
        ("rediss://cache-host:6379/0?ssl_ca_certs=/nonexistent/ca.pem", "/nonexistent/ca.pem"),
        ("rediss://cache-host:6379/0#insecure", "#insecure"),
        ("", "backend URL"),
    ],
)
def test_a_bad_url_is_an_invalid_argument_naming_it(name, url, words):
    # checked: a Cache() that skips asset_cache_config_set_backend_url opens
    # the file backend and raises nothing.
    with pytest.raises(asset_cache.InvalidArgumentError) as info:
        Cache(name, backend_url=url)
    assert info.value.status == Status.INVALID_ARGUMENT
    assert words in info.value.message and "s3cret" not in str(info.value)


def test_bad_backend_timeouts(name, redis_url):
    # checked: dropping the int check in Cache() lets 1.5 through to ctypes (ArgumentError).
    for bad in (0, -1):
        with pytest.raises(asset_cache.InvalidArgumentError, match="backend timeout"):
            Cache(name, backend_url=redis_url, backend_timeout_ms=bad)
    with pytest.raises(TypeError, match="backend_timeout_ms"):
        Cache(name, backend_url=redis_url, backend_timeout_ms=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backend_url"):
        Cache(name, backend_url=b"redis://x")  # type: ignore[arg-type]


def test_dropin_reaches_redis_from_the_environment(redis_url, name, tmp_path, monkeypatch):
    # The SDK builds AssetCache(Model) itself: the variable is how it gets
    # there. Two working directories stand for two hosts. checked: ignoring
    # ASSET_CACHE_BACKEND_URL makes the second host's get None (and writes
    # host-a/.cache/<name>.json).
    monkeypatch.setenv("ASSET_CACHE_BACKEND_URL", redis_url)
    monkeypatch.setenv("ASSET_CACHE_BACKEND_TIMEOUT_MS", "2000")
    (tmp_path / "host-a").mkdir()
    (tmp_path / "host-b").mkdir()
    monkeypatch.chdir(tmp_path / "host-a")
    a = AssetCache(Model, name)
    a.add(Model(id="m1", name="first"))
    monkeypatch.chdir(tmp_path / "host-b")
    b = AssetCache(Model, name)
    assert b.has_valid_cache() and b.store.data.get("m1") == Model(id="m1", name="first")
    assert not (tmp_path / "host-a" / ".cache").exists() and a.backend == redis_url
    # The argument wins over the variable.
    monkeypatch.setenv("ASSET_CACHE_BACKEND_URL", "redis://127.0.0.1:1/0")
    assert AssetCache(Model, name, backend_url=redis_url).get("m1") == Model(id="m1", name="first")
    monkeypatch.setenv("ASSET_CACHE_BACKEND_URL", "not a url")
    with pytest.raises(asset_cache.InvalidArgumentError, match="not a url"):
        AssetCache(Model, name)
    monkeypatch.setenv("ASSET_CACHE_BACKEND_URL", redis_url)
    monkeypatch.setenv("ASSET_CACHE_BACKEND_TIMEOUT_MS", "soon")
    with pytest.raises(asset_cache.InvalidArgumentError, match="ASSET_CACHE_BACKEND_TIMEOUT_MS"):
        AssetCache(Model, name)


def test_dropin_with_the_server_away_logs_like_the_original_or_raises_when_strict(name, caplog):
    # checked: a _Core.handle() that swallows BackendUnavailableError in
    # strict mode fails the pytest.raises.
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    c = AssetCache(Model, name, backend_url=url, backend_timeout_ms=300)
    assert c.get("m1") is None and not c.has_valid_cache()
    assert "cannot open" in caplog.text and "BACKEND_UNAVAILABLE" in caplog.text
    with pytest.raises(asset_cache.BackendUnavailableError) as info:
        AssetCache(Model, name, backend_url=url, backend_timeout_ms=300, strict=True)
    assert info.value.status == Status.BACKEND_UNAVAILABLE


def test_use_in_aixplain_puts_the_sdks_caches_on_redis(redis_url, name, workdir):
    # checked: a use_in_aixplain that ignores backend_url (the plain class)
    # fails the backend assertion and writes .cache/<name>.json.
    import aixplain.utils.asset_cache as sdk_module

    asset_cache.use_in_aixplain(backend_url=redis_url)
    try:
        c = sdk_module.AssetCache(Model, name)
        assert isinstance(c, AssetCache) and c.backend == redis_url
        c.add(Model(id="m1"))
        assert not os.path.exists(f".cache/{name}.json")
        assert AssetCache(Model, name, backend_url=redis_url).get("m1") == Model(id="m1")
    finally:
        asset_cache.use_in_aixplain(enabled=False)
