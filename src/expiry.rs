//! Expiry rules shared with the Python original: a new store lives for a TTL
//! taken from `CACHE_EXPIRY_TIME` (whole seconds), 86400 by default.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::log::{self, Level};

/// The Python original's `CACHE_DURATION`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(86_400);

/// The environment variable both implementations read.
pub const TTL_ENV: &str = "CACHE_EXPIRY_TIME";

/// Unix time now, in seconds, as Python's `time.time()`.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Whether Unix time `t` has passed, exactly as `t < now()`.
///
/// Every `get` asks this, and in a virtual machine a precise clock read was a
/// fifth of a cached `get`'s time. The kernel's coarse clock is a plain
/// memory read, and it lags the precise clock by at most one tick (a few
/// milliseconds), so it settles the question on its own except within a
/// second of `t`; only then is the precise clock read.
pub fn has_passed(t: f64) -> bool {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        let coarse = ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        if t < coarse {
            return true;
        }
        if t >= coarse + 1.0 {
            return false;
        }
    }
    t < now()
}

/// The TTL from the environment. A value that is not a whole number of
/// seconds, is negative or zero is reported and replaced by the default
/// (the Python original uses a negative or zero lifetime as is: every write
/// then vanishes at the next load).
///
/// Unlike the Python original this never removes the variable: `unsetenv`
/// races with every other thread of a C host that reads the environment.
pub fn ttl_from_env() -> Duration {
    match std::env::var(TTL_ENV) {
        Err(std::env::VarError::NotPresent) => DEFAULT_TTL,
        Err(std::env::VarError::NotUnicode(_)) => {
            log::emit(
                Level::Warn,
                &format!("{TTL_ENV} is not valid UTF-8; using the default of 86400 s"),
            );
            DEFAULT_TTL
        }
        Ok(text) => parse_ttl(&text).unwrap_or_else(|why| {
            log::emit(
                Level::Warn,
                &format!("{TTL_ENV}={text:?} {why}; using the default of 86400 s"),
            );
            DEFAULT_TTL
        }),
    }
}

/// A TTL given by the caller (`Options::ttl`, `ttl_seconds`): zero is
/// refused, since a store that expires as it is made keeps nothing (every
/// `add` would succeed and the next `get` miss).
pub fn check_ttl(ttl: Duration) -> Result<Duration> {
    if ttl.is_zero() {
        return Err(Error::invalid_argument(
            "ttl is 0 seconds: every asset would expire as it is added; \
             give a lifetime of at least 1 second",
        ));
    }
    Ok(ttl)
}

/// `CACHE_EXPIRY_TIME` as the Python original reads it, `int(text)`, which
/// must be a positive number of seconds here. Values beyond `u64::MAX`
/// seconds (Python has no limit) are taken as `u64::MAX`: never, either way.
pub fn parse_ttl(text: &str) -> Result<Duration, &'static str> {
    match python_int(text) {
        None => Err("is not an integer (as Python's int() reads it)"),
        Some((_, 0)) => Err("is 0: every asset would expire as it is added"),
        Some((true, _)) => Err("is negative"),
        Some((false, n)) => Ok(Duration::from_secs(n)),
    }
}

/// Python's limit on the digits `int()` converts (`sys.get_int_max_str_digits()`,
/// 4300 by default since Python 3.11, 3.10.7, 3.9.14, 3.8.14, 3.7.14).
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// Python's `int(text)` in base 10, as (negative, magnitude saturated at
/// `u64::MAX`), or `None` where `int()` raises ValueError. Following
/// CPython's `PyLong_FromUnicodeObject`: Unicode whitespace may surround
/// the number; a sign may lead it; its digits
/// are any Unicode decimal digits (general category Nd, Unicode 15.1, as in
/// Python 3.12 and 3.13), with single underscores allowed between two
/// digits; at most 4300 digits.
pub fn python_int(text: &str) -> Option<(bool, u64)> {
    let t = text.trim_matches(python_isspace);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut value: u64 = 0;
    let mut count = 0usize;
    let mut after_digit = false;
    for c in digits.chars() {
        if c == '_' {
            if !after_digit {
                return None;
            }
            after_digit = false;
            continue;
        }
        let d = decimal_value(c)?;
        value = value.saturating_mul(10).saturating_add(u64::from(d));
        count += 1;
        after_digit = true;
    }
    (after_digit && count <= PY_INT_MAX_STR_DIGITS).then_some((negative, value))
}

