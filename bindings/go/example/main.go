// The README's Go example: a program outside this repository using the
// binding. scripts/test-go.sh builds it in a module of its own (with a
// replace directive, as the README says) and checks its output.
package main

import (
	"errors"
	"fmt"
	"log"
	"time"

	assetcache "github.com/asset-cache/asset-cache/bindings/go"
)

type Model struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func main() {
	cache, err := assetcache.Open("models", assetcache.WithDir(".cache"), assetcache.WithTTL(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	// Any value encoding/json turns into an object with a string "id".
	if err := cache.Add(Model{ID: "m1", Name: "first"}); err != nil { // on disk when Add returns
		log.Fatal(err)
	}
	m, err := assetcache.GetAs[Model](cache, "m1") // or cache.Get("m1") for the JSON text
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name)

	if _, err := cache.Get("m2"); errors.Is(err, assetcache.ErrNotFound) {
		fmt.Println("m2: not cached")
	}
	var e *assetcache.Error
	if err := cache.Add(map[string]string{"name": "no id"}); errors.As(err, &e) {
		fmt.Println(e.Status == assetcache.StatusMissingID, errors.Is(err, assetcache.ErrMissingID), e.Message)
	}
}
