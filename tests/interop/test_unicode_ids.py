"""Issue 10 item 4: an id that is not valid Unicode cannot be passed through:
JSON from json.dumps holding a lone surrogate id ("\\ud800", as Python
escapes it) and the surrogatepass bytes of such an id are refused with
INVALID_UTF8 and a message saying why, not MISSING_ID "unexpected end of hex
escape" (checked by reverting RawAsset::checked_id). A lone surrogate in a
value round-trips."""

import json

import pytest

import ctypes

from acache import Cache, CacheError, lib

INVALID_UTF8 = 3


def test_lone_surrogate_ids_are_invalid_utf8(workdir):
    with Cache(".cache", "ids") as c:
        for text in (json.dumps({"id": "\ud800"}), json.dumps({"id": "scan-\udcff.bin", "v": 1})):
            with pytest.raises(CacheError) as e:
                c.add_text(text)
            assert e.value.status == INVALID_UTF8, text
            assert "lone surrogate" in str(e.value)
        with pytest.raises(CacheError) as e:
            c.add_list_text(json.dumps([{"id": "a"}, {"id": "\udfff"}]))
        assert e.value.status == INVALID_UTF8 and "element 1" in str(e.value)

        out = ctypes.c_void_p()
        status = lib().asset_cache_get(c._h, "\ud800".encode("utf-8", "surrogatepass"), ctypes.byref(out))
        assert status == INVALID_UTF8
        assert len(c) == 0
        c.add({"id": "v", "x": "\udc00"})
        assert json.loads(c.get_text("v")) == {"id": "v", "x": "\udc00"}
