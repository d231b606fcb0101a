package assetcache_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	assetcache "github.com/asset-cache/asset-cache/bindings/go"
)

type Model struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func Example() {
	dir, err := os.MkdirTemp("", "assetcache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cache, err := assetcache.Open("models", assetcache.WithDir(dir), assetcache.WithTTL(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	// Any value encoding/json turns into an object with a string "id".
	if err := cache.AddList([]Model{{ID: "m1", Name: "first"}, {ID: "m2", Name: "second"}}); err != nil {
		log.Fatal(err)
	}
	if err := cache.Add(Model{ID: "m1", Name: "first, updated"}); err != nil {
		log.Fatal(err)
	}

	m, err := assetcache.GetAs[Model](cache, "m1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name)

	raw, _ := cache.Get("m2") // the JSON text as it was added
	fmt.Println(string(raw))

	n, _ := cache.Len()
	fmt.Println(n, "assets")

	if _, err := cache.Get("m3"); errors.Is(err, assetcache.ErrNotFound) {
		fmt.Println("m3: not cached")
	}

	var e *assetcache.Error
	if err := cache.Add(map[string]string{"name": "no id"}); errors.As(err, &e) {
		fmt.Println(e.Status == assetcache.StatusMissingID, errors.Is(err, assetcache.ErrMissingID))
	}
	// Output:
	// first, updated
	// {"id":"m2","name":"second"}
	// 2 assets
	// m3: not cached
	// true true
}
