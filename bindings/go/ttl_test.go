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
