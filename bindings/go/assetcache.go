// Package assetcache is the Go binding of asset_cache, a persistent,
// expiring, multi-process-safe cache of JSON assets keyed by their "id".
//
// A Cache is one open cache file, <dir>/<name>.json, shared safely with other
// Cache values and other processes through <dir>/<name>.lock:
//
//	c, err := assetcache.Open("models", assetcache.WithDir("/var/cache/app"))
//	if err != nil { ... }
//	defer c.Close()
//	err = c.Add(Model{ID: "m1", Name: "GPT"})   // any value encoding/json accepts
//	m, err := assetcache.GetAs[Model](c, "m1") // or c.Get("m1") for the raw JSON
//	if errors.Is(err, assetcache.ErrNotFound) { ... }
//
// Every method is safe to call from many goroutines at once, Close included:
// a method that runs after Close returns an error wrapping ErrClosed.
//
// Strings must be valid UTF-8: an id, a name, a folder or JSON text that is
// not, or a value holding such a string (which encoding/json would silently
// turn into U+FFFD), fails with ErrInvalidUTF8 and a message saying where.
//
// Every error is an *Error carrying the Status and the
// library's message; errors.Is matches them against the sentinels ErrNotFound,
// ErrInvalidJSON, ErrLockTimeout, and so on.
//
// Linking: by default the package links an installed library found through
// pkg-config (the Debian package libasset-cache-dev, or scripts/install.sh),
// loaded at run time by its soname. Build with `-tags asset_cache_inrepo` to
// link the library built in this repository by `cargo build --release`
// instead (for working on the binding; such a program loads the library from
// the checkout).
package assetcache

/*
#include <stdlib.h>
#include <string.h>
#include "asset_cache.h"
*/
import "C"

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Status is the library's result code for a failed call.
type Status int

// Every status the library returns. The numbers are the C ABI's and never change.
const (
	StatusOK              Status = C.ASSET_CACHE_OK
	StatusNotFound        Status = C.ASSET_CACHE_NOT_FOUND
	StatusInvalidArgument Status = C.ASSET_CACHE_INVALID_ARGUMENT
	StatusInvalidUTF8     Status = C.ASSET_CACHE_INVALID_UTF8
	StatusInvalidJSON     Status = C.ASSET_CACHE_INVALID_JSON
	StatusMissingID       Status = C.ASSET_CACHE_MISSING_ID
	StatusIO              Status = C.ASSET_CACHE_IO
	StatusLock            Status = C.ASSET_CACHE_LOCK
	StatusLockTimeout     Status = C.ASSET_CACHE_LOCK_TIMEOUT
	StatusNoMemory        Status = C.ASSET_CACHE_NO_MEMORY
	StatusPanic           Status = C.ASSET_CACHE_PANIC
	// The Redis backend: the server cannot be reached (a later call may
	// succeed), or it refused the operation.
	StatusBackendUnavailable Status = C.ASSET_CACHE_BACKEND_UNAVAILABLE
	StatusBackendError       Status = C.ASSET_CACHE_BACKEND_ERROR
	// StatusFetchFailed: GetOrFetch/RefreshAll's fetch failed and no stale
	// value stood in for it (library 0.2).
	StatusFetchFailed Status = C.ASSET_CACHE_FETCH_FAILED
	// StatusStale: the fetch failed within the stale-if-error grace period,
	// and the expired value was returned (library 0.2).
	StatusStale Status = C.ASSET_CACHE_STALE
)

// String is the library's description of the status, e.g. "not found".
func (s Status) String() string {
	// Static storage inside the library: copied, never freed.
	return C.GoString(C.asset_cache_status_str(C.int(s)))
}

// Error is every failure of this package: one reported by the library, one
// caught before calling it (a NUL byte inside a string), a value
// encoding/json cannot encode or decode (StatusInvalidJSON, the json error
// in Err), and a call after Close (StatusInvalidArgument, as the C API
// answers a freed handle, with ErrClosed in Err).
type Error struct {
	Op      string // the method that failed, e.g. "add"
	Status  Status
	Message string // the library's explanation; empty only in the sentinels
	Err     error  // the underlying Go error (ErrClosed, encoding/json's), or nil
}

