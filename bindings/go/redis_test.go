//go:build asset_cache_redis

// The Go binding on Redis, through the same Open: run by
// scripts/test-redis.sh (go test -tags asset_cache_redis,asset_cache_inrepo)
// with ASSET_CACHE_REDIS_URL naming its private server. Two handles with
// folders of their own stand for two hosts.
//
// Checked to fail: with Open ignoring WithBackendURL, the second handle did
// not see the first one's add.

package assetcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// twoHosts opens cache name twice on the server of ASSET_CACHE_REDIS_URL,
// each handle with a folder of its own, as two hosts would.
func twoHosts(t *testing.T, name string) (*Cache, *Cache) {
	t.Helper()
	url := os.Getenv("ASSET_CACHE_REDIS_URL")
	if url == "" {
		t.Fatal("ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh")
	}
	open := func() *Cache {
		c, err := Open(name, WithDir(t.TempDir()), WithTTL(time.Hour),
			WithBackendURL(url), WithBackendTimeout(2*time.Second))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return c
	}
	return open(), open()
}

func TestRedisBasic(t *testing.T) {
	name := fmt.Sprintf("go-basic-%d", os.Getpid())
	a, b := twoHosts(t, name)
	defer a.Close()
	defer b.Close()
	if err := a.Add(map[string]any{"id": "m1", "v": 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get("m1")
	if err != nil || string(got) != `{"id":"m1","v":1}` {
		t.Fatalf("Get on the other host = %s, %v", got, err)
	}
	if err := b.AddList([]map[string]any{{"id": "n1"}, {"id": "n2"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Load(); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Len(); n != 2 {
		t.Fatalf("Len after the other host's AddList = %d, want 2", n)
	}
	if _, err := a.Get("m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("m1 after AddList: %v, want ErrNotFound", err)
	}
	if err := a.Invalidate(); err != nil {
		t.Fatal(err)
	}

	_, err = Open(name, WithBackendURL("redis://127.0.0.1:notaport/0"))
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad URL: %v, want ErrInvalidArgument", err)
	}
	_, err = Open(name, WithBackendURL("redis://:s3cret@127.0.0.1:1/0"), WithBackendTimeout(time.Second))
	if !errors.Is(err, ErrBackendUnavailable) || !strings.Contains(err.Error(), "127.0.0.1:1") ||
		strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("no server: %v, want ErrBackendUnavailable naming the server", err)
	}
}

// Two hosts get-or-fetch the same id at once: one fetch. Checked to fail:
// with claim.lua answering 'claimed' without its SET NX, both fetched.
func TestRedisGetOrFetchOnceForTwoHosts(t *testing.T) {
	a, b := twoHosts(t, fmt.Sprintf("go-sf-%d", os.Getpid()))
	defer a.Close()
	defer b.Close()
	var fetches atomic.Int32
	fetch := func(ctx context.Context) (any, error) {
		fetches.Add(1)
		time.Sleep(300 * time.Millisecond)
		return map[string]any{"id": "m1", "fetched": true}, nil
	}
	var wg sync.WaitGroup
	for _, c := range []*Cache{a, b} {
		wg.Add(1)
		go func(c *Cache) {
			defer wg.Done()
			got, err := c.GetOrFetch(context.Background(), "m1", fetch)
			if err != nil || string(got) != `{"fetched":true,"id":"m1"}` {
				t.Errorf("GetOrFetch = %s, %v", got, err)
			}
		}(c)
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two hosts, want 1", n)
	}
	if removed, err := b.Remove("m1"); err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if err := a.Load(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get("m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("m1 after the other host's Remove: %v, want ErrNotFound", err)
	}
	if err := a.Invalidate(); err != nil {
		t.Fatal(err)
	}
}
