package assetcache

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Issue 10 item 4: a string that is not valid UTF-8 is refused with
// ErrInvalidUTF8 and a message saying where, in every call taking an id or
// JSON. Before the fix encoding/json silently turned the bad bytes into
// U+FFFD: Add(model{ID: "a\xff"}) stored the asset under "a\uFFFD"
// (checked by removing the invalidUTF8 check from encode: the first three
// rows then succeed), and an id holding a lone surrogate escape failed with
// MISSING_ID "unexpected end of hex escape".
func TestInvalidUnicodeIsRefusedNotChanged(t *testing.T) {
	c := open(t, t.TempDir(), "utf8")
	type tagged struct {
		Key  string            `json:"id"`
		Meta map[string]string `json:"meta"`
	}
	for _, row := range []struct {
		name     string
		run      func() error
		contains string
	}{
		{"struct id", func() error { return c.Add(model{ID: "a\xff"}) }, "value.ID"},
		{"map id", func() error { return c.Add(map[string]any{"id": "\xed\xa0\x80"}) }, `value["id"]`},
		{"nested value", func() error { return c.Add(tagged{Key: "k", Meta: map[string]string{"x": "b\xc3"}}) }, `value.Meta["x"]`},
		{"map key", func() error { return c.Add(map[string]any{"id": "k", "\xff": 1}) }, "key"},
		{"list element", func() error { return c.AddList([]model{{ID: "ok"}, {ID: "b\xff"}}) }, "value[1].ID"},
		{"get id", func() error { _, err := c.Get("a\xff"); return err }, "id is not valid UTF-8"},
		{"raw JSON", func() error { return c.Add(json.RawMessage("{\"id\":\"\xff\"}")) }, "not valid UTF-8"},
		{"lone surrogate escape in id", func() error { return c.Add(json.RawMessage(`{"id":"\ud800"}`)) }, "lone surrogate"},
		{"lone surrogate escape in list", func() error { return c.AddList(json.RawMessage(`[{"id":"a"},{"id":"\udfff"}]`)) }, "element 1"},
		{"name", func() error { _, err := Open("n\xff", WithDir(t.TempDir())); return err }, "UTF-8"},
	} {
		err := row.run()
		var e *Error
		if !errors.Is(err, ErrInvalidUTF8) || !errors.As(err, &e) || !strings.Contains(e.Message, row.contains) {
			t.Errorf("%s: %v; want ErrInvalidUTF8 mentioning %q", row.name, err, row.contains)
		}
	}
	mustLen(t, c, 0)
	// U+FFFD itself, and a lone surrogate inside a value (Python writes such
	// values; they round-trip as escapes), are fine.
	if err := c.Add(model{ID: "\ufffd"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(json.RawMessage(`{"id":"v","x":"\udc00"}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Get("v"); err != nil || string(b) != `{"id":"v","x":"\udc00"}` {
		t.Fatalf("Get(v) = %s, %v", b, err)
	}
	mustLen(t, c, 2)
}