// Unwrap returns Err, so errors.Is(err, ErrClosed) and errors.As with
// encoding/json's error types see through an *Error.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	if e.Op == "" {
		return "assetcache: " + e.Status.String()
	}
	if e.Message == "" {
		return "assetcache: " + e.Op + ": " + e.Status.String()
	}
	return "assetcache: " + e.Op + ": " + e.Message
}

// Is makes errors.Is(err, ErrX) true for every *Error whose status is X's.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Message == "" && t.Status == e.Status
}

// Sentinels for errors.Is, one for each failure status.
var (
	ErrNotFound           error = &Error{Status: StatusNotFound}
	ErrInvalidArgument    error = &Error{Status: StatusInvalidArgument}
	ErrInvalidUTF8        error = &Error{Status: StatusInvalidUTF8}
	ErrInvalidJSON        error = &Error{Status: StatusInvalidJSON}
	ErrMissingID          error = &Error{Status: StatusMissingID}
	ErrIO                 error = &Error{Status: StatusIO}
	ErrLock               error = &Error{Status: StatusLock}
	ErrLockTimeout        error = &Error{Status: StatusLockTimeout}
	ErrNoMemory           error = &Error{Status: StatusNoMemory}
	ErrPanic              error = &Error{Status: StatusPanic}
	ErrBackendUnavailable error = &Error{Status: StatusBackendUnavailable}
	ErrBackendError       error = &Error{Status: StatusBackendError}
	ErrFetchFailed        error = &Error{Status: StatusFetchFailed}
	ErrStale              error = &Error{Status: StatusStale}
)

// ErrClosed is wrapped (as Err of an *Error with StatusInvalidArgument) by
// the error of any method called after Close.
var ErrClosed = errors.New("assetcache: cache is closed")

func closedError(op string) error {
	return &Error{Op: op, Status: StatusInvalidArgument, Message: "cache is closed", Err: ErrClosed}
}

// Version is the version of the loaded library, e.g. "0.2.0".
func Version() string {
	return C.GoString(C.asset_cache_version())
}

// DefaultLockTimeout is the library's lock timeout when WithLockTimeout is
// not given: ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS of the C header.
const DefaultLockTimeout = time.Duration(C.ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS) * time.Millisecond

// call runs one library call through an entry point that hands its failure
// out as an error object (asset_cache_error), which, unlike the library's
// per-thread last error, can be read on whatever thread the goroutine is on
// afterwards: no need to pin the goroutine to its thread.
func call(op string, f func(err **C.asset_cache_error) C.asset_cache_status) error {
	var cerr *C.asset_cache_error
	st := f(&cerr)
	if st == C.ASSET_CACHE_OK {
		return nil
	}
	defer C.asset_cache_error_free(cerr)
	// The message belongs to the error object: copied before it is freed.
	return &Error{Op: op, Status: Status(st), Message: C.GoString(C.asset_cache_error_message(cerr))}
}

// takeString copies a string the library returned and frees the original.
func takeString(p *C.char) []byte {
	defer C.asset_cache_string_free(p)
	n := C.strlen(p)
	out := make([]byte, int(n))
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	return out
}

// cString copies s into C memory (free it with C.free). C strings end at the
// first NUL, so a NUL inside would silently cut the text: refuse it instead.
// Text that is not valid UTF-8 is refused too, with StatusInvalidUTF8 (the
// library would refuse it as well; here the message names the Go argument).
func cString(op, what string, s []byte, st Status) (*C.char, error) {
	if bytes.IndexByte(s, 0) >= 0 {
		return nil, &Error{Op: op, Status: st, Message: what + " contains a NUL byte"}
	}
	if !utf8.Valid(s) {
		return nil, &Error{Op: op, Status: StatusInvalidUTF8, Message: fmt.Sprintf(
			"%s is not valid UTF-8 (bad byte at offset %d)", what, validPrefix(s))}
	}
	p := (*C.char)(C.malloc(C.size_t(len(s) + 1)))
	buf := unsafe.Slice((*byte)(unsafe.Pointer(p)), len(s)+1)
	copy(buf, s)
	buf[len(s)] = 0
	return p, nil
}

// validPrefix is the length of the longest valid UTF-8 prefix of s.
func validPrefix(s []byte) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRune(s[n:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		n += size
	}
	return n
}

