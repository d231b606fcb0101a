//! Expiry rules shared with the Python original: a new store lives for a TTL
//! taken from `CACHE_EXPIRY_TIME` (whole seconds), 86400 by default.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The TTL from the environment. An unparsable or negative value is reported
/// and replaced by the default.
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
        Ok(text) => parse_ttl(&text).unwrap_or_else(|| {
            log::emit(
                Level::Warn,
                &format!("{TTL_ENV}={text:?} is not a whole number of seconds >= 0; using the default of 86400 s"),
            );
            DEFAULT_TTL
        }),
    }
}

/// Whole seconds, as Python's `int()` takes them: surrounding whitespace and a
/// `+` sign allowed. Negative values are refused.
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>().ok().map(Duration::from_secs)
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
    fn parse_ttl_accepts_what_python_int_accepts_and_refuses_negatives() {
        assert_eq!(parse_ttl("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_ttl(" +5\n"), Some(Duration::from_secs(5)));
        assert_eq!(parse_ttl("0"), Some(Duration::ZERO));
        assert_eq!(parse_ttl("-1"), None);
        assert_eq!(parse_ttl("1.5"), None);
        assert_eq!(parse_ttl("abc"), None);
        assert_eq!(parse_ttl(""), None);
        assert_eq!(parse_ttl("99999999999999999999999"), None);
    }
}
