// The one table of log levels: each row gives a level its Rust name, its
// number (the C value, and what ASSET_CACHE_LOG accepts besides the names),
// its C name and the names ASSET_CACHE_LOG accepts (the first is the one
// printed). Included by src/log.rs (the Rust `Level`), src/ffi/log.rs (the C
// enum `asset_cache_log_level` and the mapping between the two) and build.rs
// (the C enum in the header). A lower number is more severe; never renumber.
log_levels! {
    /// Severity of a log message; a lower number is more severe.
    enum asset_cache_log_level {
        /// An operation failed.
        Error = 1, ASSET_CACHE_LOG_ERROR, ["error"];
        /// Something was repaired or set aside: a corrupt file kept aside, a torn
        /// add dropped, a bad CACHE_EXPIRY_TIME ignored, stale temporary files removed.
        Warn = 2, ASSET_CACHE_LOG_WARN, ["warn", "warning"];
        /// Notable events: a file expired, a cache invalidated.
        Info = 3, ASSET_CACHE_LOG_INFO, ["info"];
        /// Details for debugging.
        Debug = 4, ASSET_CACHE_LOG_DEBUG, ["debug"];
    }
}