// invalidUTF8 finds a string in v that is not valid UTF-8, which
// encoding/json would silently replace by U+FFFD (so an id "a\xff" would be
// stored as "a\uFFFD"), and returns where it is, path extended, e.g.
// `value.ID` or `value[1]["id"]`; "" when there is none. It follows what encoding/json encodes: exported
// fields not tagged "-", map keys and values, slices, arrays, pointers and
// interfaces; values with their own MarshalJSON or MarshalText are left to
// the library, which checks the UTF-8 of what they produce.
func invalidUTF8(v reflect.Value, path string, depth int) string {
	if !v.IsValid() || depth > 100 {
		return ""
	}
	if v.Type().Implements(marshalerType) || v.Type().Implements(textMarshalerType) {
		return ""
	}
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return path
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return invalidUTF8(v.Elem(), path, depth+1)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // []byte: encoded as base64
		}
		for i := 0; i < v.Len(); i++ {
			if p := invalidUTF8(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1); p != "" {
				return p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			if k.Kind() == reflect.String && !utf8.ValidString(k.String()) {
				return fmt.Sprintf("%s[%q] (a key)", path, k.String())
			}
			if p := invalidUTF8(iter.Value(), fmt.Sprintf("%s[%q]", path, fmt.Sprint(k.Interface())), depth+1); p != "" {
				return p
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous || f.Tag.Get("json") == "-" {
				continue
			}
			if p := invalidUTF8(v.Field(i), path+"."+f.Name, depth+1); p != "" {
				return p
			}
		}
	}
	return ""
}

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

type config struct {
	dir            *string
	ttlSeconds     *int64
	lockTimeout    *int64 // milliseconds; negative waits forever
	durable        bool
	fileMode       *uint32
	dirMode        *uint32
	backendURL     *string
	backendTimeout *int64 // milliseconds
	// Set only when given: nil leaves the library's default.
	staleIfError *int64 // milliseconds
	maxEntries   *uint64
	maxStaleness *int64 // milliseconds
	err          error
}

// unixMode turns an os.FileMode into the permission and set-id bits of
// chmod(2) (os.FileMode keeps set-id and sticky bits elsewhere).
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// WithFileMode sets the mode of a cache file or lock file the library
// creates (default 0600: the owner's only), e.g. 0660 for a cache shared by
// a group. Applied exactly, whatever the umask. A rewrite keeps the mode of
// the file it replaces (and its owner and group where permitted). It must
// give the owner read and write; else Open fails with ErrInvalidArgument.
func WithFileMode(mode os.FileMode) Option {
	return func(c *config) { m := unixMode(mode); c.fileMode = &m }
}

// WithDirMode sets the mode of each folder the library creates (default
// 0700), e.g. 0770|os.ModeSetgid for a folder shared by a group. Existing
// folders are never changed. It must give the owner read, write and search;
// else Open fails with ErrInvalidArgument.
func WithDirMode(mode os.FileMode) Option {
	return func(c *config) { m := unixMode(mode); c.dirMode = &m }
}

// ceilDiv is d/unit rounded up, without the overflow of (d+unit-1)/unit.
func ceilDiv(d, unit time.Duration) int64 {
	n := int64(d / unit)
	if d%unit != 0 {
		n++
	}
	return n
}

// Option configures Open.
type Option func(*config)

// WithDir sets the folder of the cache and lock files (default ".cache" in
// the current directory). It is created on the first write.
func WithDir(dir string) Option {
	return func(c *config) { c.dir = &dir }
}

// WithTTL sets the lifetime of a new store, rounded up to whole seconds.
// Without it the library reads CACHE_EXPIRY_TIME (seconds, as Python's int()
// reads it) or uses 24 hours. A ttl of 0 (every asset would expire as it is
// added) or a negative one makes Open fail with ErrInvalidArgument.
func WithTTL(ttl time.Duration) Option {
	return func(c *config) {
		if ttl < 0 {
			c.err = &Error{Op: "open", Status: StatusInvalidArgument, Message: fmt.Sprintf("negative ttl %v", ttl)}
			return
		}
		n := ceilDiv(ttl, time.Second)
		c.ttlSeconds = &n
	}
}

