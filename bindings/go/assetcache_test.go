package assetcache

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type model struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags,omitempty"`
	Score float64  `json:"score"`
}

func open(t *testing.T, dir, name string, opts ...Option) *Cache {
	t.Helper()
	c, err := Open(name, append([]Option{WithDir(dir)}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustLen(t *testing.T, c *Cache, want int) {
	t.Helper()
	n, err := c.Len()
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	if n != want {
		t.Fatalf("Len = %d, want %d", n, want)
	}
}

func TestWorkflow(t *testing.T) {
	dir := t.TempDir()
	before := time.Now()
	c := open(t, dir, "models", WithTTL(time.Hour))

	if ok, err := c.HasValidCache(); err != nil || ok {
		t.Fatalf("HasValidCache on a new cache = %v, %v; want false, nil", ok, err)
	}
	m1 := model{ID: "m1", Name: "first", Tags: []string{"a", "b"}, Score: 0.5}
	if err := c.Add(m1); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(json.RawMessage(`{"id":"m2","name":"second","score":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Add([]byte(`{"id":"m3","name":"third","score":3}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(&model{ID: "m1", Name: "first again", Score: 1}); err != nil {
		t.Fatal(err)
	}
	mustLen(t, c, 3)
	if ok, err := c.HasValidCache(); err != nil || !ok {
		t.Fatalf("HasValidCache = %v, %v; want true, nil", ok, err)
	}

	got, err := GetAs[model](c, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (model{ID: "m1", Name: "first again", Score: 1}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("GetAs = %+v, want %+v", got, want)
	}
	raw, err := c.Get("m2")
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"id":"m2","name":"second","score":2}` {
		t.Fatalf("Get kept the text verbatim? got %s", raw)
	}

	all, err := GetAllAs[model](c)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range all {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "m1,m2,m3" {
		t.Fatalf("GetAll order = %v, want m1,m2,m3", ids)
	}

	exp, err := c.Expiry()
	if err != nil {
		t.Fatal(err)
	}
	if exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
		t.Fatalf("Expiry = %v, want about an hour from %v", exp, before)
	}

	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	// A second handle reads what the first wrote.
	d := open(t, dir, "models")
	mustLen(t, d, 3)
	if got, err := GetAs[model](d, "m3"); err != nil || got.Name != "third" {
		t.Fatalf("reopened GetAs(m3) = %+v, %v", got, err)
	}

	if err := c.AddList([]model{{ID: "x", Name: "only"}, {ID: "y"}}); err != nil {
		t.Fatal(err)
	}
	mustLen(t, c, 2)
	if _, err := c.Get("m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after AddList, Get(m1) err = %v, want ErrNotFound", err)
	}

	if err := c.Invalidate(); err != nil {
		t.Fatal(err)
	}
	mustLen(t, c, 0)
	if _, err := os.Stat(filepath.Join(dir, "models.json")); !os.IsNotExist(err) {
		t.Fatalf("Invalidate left the cache file: %v", err)
	}
	if err := d.Load(); err != nil {
		t.Fatal(err)
	}
	mustLen(t, d, 0)
	if all, err := c.GetAll(); err != nil || all == nil || len(all) != 0 {
		t.Fatalf("GetAll of an empty cache = %v, %v; want [], nil", all, err)
	}
	if Version() == "" {
		t.Fatal("Version() is empty")
	}
}

func TestExpired(t *testing.T) {
	c := open(t, t.TempDir(), "short", WithTTL(time.Second)) // the shortest: 0 is refused
	if err := c.Add(model{ID: "gone"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.Get("gone"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on an expired store: %v, want ErrNotFound", err)
	}
	if ok, err := c.HasValidCache(); err != nil || ok {
		t.Fatalf("HasValidCache on an expired store = %v, %v", ok, err)
	}
}

func TestNotFound(t *testing.T) {
	c := open(t, t.TempDir(), "nf")
	b, err := c.Get("nobody")
	if b != nil {
		t.Fatalf("Get on a miss returned %q", b)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrClosed) {
		t.Fatalf("a miss matches another sentinel: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusNotFound || e.Op != "get" || !strings.Contains(e.Message, "nobody") {
		t.Fatalf("err = %#v, want *Error{Op: get, Status: NotFound, Message naming the id}", err)
	}
	if _, err := GetAs[model](c, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetAs on a miss: %v", err)
	}
}

// lockHeld holds the cache's lock file as another process would, until release.
func lockHeld(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, "bad")
	if err := os.Mkdir(filepath.Join(dir, "lockdir.lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dirjson.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	openErr := func(name string, opts ...Option) func() error {
		return func() error {
			c, err := Open(name, opts...)
			c.Close()
			return err
		}
	}
	cases := []struct {
		name     string
		run      func() error
		want     error
		status   Status
		contains string
	}{
		{"empty name", openErr("", WithDir(dir)), ErrInvalidArgument, StatusInvalidArgument, "empty"},
		{"name with separator", openErr("a/b", WithDir(dir)), ErrInvalidArgument, StatusInvalidArgument, "separator"},
		{"name with NUL", openErr("a\x00b", WithDir(dir)), ErrInvalidArgument, StatusInvalidArgument, "NUL"},
		{"empty dir", openErr("x", WithDir("")), ErrInvalidArgument, StatusInvalidArgument, "empty"},
		{"negative ttl", openErr("x", WithDir(dir), WithTTL(-time.Second)), ErrInvalidArgument, StatusInvalidArgument, "ttl"},
		{"name not UTF-8", openErr("caf\xe9", WithDir(dir)), ErrInvalidUTF8, StatusInvalidUTF8, "UTF-8"},
		{"id not UTF-8", func() error { _, err := c.Get("\xff"); return err }, ErrInvalidUTF8, StatusInvalidUTF8, "UTF-8"},
		{"id with NUL", func() error { _, err := c.Get("a\x00"); return err }, ErrInvalidArgument, StatusInvalidArgument, "NUL"},
		{"asset not UTF-8", func() error { return c.Add([]byte("{\"id\":\"\xff\"}")) }, ErrInvalidUTF8, StatusInvalidUTF8, "UTF-8"},
		{"asset not JSON", func() error { return c.Add(json.RawMessage(`{bad`)) }, ErrInvalidJSON, StatusInvalidJSON, "JSON"},
		{"asset with raw NUL", func() error { return c.Add([]byte("{\"id\":\"a\"}\x00junk")) }, ErrInvalidJSON, StatusInvalidJSON, "NUL"},
		{"list not an array", func() error { return c.AddList(json.RawMessage(`{"id":"a"}`)) }, ErrInvalidJSON, StatusInvalidJSON, "array"},
		{"asset without id", func() error { return c.Add(map[string]string{"name": "x"}) }, ErrMissingID, StatusMissingID, "id"},
		{"asset with empty id", func() error { return c.Add(model{}) }, ErrMissingID, StatusMissingID, "id"},
		{"asset with numeric id", func() error { return c.Add(map[string]int{"id": 7}) }, ErrMissingID, StatusMissingID, "id"},
		{"list with a bad element", func() error {
			return c.AddList([]any{model{ID: "ok"}, map[string]string{"name": "no id"}})
		}, ErrMissingID, StatusMissingID, "1"},
		{"cache file is a directory", openErr("dirjson", WithDir(dir)), ErrIO, StatusIO, "dirjson.json"},
		{"dir under a file", func() error {
			c, err := Open("x", WithDir(filepath.Join(notDir, "sub")))
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Add(model{ID: "a"})
		}, ErrIO, StatusIO, "create folder"},
		{"lock file is a directory", func() error {
			c, err := Open("lockdir", WithDir(dir))
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Add(model{ID: "a"})
		}, ErrLock, StatusLock, "lock"},
		{"lock held elsewhere", func() error {
			c, err := Open("held", WithDir(dir), WithLockTimeout(0))
			if err != nil {
				return err
			}
			defer c.Close()
			release := lockHeld(t, filepath.Join(dir, "held.lock"))
			defer release()
			return c.Add(model{ID: "a"})
		}, ErrLockTimeout, StatusLockTimeout, "lock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status {
				t.Fatalf("err = %#v, want status %v", err, tc.status)
			}
			if !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("message %q does not mention %q", e.Message, tc.contains)
			}
			for _, other := range []error{ErrNotFound, ErrInvalidArgument, ErrInvalidUTF8, ErrInvalidJSON, ErrMissingID, ErrIO, ErrLock, ErrLockTimeout} {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("err %v also matches %v", err, other)
				}
			}
		})
	}
	// Failed writes leave the cache as it was.
	mustLen(t, c, 0)

	// A value encoding/json cannot encode fails in Go, before the library,
	// as an *Error (INVALID_JSON) wrapping encoding/json's error.
	if err := c.Add(make(chan int)); !errors.Is(err, ErrInvalidJSON) || !errors.As(err, new(*json.UnsupportedTypeError)) {
		t.Fatalf("Add(chan) = %v, want ErrInvalidJSON wrapping a json error", err)
	}
}

func TestStatusNames(t *testing.T) {
	seen := map[string]Status{}
	for s := StatusOK; s <= StatusBackendError; s++ {
		name := s.String()
		if name == "" || name == "unknown status" {
			t.Fatalf("status %d has no name", int(s))
		}
		if prev, dup := seen[name]; dup {
			t.Fatalf("statuses %d and %d share the name %q", prev, s, name)
		}
		seen[name] = s
	}
	if ErrNoMemory.Error() != "assetcache: out of memory" || !errors.Is(&Error{Op: "get", Status: StatusPanic, Message: "x"}, ErrPanic) {
		t.Fatalf("sentinels: %v, %v", ErrNoMemory, ErrPanic)
	}
}

func TestGoroutinesShareOneCache(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, "shared")
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := c.Add(model{ID: id, Name: "worker", Score: float64(i)}); err != nil {
					errs <- err
					return
				}
				got, err := GetAs[model](c, id)
				if err != nil || got.ID != id {
					errs <- fmt.Errorf("Get(%s) = %+v, %v", id, got, err)
					return
				}
				if _, err := c.GetAll(); err != nil {
					errs <- err
					return
				}
				if _, err := c.Get("missing"); !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("Get(missing) = %v", err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustLen(t, c, workers*each)
	// Nothing lost on disk either.
	mustLen(t, open(t, dir, "shared"), workers*each)
}

func TestTwoCachesSameFiles(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, "two")
	b := open(t, dir, "two")
	// b has not seen a's add, yet b's add must not overwrite it on disk.
	if err := a.Add(model{ID: "from-a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(model{ID: "from-b"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Load(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get("from-b"); err != nil {
		t.Fatalf("a does not see b's add after Load: %v", err)
	}

	const each = 50
	var wg sync.WaitGroup
	for i, c := range []*Cache{a, b} {
		wg.Add(1)
		go func(i int, c *Cache) {
			defer wg.Done()
			for n := 0; n < each; n++ {
				if err := c.Add(model{ID: fmt.Sprintf("c%d-%d", i, n)}); err != nil {
					t.Error(err)
					return
				}
			}
		}(i, c)
	}
	wg.Wait()
	fresh := open(t, dir, "two")
	mustLen(t, fresh, 2+2*each)
}

// TestHelperProcess is not a test: TestProcessesShareFiles runs the test
// binary again with ASSET_CACHE_GO_HELPER set, to add assets from another process.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv("ASSET_CACHE_GO_HELPER")
	if spec == "" {
		return
	}
	parts := strings.SplitN(spec, ":", 3) // dir:worker:count
	n, _ := strconv.Atoi(parts[2])
	c, err := Open("procs", WithDir(parts[0]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < n; i++ {
		if err := c.Add(model{ID: fmt.Sprintf("p%s-%d", parts[1], i)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	c.Close()
	os.Exit(0)
}

func TestProcessesShareFiles(t *testing.T) {
	dir := t.TempDir()
	const procs, each = 3, 30
	cmds := make([]*exec.Cmd, procs)
	for p := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("ASSET_CACHE_GO_HELPER=%s:%d:%d", dir, p, each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[p] = cmd
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	mustLen(t, open(t, dir, "procs"), procs*each)
}

func TestUnicodeAndLargeAssets(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, "big")
	uni := model{
		ID:   "ünï-码-🚀",
		Name: "e\u0301 ﬁ \u2028 \u0000 \"quoted\" \\ tab\t 𝄞 Ελληνικά العربية",
		Tags: []string{"日本語", "한국어", "\U0010FFFF"},
	}
	if err := c.Add(uni); err != nil {
		t.Fatal(err)
	}
	got, err := GetAs[model](c, uni.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, uni) {
		t.Fatalf("unicode round trip:\n got %#v\nwant %#v", got, uni)
	}

	big := strings.Repeat("large ✓ asset ", 200_000) // about 3 MB
	raw := json.RawMessage(fmt.Sprintf(`{"id":"big","blob":%q, "n": 1.50}`, big))
	if err := c.Add(raw); err != nil {
		t.Fatal(err)
	}
	back, err := c.Get("big")
	if err != nil {
		t.Fatal(err)
	}
	if string(back) != string(raw) {
		t.Fatalf("large asset: %d bytes back for %d sent, or not verbatim", len(back), len(raw))
	}
	// And from disk, through a second handle.
	c2 := open(t, dir, "big")
	if back, err := c2.Get("big"); err != nil || string(back) != string(raw) {
		t.Fatalf("large asset from disk: %d bytes, %v", len(back), err)
	}
	if got, err := GetAs[model](c2, uni.ID); err != nil || !reflect.DeepEqual(got, uni) {
		t.Fatalf("unicode asset from disk: %#v, %v", got, err)
	}
}

func TestCloseIdempotentAndSafe(t *testing.T) {
	dir := t.TempDir()
	c, err := Open("close", WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Add(model{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	// Goroutines keep using the cache while it is closed under them: each
	// call either works or reports ErrClosed; none may crash.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Get("a"); err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Get during Close: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if err := c.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	close(stop)
	wg.Wait()

	checks := map[string]error{
		"Get":        func() error { _, err := c.Get("a"); return err }(),
		"Add":        c.Add(model{ID: "b"}),
		"AddList":    c.AddList([]model{}),
		"Load":       c.Load(),
		"Save":       c.Save(),
		"Invalidate": c.Invalidate(),
		"Len":        func() error { _, err := c.Len(); return err }(),
		"GetAll":     func() error { _, err := c.GetAll(); return err }(),
		"Expiry":     func() error { _, err := c.Expiry(); return err }(),
		"HasValid":   func() error { _, err := c.HasValidCache(); return err }(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	var nilCache *Cache
	if err := nilCache.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nilCache.Len(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Len on a nil *Cache = %v", err)
	}
	// The files stay after Close.
	mustLen(t, open(t, dir, "close"), 1)
}

func TestDurationsRoundUp(t *testing.T) {
	for _, tc := range []struct {
		d, unit time.Duration
		want    int64
	}{
		{0, time.Second, 0},
		{time.Nanosecond, time.Second, 1},
		{time.Second, time.Second, 1},
		{1500 * time.Millisecond, time.Second, 2},
		{time.Duration(math.MaxInt64), time.Second, int64(math.MaxInt64/int64(time.Second)) + 1},
		{time.Duration(math.MaxInt64), time.Millisecond, int64(math.MaxInt64/int64(time.Millisecond)) + 1},
	} {
		if got := ceilDiv(tc.d, tc.unit); got != tc.want {
			t.Errorf("ceilDiv(%d, %v) = %d, want %d", int64(tc.d), tc.unit, got, tc.want)
		}
	}
}

// The library keeps the last error message per OS thread; each error must
// carry the message of its own call even when goroutines hop threads.
func TestErrorMessagesUnderConcurrency(t *testing.T) {
	c := open(t, t.TempDir(), "messages")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				id := fmt.Sprintf("missing-%d-%d", g, i)
				_, err := c.Get(id)
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Message, strconv.Quote(id)) {
					t.Errorf("Get(%s): message of another call: %v", id, err)
					return
				}
				if i%10 == 0 {
					runtime.Gosched()
				}
			}
		}(g)
	}
	wg.Wait()
}

// Options go through the library's options object: a bad one fails Open
// with the message of the setter that refused it, and creates nothing.
// Checked that it can fail: with Open ignoring the open's error object (an
// empty message), this test failed.
func TestBadOptionNamesTheSetter(t *testing.T) {
	dir := t.TempDir()
	_, err := Open("a/b", WithDir(dir))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInvalidArgument) ||
		!strings.Contains(e.Message, "asset_cache_config_set_name failed") || !strings.Contains(e.Message, "separator") {
		t.Fatalf("Open(a/b) = %v, want ErrInvalidArgument naming asset_cache_config_set_name", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed Open created %v", entries)
	}
	if DefaultLockTimeout <= 0 {
		t.Fatalf("DefaultLockTimeout = %v", DefaultLockTimeout)
	}
}

// README: "Every failure is an *assetcache.Error". Checked to fail before:
// after Close the error was fmt.Errorf's "assetcache: add: assetcache: cache
// is closed" (no *Error, the prefix twice), and a json.Marshal failure was
// encoding/json's own error.
func TestEveryFailureIsAnError(t *testing.T) {
	c := open(t, t.TempDir(), "errs")
	var e *Error
	err := c.Add(map[string]any{"id": "nan", "v": math.NaN()})
	var unsupported *json.UnsupportedValueError
	if !errors.As(err, &e) || e.Status != StatusInvalidJSON || e.Op != "add" || !errors.Is(err, ErrInvalidJSON) ||
		!errors.As(err, &unsupported) || !strings.Contains(e.Message, "NaN") {
		t.Fatalf("Add(NaN) = %#v, want *Error{add, INVALID_JSON} wrapping encoding/json's error", err)
	}
	if err := c.Add(model{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := GetAs[int](c, "a"); !errors.As(err, &e) || e.Status != StatusInvalidJSON || e.Op != "get" {
		t.Fatalf("GetAs[int] of an object = %#v, want *Error{get, INVALID_JSON}", err)
	}
	c.Close()
	err = c.Add(model{ID: "b"})
	if !errors.As(err, &e) || !errors.Is(err, ErrClosed) || !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Add after Close = %#v, want *Error wrapping ErrClosed", err)
	}
	if got, want := err.Error(), "assetcache: add: cache is closed"; got != want {
		t.Fatalf("Add after Close says %q, want %q", got, want)
	}
}
