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
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRedisBasic(t *testing.T) {
	url := os.Getenv("ASSET_CACHE_REDIS_URL")
	if url == "" {
		t.Fatal("ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh")
	}
	name := fmt.Sprintf("go-basic-%d", os.Getpid())
	open := func() *Cache {
		c, err := Open(name, WithDir(t.TempDir()), WithTTL(time.Hour),
			WithBackendURL(url), WithBackendTimeout(2*time.Second))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return c
	}
	a, b := open(), open()
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