// WithLockTimeout sets the longest wait for another process's lock (default
// DefaultLockTimeout), rounded up to milliseconds; after it a call fails
// with ErrLockTimeout. Zero tries once; a negative timeout waits forever.
func WithLockTimeout(timeout time.Duration) Option {
	return func(c *config) {
		n := int64(-1)
		if timeout >= 0 {
			n = ceilDiv(timeout, time.Millisecond)
		}
		c.lockTimeout = &n
	}
}

// WithDurable makes every write reach stable storage (fsync) before the
// call returns, so it survives power loss, not only a crash of the process.
func WithDurable(durable bool) Option {
	return func(c *config) { c.durable = durable }
}

// WithStaleIfError sets the stale-if-error grace period, rounded up to
// milliseconds: for that long after the store's expiry, a GetOrFetch or
// RefreshAll whose fetch fails returns the expired value with an error
// matching ErrStale. Zero or negative (the default): never.
func WithStaleIfError(grace time.Duration) Option {
	return func(c *config) {
		ms := ceilDiv(grace, time.Millisecond)
		c.staleIfError = &ms
	}
}

// WithMaxEntries caps the cache at the n most recently written assets;
// older ones are dropped at the next write. 0: no cap. Without it the
// library reads CACHE_MAX_ENTRIES at open, and has no cap when it is unset.
func WithMaxEntries(n uint) Option {
	return func(c *config) {
		v := uint64(n)
		c.maxEntries = &v
	}
}

// WithMaxStaleness bounds how far reads (Get, GetAll, Contains, ...) may lag
// behind other processes' writes without Load: one stat of the file at most
// once per bound, a load only when it changed. Negative: reads see memory
// only (the default).
func WithMaxStaleness(bound time.Duration) Option {
	return func(c *config) {
		ms := int64(-1)
		if bound >= 0 {
			ms = ceilDiv(bound, time.Millisecond)
		}
		c.maxStaleness = &ms
	}
}

// WithBackendURL keeps the cache on a Redis server (7.0 or later, or
// Valkey) instead of in the folder, so that processes on many hosts share
// it: "redis://[user:password@]host[:port][/db]",
// "rediss://...?ssl_ca_certs=/path/ca.pem" (TLS; without ssl_ca_certs the
// system's trust store is used) or "redis+unix:///path/to.sock". Every
// method behaves as with files; GetOrFetch and RefreshAll fetch once across
// every host on the server. Calls then fail with ErrBackendUnavailable
// (server unreachable, no answer within the backend timeout) or
// ErrBackendError (credentials refused, a key of another type at the
// cache's key names, a TLS certificate not trusted); a URL that does not
// parse, or a CA file that cannot be read, makes Open fail with
// ErrInvalidArgument.
func WithBackendURL(url string) Option {
	return func(c *config) { c.backendURL = &url }
}

// WithBackendTimeout bounds each wait for the backend server's answer
// (connecting included), rounded up to whole milliseconds; 5 s by default.
// On Redis it also sizes a GetOrFetch claim's lease (twice it, at least
// 1 s, renewed while the fetch runs): a fetcher that dies is taken over that
// long after. Zero or negative makes Open fail with ErrInvalidArgument.
func WithBackendTimeout(timeout time.Duration) Option {
	return func(c *config) {
		if timeout <= 0 {
			c.err = &Error{Op: "open", Status: StatusInvalidArgument, Message: fmt.Sprintf("backend timeout must be positive, got %v", timeout)}
			return
		}
		n := ceilDiv(timeout, time.Millisecond)
		c.backendTimeout = &n
	}
}

// Cache is an open cache. Close it when done; a finalizer closes a Cache
// that is garbage collected while still open, as a safety net only.
type Cache struct {
	// mu guards handle: methods share it for reading (the library allows
	// concurrent calls on one handle), Close takes it exclusively.
	mu     sync.RWMutex
	handle *C.asset_cache
	// lockTimeout bounds GetOrFetch's wait for another fetch (negative: none).
	lockTimeout time.Duration
}

