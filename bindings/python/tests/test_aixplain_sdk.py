"""`asset_cache.use_in_aixplain()` through the real aixplain 0.2.48 package.

`ModelFactory.get(model_id, use_cache=True)` runs as shipped: its
ModelGetterMixin builds `AssetCache(Model)`, checks `has_valid_cache()`,
reads `cache.store.data.get(model_id)`, lists the catalog (`add_list`) or
fetches one model (`add`). Only the service's HTTP answers are stubbed, at
the transport (requests' HTTPAdapter.send), since the service cannot be
reached here: everything above it, requests' Session included, is real.
"""

import importlib
import json
import os
import subprocess
import sys
import textwrap

import pytest
import requests
from requests.adapters import HTTPAdapter

import asset_cache

GETTER = "aixplain.factories.model_factory.mixins.model_getter"


def model_json(mid, name):
    """A model as the service's `GET sdk/models/<id>` and paginate answers give it."""
    return {
        "id": mid, "name": name, "description": f"{name} model",
        "function": {"id": "translation"},
        "supplier": {"id": 1, "name": "aiXplain", "code": "aixplain"},
        "pricing": {"price": 1.0}, "version": {"id": "1.0"}, "params": [],
        "status": "onboarded", "createdAt": "2024-01-02T03:04:05Z",
    }


class Service:
    """The stubbed service: a catalog (paginate) plus models only reachable by id."""

    def __init__(self):
        self.calls = []
        self.catalog = {"m1": model_json("m1", "first"), "m2": model_json("m2", "second")}
        self.by_id_only = {"m3": model_json("m3", "third")}

    def send(self, adapter, request, **kw):
        self.calls.append((request.method, request.url.split("/sdk/", 1)[-1]))
        r = requests.Response()
        r.request, r.url, r.status_code = request, request.url, 200
        r.headers["Content-Type"] = "application/json"
        if request.method == "POST" and request.url.endswith("/sdk/models/paginate"):
            body = {"items": list(self.catalog.values()), "total": len(self.catalog)}
        elif request.method == "GET" and "/sdk/models/" in request.url:
            found = {**self.catalog, **self.by_id_only}.get(request.url.rsplit("/", 1)[1])
            r.status_code, body = (200, found) if found else (404, {"statusCode": 404, "message": "no such model"})
        else:
            r.status_code, body = 500, {"message": f"unexpected {request.method} {request.url}"}
        r._content = json.dumps(body).encode()
        return r


@pytest.fixture
def service(monkeypatch):
    s = Service()
    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, **kw: s.send(adapter, request, **kw))
    return s


@pytest.fixture
def sdk(original):
    """The SDK's ModelFactory, Model class and getter module."""
    from aixplain.factories import ModelFactory
    from aixplain.modules.model import Model

    return ModelFactory, Model, importlib.import_module(GETTER)


@pytest.fixture
def switched(sdk):
    """use_in_aixplain() for one test, undone afterwards."""
    previous = asset_cache.use_in_aixplain()
    yield previous
    asset_cache.use_in_aixplain(enabled=False)


def cached_ids(path=".cache/model.json"):
    with open(path) as f:
        return list(json.load(f)["data"])


def test_the_switch_replaces_the_sdk_class_and_can_be_undone(sdk, original):
    # checked: a use_in_aixplain that only sets the module attribute (not the
    # getter's imported name) fails the second assertion.
    _, _, getter = sdk
    shipped = original.AssetCache
    returned = asset_cache.use_in_aixplain()
    try:
        assert returned is shipped
        assert original.AssetCache is asset_cache.AssetCache
        assert getter.AssetCache is asset_cache.AssetCache
        assert asset_cache.use_in_aixplain() is shipped  # idempotent
    finally:
        asset_cache.use_in_aixplain(enabled=False)
    assert original.AssetCache is shipped and getter.AssetCache is shipped


def test_model_factory_get_through_the_dropin(sdk, service, switched, workdir):
    # checked: a store.data whose get() returns dicts fails isinstance(.., Model);
    # an add that rewrites the file from memory (the original's) fails the m1, m2, m3 list.
    ModelFactory, Model, _ = sdk
    m1 = ModelFactory.get("m1", use_cache=True)  # empty cache: list the catalog, add_list
    assert isinstance(m1, Model) and (m1.id, m1.name) == ("m1", "first")
    assert service.calls == [("POST", "models/paginate")]
    assert cached_ids() == ["m1", "m2"]

    m2 = ModelFactory.get("m2", use_cache=True)  # valid cache: store.data.get, no request
    assert isinstance(m2, Model) and (m2.id, m2.name, m2.description) == ("m2", "second", "second model")
    assert len(service.calls) == 1

    m3 = ModelFactory.get("m3", use_cache=True)  # valid cache, miss: fetch one, add
    assert (m3.id, m3.name) == ("m3", "third")
    assert service.calls[1:] == [("GET", "models/m3")]
    assert cached_ids() == ["m1", "m2", "m3"]

    again = ModelFactory.get("m3", use_cache=True)
    assert isinstance(again, Model) and again.id == "m3" and len(service.calls) == 2

    # A process still running the shipped class shares the same cache.
    shipped = switched(Model)
    assert [m.id for m in shipped.get_all()] == ["m1", "m2", "m3"]


def test_model_factory_get_with_the_shipped_class_for_comparison(sdk, service, original, workdir):
    # The same calls with aixplain 0.2.48's own AssetCache. Its add of m3
    # rewrites the file from memory, where m1 and m2 are Model.from_dict
    # instances whose to_dict() fails (model_params is None): they are
    # skipped and lost from the file. The drop-in keeps them (test above).
    ModelFactory, Model, getter = sdk
    assert getter.AssetCache is original.AssetCache
    ModelFactory.get("m1", use_cache=True)
    assert cached_ids() == ["m1", "m2"]
    assert isinstance(ModelFactory.get("m2", use_cache=True), Model)
    ModelFactory.get("m3", use_cache=True)
    assert cached_ids() == ["m3"]
    assert service.calls == [("POST", "models/paginate"), ("GET", "models/m3")]


def test_the_switch_can_use_the_per_user_folder(sdk, service, workdir, monkeypatch):
    # checked: ignoring use_in_aixplain's cache_folder writes .cache/model.json instead.
    ModelFactory, Model, _ = sdk
    monkeypatch.setenv("AIXPLAIN_CACHE_FOLDER", str(workdir / "user"))
    asset_cache.use_in_aixplain(cache_folder=asset_cache.user_cache_folder())
    try:
        ModelFactory.get("m1", use_cache=True)
    finally:
        asset_cache.use_in_aixplain(enabled=False)
    assert cached_ids(str(workdir / "user" / "aixplain" / "model.json")) == ["m1", "m2"]
    assert not os.path.exists(".cache/model.json")


def test_the_switch_before_the_sdk_is_imported(workdir):
    # A fresh interpreter, as a user's program: switch first, then import the
    # SDK. checked: a use_in_aixplain that patches only the modules that
    # imported the class, not aixplain.utils.asset_cache itself, fails this.
    program = textwrap.dedent(
        """
        import asset_cache
        asset_cache.use_in_aixplain()
        from aixplain.factories import ModelFactory
        import importlib, sys
        getter = importlib.import_module(%r)
        print(getter.AssetCache is asset_cache.AssetCache)
        """
        % GETTER
    )
    env = dict(os.environ, TEAM_API_KEY="test-key")
    out = subprocess.run([sys.executable, "-c", program], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"
