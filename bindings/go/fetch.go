package assetcache

/*
#include <stdlib.h>
#include "asset_cache.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// FetchError is the error of GetOrFetch or RefreshAll when the fetch failed:
// Err is the fetch's own error (errors.Is and errors.As reach it). Stale
// tells whether the expired value was returned with it (errors.Is(err,
// ErrStale)) or nothing (errors.Is(err, ErrFetchFailed)).
type FetchError struct {
	Op    string
	ID    string // "" for RefreshAll
	Stale bool
	Err   error
}

func (e *FetchError) Error() string {
	what := "the whole store"
	if e.ID != "" {
		what = fmt.Sprintf("%q", e.ID)
	}
	if e.Stale {
		return fmt.Sprintf("assetcache: %s: fetch of %s failed, returning the expired value: %v", e.Op, what, e.Err)
	}
	return fmt.Sprintf("assetcache: %s: fetch of %s failed: %v", e.Op, what, e.Err)
}

// Unwrap gives the fetch's own error.
func (e *FetchError) Unwrap() error { return e.Err }

// Is matches ErrStale or ErrFetchFailed.
func (e *FetchError) Is(target error) bool {
	if e.Stale {
		return target == ErrStale
	}
	return target == ErrFetchFailed
}

// raw runs one library call (an `_ex` entry point) on the live handle,
// returning the status as it is (NOT_FOUND, LOCK_TIMEOUT and STALE are
// answers here, not failures) and the error of any other status.
func (c *Cache) raw(op string, f func(h *C.asset_cache, err **C.asset_cache_error) C.asset_cache_status) (C.asset_cache_status, error) {
	if c == nil {
		return 0, fmt.Errorf("assetcache: %s: %w", op, ErrClosed)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return 0, fmt.Errorf("assetcache: %s: %w", op, ErrClosed)
	}
	var cerr *C.asset_cache_error
	st := f(c.handle, &cerr)
	runtime.KeepAlive(c)
	defer C.asset_cache_error_free(cerr)
	switch st {
	case C.ASSET_CACHE_OK, C.ASSET_CACHE_NOT_FOUND, C.ASSET_CACHE_LOCK_TIMEOUT, C.ASSET_CACHE_STALE:
		return st, nil
	}
	return st, &Error{Op: op, Status: Status(st), Message: C.GoString(C.asset_cache_error_message(cerr))}
}

// claimOrValue waits, polling without blocking an OS thread for long, until
// the value is cached (returned) or this caller holds the claim to fetch it.
// begin makes one non-waiting attempt. The wait ends with ctx or after the
// cache's lock timeout.
func (c *Cache) claimOrValue(ctx context.Context, op, what string,
	begin func(h *C.asset_cache, claim **C.asset_cache_claim, out **C.char, err **C.asset_cache_error) C.asset_cache_status,
) ([]byte, *C.asset_cache_claim, error) {
	start := time.Now()
	pause := time.Millisecond
	for {
		var claim *C.asset_cache_claim
		var out *C.char
		st, err := c.raw(op, func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
			return begin(h, &claim, &out, e)
		})
		if err != nil {
			return nil, nil, err
		}
		switch st {
		case C.ASSET_CACHE_OK:
			return takeString(out), nil, nil
		case C.ASSET_CACHE_NOT_FOUND:
			return nil, claim, nil
		}
		// LOCK_TIMEOUT at once: another caller is fetching it.
		if c.lockTimeout >= 0 && time.Since(start) >= c.lockTimeout {
			return nil, nil, &Error{Op: op, Status: StatusLockTimeout, Message: fmt.Sprintf(
				"timed out after %v waiting for another fetch of %s to finish", c.lockTimeout, what)}
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, fmt.Errorf("assetcache: %s: waiting for another fetch of %s: %w", op, what, ctx.Err())
		case <-timer.C:
		}
		if pause < 20*time.Millisecond {
			pause *= 2
		}
	}
}

// finish ends a claim: with the fetched value stored, or with the fetch's
// failure (then the stale value, if any, is returned with a *FetchError).
func (c *Cache) finish(op, id string, claim *C.asset_cache_claim, value any, fetchErr error) ([]byte, error) {
	if fetchErr == nil {
		text, err := encode(op, value)
		if err == nil {
			var ctext *C.char
			ctext, err = cString(op, "fetched value", text, StatusInvalidJSON)
			if err == nil {
				defer C.free(unsafe.Pointer(ctext))
				err = c.with(op, func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
					return C.asset_cache_claim_complete_ex(h, claim, ctext, e)
				})
				if err == nil {
					return text, nil
				}
				return nil, err // the claim is freed by the library, whatever the status
			}
		}
		C.asset_cache_claim_abandon(claim)
		return nil, err
	}
	msg, _ := cString(op, "message", []byte(fetchErr.Error()), StatusInvalidArgument)
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
	}
	var out *C.char
	st, err := c.raw(op, func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_claim_fail_ex(h, claim, msg, &out, e)
	})
	if err != nil && st == 0 { // closed meanwhile: the claim was not taken back
		C.asset_cache_claim_abandon(claim)
	}
	if st == C.ASSET_CACHE_STALE {
		return takeString(out), &FetchError{Op: op, ID: id, Stale: true, Err: fetchErr}
	}
	return nil, &FetchError{Op: op, ID: id, Err: fetchErr}
}

// GetOrFetch returns the JSON text of the asset id: from the cache when it
// is there and the store is valid; otherwise fetch runs and what it returns
// (any value encoding/json accepts, or JSON text as json.RawMessage) is
// stored under id and returned.
//
// Single-flight: while one goroutine or process of the host (in any
// language) fetches an id, every other GetOrFetch of it waits and then gets
// the stored asset without fetching. The wait ends with ctx (its error is
// returned) or after the cache's lock timeout (ErrLockTimeout); it polls,
// holding no OS thread. fetch gets ctx.
//
// When fetch fails, the error is a *FetchError wrapping fetch's error:
// errors.Is(err, ErrFetchFailed), nothing stored; or, within the
// stale-if-error grace period of an expired asset, errors.Is(err, ErrStale)
// with that expired asset returned. A value that is not an asset object
// fails as Add does (ErrMissingID, ErrInvalidJSON), nothing stored.
func (c *Cache) GetOrFetch(ctx context.Context, id string, fetch func(ctx context.Context) (any, error)) ([]byte, error) {
	const op = "get or fetch"
	cid, err := cString(op, "id", []byte(id), StatusInvalidArgument)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cid))
	cached, claim, err := c.claimOrValue(ctx, op, fmt.Sprintf("%q", id),
		func(h *C.asset_cache, claim **C.asset_cache_claim, out **C.char, e **C.asset_cache_error) C.asset_cache_status {
			return C.asset_cache_begin_fetch_ex(h, cid, 0, claim, out, e)
		})
	if err != nil || claim == nil {
		return cached, err
	}
	value, fetchErr := runFetch(ctx, fetch)
	return c.finish(op, id, claim, value, fetchErr)
}

// runFetch calls fetch; a panic in it abandons nothing by itself, so it is
// turned into an error here and the claim is ended normally.
func runFetch(ctx context.Context, fetch func(ctx context.Context) (any, error)) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the fetch panicked: %v", p)
		}
	}()
	return fetch(ctx)
}

// GetOrFetchAs is GetOrFetch with the asset decoded into a T (a stale one
// too, alongside its *FetchError).
func GetOrFetchAs[T any](ctx context.Context, c *Cache, id string, fetch func(ctx context.Context) (T, error)) (T, error) {
	var v T
	b, err := c.GetOrFetch(ctx, id, func(ctx context.Context) (any, error) { return fetch(ctx) })
	if b == nil {
		return v, err
	}
	if uerr := json.Unmarshal(b, &v); uerr != nil {
		return v, fmt.Errorf("assetcache: get or fetch %q: %w", id, uerr)
	}
	return v, err
}

// RefreshAll returns every asset when the store is valid (not expired, not
// empty); otherwise fetch runs (in one caller of the host at a time) and
// the slice it returns replaces the store, as AddList does. Waiting,
// context and errors as GetOrFetch.
func (c *Cache) RefreshAll(ctx context.Context, fetch func(ctx context.Context) (any, error)) ([]json.RawMessage, error) {
	const op = "refresh all"
	cached, claim, err := c.claimOrValue(ctx, op, "the whole store",
		func(h *C.asset_cache, claim **C.asset_cache_claim, out **C.char, e **C.asset_cache_error) C.asset_cache_status {
			return C.asset_cache_begin_refresh_all_ex(h, 0, claim, out, e)
		})
	var text []byte
	if err == nil && claim == nil {
		text = cached
	} else if err == nil {
		value, fetchErr := runFetch(ctx, fetch)
		text, err = c.finish(op, "", claim, value, fetchErr)
	}
	if text == nil {
		return nil, err
	}
	all := []json.RawMessage{}
	if uerr := json.Unmarshal(text, &all); uerr != nil {
		return nil, fmt.Errorf("assetcache: refresh all: %w", uerr)
	}
	return all, err
}

// Remove removes the asset id from the file and from memory (after reading
// what other processes wrote); it reports whether the asset was cached. The
// file is rewritten whole, so the Python original can always read it.
func (c *Cache) Remove(id string) (bool, error) {
	cid, err := cString("remove", "id", []byte(id), StatusInvalidArgument)
	if err != nil {
		return false, err
	}
	defer C.free(unsafe.Pointer(cid))
	var removed C.bool
	err = c.with("remove", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_remove_ex(h, cid, &removed, e)
	})
	return bool(removed), err
}

// Contains reports whether id is cached and the store has not expired, from
// memory.
func (c *Cache) Contains(id string) (bool, error) {
	cid, err := cString("contains", "id", []byte(id), StatusInvalidArgument)
	if err != nil {
		return false, err
	}
	defer C.free(unsafe.Pointer(cid))
	var has C.bool
	err = c.with("contains", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_contains_ex(h, cid, &has, e)
	})
	return bool(has), err
}

// IDs returns the ids in insertion order (none when the store has expired),
// from memory.
func (c *Cache) IDs() ([]string, error) {
	var out *C.char
	if err := c.with("ids", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_ids_ex(h, &out, e)
	}); err != nil {
		return nil, err
	}
	ids := []string{}
	if err := json.Unmarshal(takeString(out), &ids); err != nil {
		return nil, fmt.Errorf("assetcache: ids: %w", err)
	}
	return ids, nil
}

// AddMany adds the assets of a slice in one write, keeping every other
// asset (AddList replaces them instead). One bad element rejects the call
// and nothing is written.
func (c *Cache) AddMany(assets any) error {
	return c.write("add many", assets, func(h *C.asset_cache, s *C.char, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_add_many_ex(h, s, e)
	})
}

// AddWithKey adds one asset under key instead of its own "id" (a lookup by
// slug answered with the canonical asset).
func (c *Cache) AddWithKey(key string, asset any) error {
	ckey, err := cString("add with key", "key", []byte(key), StatusInvalidArgument)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(ckey))
	return c.write("add with key", asset, func(h *C.asset_cache, s *C.char, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_add_with_key_ex(h, ckey, s, e)
	})
}