// Open opens the cache name (files <dir>/<name>.json and <dir>/<name>.lock)
// and loads its file if there is one. Opening never creates files.
func Open(name string, opts ...Option) (*Cache, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	cname, err := cString("open", "name", []byte(name), StatusInvalidArgument)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cname))
	var cdir *C.char
	if cfg.dir != nil {
		if cdir, err = cString("open", "dir", []byte(*cfg.dir), StatusInvalidArgument); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cdir))
	}

	// The options object (asset_cache_config): a setter that fails is
	// reported again, with its message, by asset_cache_open_config, so
	// only the open's error needs reading. Options not given keep the
	// library's defaults.
	var copts *C.asset_cache_config
	if err := call("open", func(**C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_config_new(&copts)
	}); err != nil {
		return nil, err
	}
	defer C.asset_cache_config_free(copts)
	C.asset_cache_config_set_name(copts, cname)
	if cdir != nil {
		C.asset_cache_config_set_dir(copts, cdir)
	}
	if cfg.ttlSeconds != nil {
		C.asset_cache_config_set_ttl_seconds(copts, C.int64_t(*cfg.ttlSeconds))
	}
	if cfg.lockTimeout != nil {
		C.asset_cache_config_set_lock_timeout_ms(copts, C.int64_t(*cfg.lockTimeout))
	}
	C.asset_cache_config_set_durable(copts, C.bool(cfg.durable))
	if cfg.fileMode != nil {
		C.asset_cache_config_set_file_mode(copts, C.uint32_t(*cfg.fileMode))
	}
	if cfg.dirMode != nil {
		C.asset_cache_config_set_dir_mode(copts, C.uint32_t(*cfg.dirMode))
	}
	if cfg.backendURL != nil {
		curl, err := cString("open", "backend URL", []byte(*cfg.backendURL), StatusInvalidArgument)
		if err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(curl))
		C.asset_cache_config_set_backend_url(copts, curl)
	}
	if cfg.backendTimeout != nil {
		C.asset_cache_config_set_backend_timeout_ms(copts, C.int64_t(*cfg.backendTimeout))
	}
	if cfg.staleIfError != nil {
		C.asset_cache_config_set_stale_if_error_ms(copts, C.int64_t(*cfg.staleIfError))
	}
	if cfg.maxEntries != nil {
		C.asset_cache_config_set_max_entries(copts, C.size_t(*cfg.maxEntries))
	}
	if cfg.maxStaleness != nil {
		C.asset_cache_config_set_max_staleness_ms(copts, C.int64_t(*cfg.maxStaleness))
	}

	var h *C.asset_cache
	if err := call("open", func(cerr **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_open_config(copts, &h, cerr)
	}); err != nil {
		return nil, err
	}
	wait := DefaultLockTimeout
	if cfg.lockTimeout != nil {
		wait = time.Duration(*cfg.lockTimeout) * time.Millisecond
	}
	c := &Cache{handle: h, lockTimeout: wait}
	runtime.SetFinalizer(c, (*Cache).Close)
	return c, nil
}

// Close frees the handle; the files stay. It is idempotent and safe to call
// concurrently with other methods, which then fail with ErrClosed.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		C.asset_cache_free(c.handle)
		c.handle = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// with runs f on the live handle, or fails with ErrClosed.
func (c *Cache) with(op string, f func(h *C.asset_cache, err **C.asset_cache_error) C.asset_cache_status) error {
	if c == nil {
		return closedError(op)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return closedError(op)
	}
	err := call(op, func(cerr **C.asset_cache_error) C.asset_cache_status { return f(c.handle, cerr) })
	// The finalizer must not free the handle while the library still uses it.
	runtime.KeepAlive(c)
	return err
}

// Get returns the JSON text of the asset with this id, from memory (call
// Load first to see other processes' writes). A missing id, or an expired
// store, gives an error matching ErrNotFound.
func (c *Cache) Get(id string) ([]byte, error) {
	cid, err := cString("get", "id", []byte(id), StatusInvalidArgument)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cid))
	var out *C.char
	if err := c.with("get", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_get_ex(h, cid, &out, e)
	}); err != nil {
		return nil, err
	}
	return takeString(out), nil
}

// GetAs returns the asset with this id decoded into a T with encoding/json.
func GetAs[T any](c *Cache, id string) (T, error) {
	var v T
	b, err := c.Get(id)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, &Error{Op: "get", Status: StatusInvalidJSON, Message: fmt.Sprintf("cannot decode %q: %v", id, err), Err: err}
	}
	return v, nil
}

