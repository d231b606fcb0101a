//! Logging: silent by default. A host can install one callback; the
//! environment variable `ASSET_CACHE_LOG` (error, warn, info, debug) also sends
//! messages at that level and above to stderr.

use std::io::Write;
use std::sync::RwLock;

use once_cell::sync::Lazy;

/// Severity of a log message; a lower number is more severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" | "1" => Some(Level::Error),
            "warn" | "warning" | "2" => Some(Level::Warn),
            "info" | "3" => Some(Level::Info),
            "debug" | "4" => Some(Level::Debug),
            _ => None,
        }
    }
}

/// The environment variable that turns on logging to stderr.
pub const LOG_ENV: &str = "ASSET_CACHE_LOG";

/// A log sink installed by the host: called with every message at or above
/// its level, from whichever thread runs the operation.
pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

struct Installed {
    level: Level,
    sink: Sink,
}

static STDERR_LEVEL: Lazy<Option<Level>> =
    Lazy::new(|| std::env::var(LOG_ENV).ok().and_then(|v| Level::parse(&v)));

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
