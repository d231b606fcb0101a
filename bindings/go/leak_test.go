package assetcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssBytes is this process's resident memory, from /proc/self/statm.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatalf("reading /proc/self/statm (the leak test needs Linux): %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

func settledRSS(t *testing.T) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes(t)
}

// TestLeakLoop adds and gets many times and checks that resident memory
// stays flat: each round trip returns library strings of about 4 KiB, so
// forgetting to free them (or the C copies of the arguments) would grow
// memory by hundreds of MiB, far above the bound. ASSET_CACHE_LEAK_ITERATIONS
// runs a longer loop.
func TestLeakLoop(t *testing.T) {
	iterations := 10_000
	if s := os.Getenv("ASSET_CACHE_LEAK_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("ASSET_CACHE_LEAK_ITERATIONS=%q: %v", s, err)
		}
		iterations = n
	}
	const ids = 50
	const boundMiB = 16
	c := open(t, t.TempDir(), "leak", WithTTL(time.Hour))
	payload := strings.Repeat("0123456789abcdef", 256) // 4 KiB
	round := func(i int) {
		id := "asset-" + strconv.Itoa(i%ids)
		asset := json.RawMessage(fmt.Sprintf(`{"id":%q,"i":%d,"payload":%q}`, id, i, payload))
		if err := c.Add(asset); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 5; k++ {
			got, err := c.Get(id)
			if err != nil || !bytes.Equal(got, asset) {
				t.Fatalf("Get(%s) = %d bytes, %v", id, len(got), err)
			}
		}
		if _, err := c.Get("missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(missing) = %v", err)
		}
		if i%100 == 0 {
			if all, err := c.GetAll(); err != nil || len(all) == 0 {
				t.Fatalf("GetAll = %d assets, %v", len(all), err)
			}
		}
	}
	warmup := iterations / 10
	for i := 0; i < warmup; i++ {
		round(i)
	}
	before := settledRSS(t)
	for i := warmup; i < iterations; i++ {
		round(i)
	}
	after := settledRSS(t)
	growth := after - before
	t.Logf("%d round trips: RSS %.1f MiB -> %.1f MiB (growth %.2f MiB, bound %d MiB)",
		iterations-warmup, float64(before)/(1<<20), float64(after)/(1<<20), float64(growth)/(1<<20), boundMiB)
	if growth > boundMiB<<20 {
		t.Fatalf("resident memory grew by %.1f MiB over %d round trips (bound %d MiB): a leak",
			float64(growth)/(1<<20), iterations-warmup, boundMiB)
	}
}