// GetAll returns every asset's JSON text, in insertion order (empty when the
// store is empty or expired).
func (c *Cache) GetAll() ([]json.RawMessage, error) {
	var out *C.char
	if err := c.with("get all", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_get_all_ex(h, &out, e)
	}); err != nil {
		return nil, err
	}
	all := []json.RawMessage{}
	if err := json.Unmarshal(takeString(out), &all); err != nil {
		return nil, &Error{Op: "get all", Status: StatusInvalidJSON, Message: err.Error(), Err: err}
	}
	return all, nil
}

// GetAllAs returns every asset decoded into a T, in insertion order.
func GetAllAs[T any](c *Cache) ([]T, error) {
	all, err := c.GetAll()
	if err != nil {
		return nil, err
	}
	out := make([]T, len(all))
	for i, raw := range all {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, &Error{Op: "get all", Status: StatusInvalidJSON, Message: fmt.Sprintf("cannot decode asset %d: %v", i, err), Err: err}
		}
	}
	return out, nil
}

// encode turns a value into JSON text: json.RawMessage and []byte are taken
// as JSON text already (the library validates it); anything else goes
// through json.Marshal, after checking that no string in it is invalid
// UTF-8 (json.Marshal would silently change it to U+FFFD).
func encode(op string, v any) ([]byte, error) {
	switch raw := v.(type) {
	case json.RawMessage:
		return raw, nil
	case []byte:
		return raw, nil
	}
	if p := invalidUTF8(reflect.ValueOf(v), "value", 0); p != "" {
		return nil, &Error{Op: op, Status: StatusInvalidUTF8, Message: fmt.Sprintf(
			"the string at %s is not valid UTF-8 (encoding/json would replace it by U+FFFD)", p)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Op: op, Status: StatusInvalidJSON, Message: "cannot encode the value as JSON: " + err.Error(), Err: err}
	}
	return b, nil
}

// Add adds or replaces one asset: a value that encodes to a JSON object with
// a non-empty string "id". It is on disk when Add returns, merged with what
// other processes wrote meanwhile.
func (c *Cache) Add(asset any) error {
	return c.write("add", asset, func(h *C.asset_cache, s *C.char, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_add_ex(h, s, e)
	})
}

// AddList replaces the whole cache with a list of assets (a slice, or JSON
// text of an array) and starts a fresh expiry. One bad element rejects the
// whole call; the error's message names its index.
func (c *Cache) AddList(assets any) error {
	return c.write("add list", assets, func(h *C.asset_cache, s *C.char, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_add_list_ex(h, s, e)
	})
}

func (c *Cache) write(op string, v any, f func(*C.asset_cache, *C.char, **C.asset_cache_error) C.asset_cache_status) error {
	b, err := encode(op, v)
	if err != nil {
		return err
	}
	s, err := cString(op, "JSON text", b, StatusInvalidJSON)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(s))
	return c.with(op, func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status { return f(h, s, e) })
}

// Load brings memory up to date with the file, to see other processes' writes.
func (c *Cache) Load() error {
	return c.with("load", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_load_ex(h, e)
	})
}

// Save rewrites the file from memory (compacting it); every Add is already on disk.
func (c *Cache) Save() error {
	return c.with("save", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_save_ex(h, e)
	})
}

// Invalidate empties the cache, starts a fresh expiry and deletes the cache file.
func (c *Cache) Invalidate() error {
	return c.with("invalidate", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_invalidate_ex(h, e)
	})
}

// HasValidCache reports whether the store has not expired and holds at least one asset.
func (c *Cache) HasValidCache() (bool, error) {
	var v C.bool
	err := c.with("has valid cache", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_has_valid_cache_ex(h, &v, e)
	})
	return bool(v), err
}

// Expiry returns when the store expires.
func (c *Cache) Expiry() (time.Time, error) {
	var v C.double
	if err := c.with("expiry", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_expiry_ex(h, &v, e)
	}); err != nil {
		return time.Time{}, err
	}
	sec, frac := math.Modf(float64(v))
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// Len returns the number of assets in memory.
func (c *Cache) Len() (int, error) {
	var n C.size_t
	err := c.with("len", func(h *C.asset_cache, e **C.asset_cache_error) C.asset_cache_status {
		return C.asset_cache_len_ex(h, &n, e)
	})
	return int(n), err
}