/// The whitespace `int()` strips: Unicode White_Space, which is Rust's
/// `is_whitespace`. (`str.isspace()` also counts U+001C..U+001F, but
/// `int()` refuses them: CPython leaves an all-ASCII string untransformed
/// and then strips ASCII whitespace only, and in a non-ASCII string they
/// still fail; checked with Python 3.8, 3.11 and 3.13.)
fn python_isspace(c: char) -> bool {
    c.is_whitespace()
}

/// The first code point (digit zero) of every run of ten Unicode decimal
/// digits (general category Nd), Unicode 15.1.0, as Python 3.13's
/// `unicodedata.decimal()` lists them. Nd digits always come in such runs.
const DIGIT_ZEROS: [u32; 68] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950,
    0x1FBF0,
];

fn decimal_value(c: char) -> Option<u32> {
    let cp = u32::from(c);
    if c.is_ascii() {
        return c.to_digit(10);
    }
    let i = DIGIT_ZEROS.partition_point(|&z| z <= cp).checked_sub(1)?;
    let d = cp - DIGIT_ZEROS[i];
    (d < 10).then_some(d)
}

/// The environment variable of the size cap, as the SDK's development
/// branch names it.
pub const MAX_ENTRIES_ENV: &str = "CACHE_MAX_ENTRIES";

/// The size cap from `CACHE_MAX_ENTRIES` (read as Python's `int()` reads
/// it): `None` when unset or 0 (no cap). A value that is not a whole number
/// >= 0 is reported and ignored.
pub fn max_entries_from_env() -> Option<usize> {
    let text = std::env::var(MAX_ENTRIES_ENV).ok()?;
    match python_int(&text) {
        Some((false, 0)) => None,
        Some((false, n)) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => {
            log::emit(
                Level::Warn,
                &format!("{MAX_ENTRIES_ENV}={text:?} is not a whole number >= 0; no size cap"),
            );
            None
        }
    }
}

/// The expiry of a store created now.
pub fn expiry_from(now: f64, ttl: Duration) -> f64 {
    now + ttl.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_passed_agrees_with_the_precise_clock() {
        for offset in [-1e6, -2.0, -1.0, -0.5, -0.01, 0.5, 0.999, 1.0, 1.5, 1e6] {
            let t = now() + offset;
            assert_eq!(has_passed(t), offset < 0.0, "offset {offset}");
        }
    }

    #[test]
    fn parse_ttl_accepts_what_python_int_accepts_and_refuses_zero_and_negatives() {
        let secs = |t: &str| parse_ttl(t).map(|d| d.as_secs());
        assert_eq!(secs("60"), Ok(60));
        assert_eq!(secs(" +5\n"), Ok(5));
        assert_eq!(secs("1_000"), Ok(1000));
        assert_eq!(secs("007"), Ok(7));
        assert_eq!(secs("\u{a0}\u{3000}\u{85}12\u{2028}"), Ok(12));
        assert_eq!(
            secs("\u{661}\u{662}\u{663}"),
            Ok(123),
            "Arabic-Indic digits"
        );
        assert_eq!(secs("1\u{ff10}"), Ok(10), "fullwidth digit");
        assert_eq!(secs("\u{1d7ce}\u{1d7cf}"), Ok(1), "mathematical digits");
        assert_eq!(secs("99999999999999999999999"), Ok(u64::MAX));
        assert_eq!(secs(&"9".repeat(4300)), Ok(u64::MAX));
        for bad in [
            "", " ", "-1", "0", "-0", "+0", "0_0", "1.5", "abc", "1_", "_1", "1__0", "+_1", "+ 1",
            "1 2", "--1", "0x10", "1e3", "\u{b2}", "\u{2167}", "\u{bd}", "1\u{0}", "\u{1c}1",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(
            parse_ttl(&"1".repeat(4301)).is_err(),
            "Python's 4300-digit limit"
        );
        let with_underscores = "1_".repeat(4299) + "1";
        assert_eq!(
            secs(&with_underscores),
            Ok(u64::MAX),
            "underscores do not count"
        );
    }

    #[test]
    fn every_listed_digit_run_is_ten_digits_in_order() {
        assert!(DIGIT_ZEROS.windows(2).all(|w| w[0] + 10 <= w[1]));
        for z in DIGIT_ZEROS {
            for d in 0..10 {
                let c = char::from_u32(z + d).unwrap();
                assert_eq!(decimal_value(c), Some(d), "{c:?}");
                assert!(c.is_numeric(), "{c:?} is Nd");
            }
        }
    }

    #[test]
    fn a_zero_ttl_is_refused() {
        let e = check_ttl(Duration::ZERO).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::InvalidArgument);
        assert!(e.message().contains("ttl is 0"), "{e}");
        assert_eq!(check_ttl(Duration::from_secs(1)).unwrap().as_secs(), 1);
    }
}
