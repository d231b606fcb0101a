// The README's Redis fleet, the Go host: opens the cache the Python
// workers fill (same name, same REDIS_URL) and lists what they added.
// tests/redis/bindings/readme_fleet.sh runs it, and the README holds it verbatim
// (scripts/check-readme.sh).
package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"time"

	assetcache "github.com/asset-cache/asset-cache/bindings/go"
)

type Model struct {
	ID      string `json:"id"`
	AddedBy string `json:"added_by"`
}

func main() {
	cache, err := assetcache.Open("models",
		assetcache.WithBackendURL(os.Getenv("REDIS_URL")),
		assetcache.WithBackendTimeout(2*time.Second))
	if errors.Is(err, assetcache.ErrBackendUnavailable) {
		log.Fatalf("the cache server is away (a later call may succeed): %v", err)
	} else if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	models, err := assetcache.GetAllAs[Model](cache) // from memory, loaded at Open
	if err != nil {
		log.Fatal(err)
	}
	sort.Slice(models, func(i, j int) bool { return models[i].ID < models[j].ID })
	for _, m := range models {
		fmt.Println(m.ID, "added by", m.AddedBy)
	}
	// A write from Go, which every Python worker sees at its next load.
	if err := cache.Add(Model{ID: "model-go", AddedBy: "go"}); err != nil {
		log.Fatal(err)
	}
}
