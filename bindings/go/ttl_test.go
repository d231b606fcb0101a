package assetcache

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// Issue 10 item 1: a lifetime of 0 expired every asset as it was added (Add
// OK, then Get NOT_FOUND); it is refused at Open. CACHE_EXPIRY_TIME is read
// as the Python original's int() reads it; 0 or a negative value gives the
// default. Checked to fail before the fix: WithTTL(0) opened, and "1_000",
// Arabic-Indic digits and a no-break space gave 86400 (old parser), "0" gave
// a lifetime of 0.
func TestZeroTTLIsRefused(t *testing.T) {
	_, err := Open("zero", WithDir(t.TempDir()), WithTTL(0))
	var e *Error
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) || !strings.Contains(e.Message, "ttl is 0") {
		t.Fatalf("WithTTL(0): %v; want ErrInvalidArgument naming the ttl", err)
	}
}

func TestExpiryTimeFromEnvironmentAsPythonIntReadsIt(t *testing.T) {
	for _, row := range []struct {
		text string
		ttl  float64
	}{
		{"60", 60},
		{" +5\n", 5},
		{"1_000", 1000},
		{"\u0661\u0662", 12},
		{"\u00a07\u3000", 7},
		{"0", 86400},
		{"-5", 86400},
		{"1__0", 86400},
		{"1.5", 86400},
	} {
		t.Setenv("CACHE_EXPIRY_TIME", row.text)
		before := time.Now()
		c := open(t, t.TempDir(), "env")
		exp, err := c.Expiry()
		if err != nil {
			t.Fatal(err)
		}
		if got := exp.Sub(before).Seconds(); math.Abs(got-row.ttl) > 2 {
			t.Errorf("CACHE_EXPIRY_TIME=%q: lifetime %.1f s, want %.0f", row.text, got, row.ttl)
		}
	}
}

// The rule of every binding (Node's ttlSeconds, Python's ttl_seconds): whole
// seconds, a fraction rounded up, zero or negative refused. Checked to fail:
// truncating in WithTTL (int64(ttl / time.Second)) refuses 500ms as "ttl is 0"
// and gives 1500ms a lifetime of 1 s.
func TestFractionalTTLIsRoundedUp(t *testing.T) {
	dir := t.TempDir()
	for i, row := range []struct {
		ttl   time.Duration
		whole float64
	}{{500 * time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {59*time.Second + 10*time.Millisecond, 60}} {
		c := open(t, dir, "frac"+string(rune('a'+i)), WithTTL(row.ttl))
		before := float64(time.Now().UnixNano()) / 1e9
		if err := c.Invalidate(); err != nil { // a fresh expiry: now + ttl
			t.Fatal(err)
		}
		exp, err := c.Expiry()
		if err != nil {
			t.Fatal(err)
		}
		left := float64(exp.UnixNano())/1e9 - before
		if math.Abs(left-row.whole) > 0.5 {
			t.Errorf("WithTTL(%v): %.2f s left, want %v", row.ttl, left, row.whole)
		}
	}
	for _, ttl := range []time.Duration{-time.Second, -time.Millisecond} {
		if _, err := Open("neg", WithDir(dir), WithTTL(ttl)); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("WithTTL(%v): %v, want ErrInvalidArgument", ttl, err)
		}
	}
}
