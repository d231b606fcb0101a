//! Logging: silent by default. A host can install one callback; the
//! environment variable `ASSET_CACHE_LOG` (error, warn, info, debug) also sends
//! messages at that level and above to stderr.

use std::io::Write;
use std::sync::RwLock;

use once_cell::sync::Lazy;

macro_rules! log_levels {
    (
        $(#[doc = $enum_doc:literal])*
        enum $c_enum:ident {
            $( $(#[doc = $doc:literal])* $level:ident = $value:literal, $c_name:ident, [$name:literal $(, $alias:literal)*]; )*
        }
    ) => {
        /// Severity of a log message; a lower number is more severe. The
        /// numbers are the C ABI's `asset_cache_log_level` (the table is
        /// `src/log_levels.rs`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Level {
            $( $(#[doc = $doc])* $level = $value, )*
        }

        impl Level {
            /// Every level, most severe first.
            pub const ALL: &'static [Level] = &[$(Level::$level),*];

            /// The level's name as printed and as `ASSET_CACHE_LOG` accepts it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Level::$level => $name,)*
                }
            }

            /// The level with this number (1 error .. 4 debug), if any.
            pub fn from_number(number: i64) -> Option<Level> {
                match number {
                    $($value => Some(Level::$level),)*
                    _ => None,
                }
            }

            /// A name (any case, or an alias such as "warning") or a number.
            fn parse(text: &str) -> Option<Level> {
                let text = text.trim().to_ascii_lowercase();
                match text.as_str() {
                    $($name $(| $alias)* => Some(Level::$level),)*
                    _ => text.parse().ok().and_then(Level::from_number),
                }
            }
        }
    };
}
include!("log_levels.rs");

/// The environment variable that turns on logging to stderr.
pub const LOG_ENV: &str = "ASSET_CACHE_LOG";

/// A log sink installed by the host: called with every message at or above
/// its level, from whichever thread runs the operation.
pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

struct Installed {
    level: Level,
    sink: Sink,
}

static STDERR_LEVEL: Lazy<Option<Level>> = Lazy::new(|| {
    let value = std::env::var(LOG_ENV).ok()?;
    let level = Level::parse(&value);
    // A misspelt level would otherwise leave the user wondering why nothing
    // is logged. Said once per process (this runs once), on stderr, where
    // the user was looking. An empty value means off, quietly.
    if level.is_none() && !value.trim().is_empty() {
        let names: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
        let _ = writeln!(
            std::io::stderr().lock(),
            "asset_cache warn: {LOG_ENV}={value:?} is not a log level ({}, or 1-{}); logging to stderr stays off",
            names.join(", "),
            Level::ALL.len()
        );
    }
    level
});

/// Reads `ASSET_CACHE_LOG` now (at open) rather than at the first message,
/// so that a value that is not a level is reported even when nothing logs.
pub fn read_env() {
    Lazy::force(&STDERR_LEVEL);
}

static SINK: RwLock<Option<Installed>> = RwLock::new(None);

/// Installs (or with `None`, removes) the host's sink.
pub fn set_sink(level: Level, sink: Option<Sink>) {
    let mut slot = SINK.write().unwrap_or_else(|e| e.into_inner());
    *slot = sink.map(|sink| Installed { level, sink });
}

/// Sends one message to whoever listens at `level`.
pub fn emit(level: Level, message: &str) {
    if let Some(max) = *STDERR_LEVEL {
        if level <= max {
            let _ = writeln!(
                std::io::stderr().lock(),
                "asset_cache {}: {}",
                level.name(),
                message
            );
        }
    }
    let slot = SINK.read().unwrap_or_else(|e| e.into_inner());
    if let Some(installed) = slot.as_ref() {
        if level <= installed.level {
            (installed.sink)(level, message);
        }
    }
}

pub fn warn(message: &str) {
    emit(Level::Warn, message);
}

pub fn info(message: &str) {
    emit(Level::Info, message);
}

pub fn error(message: &str) {
    emit(Level::Error, message);
}
