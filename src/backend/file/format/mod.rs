//! The cache file's bytes: rendering, parsing, the header's rev, repair.
//! Pure functions of bytes, no I/O: the fuzz targets call them directly.
//!
//! The file is what the Python original reads and writes,
//! `{"expiry": <unix seconds>, "data": {<id>: <asset>, ...}}`, laid out so
//! that one asset can be added without rewriting the others:
//!
//! ```text
//! {"expiry":1764086400.5,"asset_cache_rev":"<32 hex digits>","data":{
//! "m1":{"id":"m1",...}
//! ,"m2":{"id":"m2",...}
//! }}
//! ```
//!
//! * A whole new file ([`render`](fn@render)) gets a new random `asset_cache_rev`
//!   ([`new_rev`]) and, between its records and the closing `}}`, a
//!   *reservoir* of spaces ([`reservoir_len`]: an eighth of the records'
//!   bytes, at least a page) ending in a newline.
//! * One asset is added by writing its record line,
//!   `,"id":{...}\n` ([`render_record`]), over the reservoir's spaces, right
//!   after the last record, or at the next page boundary (4 KiB, `PAGE`) when it
//!   would straddle one ([`place_record`]). The closing `}}` never moves, and
//!   the record lands in one write inside one page, which a SIGKILL cannot
//!   cut short: at every instant the file is complete JSON that the Python
//!   original can `json.load` (issue 15). A record that cannot be written
//!   that way (longer than a page, or the reservoir is used up) is added by
//!   rendering the whole file anew instead. JSON objects are last-wins on
//!   duplicate keys in Python's json and here, so re-adding an id writes a
//!   newer record.
//!
//! ```text
//! {"expiry":1764086400.5,"asset_cache_rev":"<32 hex digits>","data":{
//! "m1":{"id":"m1",...}
//! ,"m2":{"id":"m2",...}
//!                 ,"m3":{"id":"m3",...}      <- placed at a page boundary
//! <the reservoir's remaining spaces>
//! }}
//! ```
//!
//! Records only replace spaces and keep the rev; every other change makes a
//! new file with a new rev, and Python's in-place rewrite drops the rev
//! ([`header_rev`] finds none). So a reader that finds the rev and size it
//! knows only has to look after the last record it read for new ones
//! ([`records_since`], [`parse_new_records`]).
//!
//! Files written by version 0.1 of this library end their last record with
//! `}}` directly and grow by overwriting it; an append of theirs cut short by
//! a crash leaves a torn last line, and [`repair`] keeps the complete records
//! before it, which is exactly the file before (or after) the interrupted
//! add.

//!
//! A file in another layout (the Python original's `indent=4` one, which
//! its every save rewrites whole) is read through [`compact`], which drops
//! the whitespace between tokens as the file streams in, so that its assets
//! are kept compact in one buffer ([`parse_compacted`]); our next add
//! splices its record in after the other writer's last one instead of
//! rewriting the file, which makes it *hybrid*: the rev moves to the
//! closing, and later records go into a reservoir as above (see
//! [`splice`](mod@splice)).
//!
//! Rooms: `parse.rs` (whole files, new records, repair), `render.rs` (whole
//! files, one record), `de.rs` (serde for the top level and "data"),
//! `compact.rs` (whitespace removal), `splice.rs` (the hybrid layout); the
//! layout's constants, the reservoir, where a record goes and the header's
//! rev are here.

pub mod compact;
mod de;
#[cfg(test)]
mod foreign_tests;
mod parse;
mod render;
pub mod splice;
#[cfg(test)]
mod tests;

pub use parse::{
    parse, parse_compacted, parse_foreign, parse_lines, parse_new_records, repair, Layout, Parsed,
    Unreadable,
};
pub use render::{record_len, render, render_file, render_record, render_with_kept, Rendered};
pub use splice::{hybrid_tail, page_start, splice, tail_rev, Splice, HYBRID_TAIL_LEN};

pub(super) const REV_KEY: &str = "asset_cache_rev";
/// The closing bytes of the file, after the reservoir.
pub const TAIL: &[u8] = b"}}\n";

/// A page of the page cache. Linux copies a write into the file one page (or
/// larger folio) at a time and acts on a fatal signal only between them
/// (`generic_perform_write`), so a write inside one 4 KiB-aligned page is
/// never cut short by SIGKILL.
pub(crate) const PAGE: u64 = 4096;

/// The smallest reservoir, so that a small cache takes many adds between
/// rewrites.
const MIN_RESERVOIR: usize = PAGE as usize;

/// The reservoir of spaces a new file gets for records of `live` bytes: an
/// eighth of them (at least a page), so that a rewrite happens once per
/// eighth of the cache added, and opening reads at most 1/8 more bytes.
pub fn reservoir_len(live: usize) -> usize {
    (live / 8).max(MIN_RESERVOIR)
}

/// Where a record of `len` bytes goes when the last record ends at `end` and
/// the closing `}}` starts at `tail`: at `end`, or at the next page boundary
/// when it would straddle one. `None` when it cannot be written in one page
/// or does not fit before `tail`.
pub fn place_record(end: u64, len: u64, tail: u64) -> Option<u64> {
    if len == 0 || len > PAGE {
        return None;
    }
    let at = if end / PAGE == (end + len - 1) / PAGE {
        end
    } else {
        next_page(end)
    };
    (at + len <= tail).then_some(at)
}

/// The first page boundary after `offset`.
pub fn next_page(offset: u64) -> u64 {
    (offset / PAGE + 1) * PAGE
}

/// Where the last record of a file in our layout ends: after the last line
/// that is not spaces, before the closing `}}`. `None` when the file does
/// not end our way.
pub fn records_end(bytes: &[u8]) -> Option<u64> {
    let body = bytes.strip_suffix(TAIL)?;
    let last = body.iter().rposition(|&b| b != b' ' && b != b'\n')?;
    (body.get(last + 1) == Some(&b'\n')).then_some(last as u64 + 2)
}

/// The end of the records written after `end`, given the bytes from `end`
/// on (`region`, read up to `tail` or far enough): records are written at
/// the end of the last one or at the next page boundary, so they end where
/// spaces and newlines run on past the next page boundary. `None` when
/// `region` does not reach that far (read more), else the end (`end` itself
/// when nothing was added).
pub fn records_since(end: u64, region: &[u8], tail: u64) -> Option<u64> {
    let new_end = match region.iter().rposition(|&b| b != b' ' && b != b'\n') {
        Some(last) => end + last as u64 + 2,
        None => end,
    };
    let seen = end + region.len() as u64;
    (seen >= tail || seen > next_page(new_end)).then_some(new_end)
}

/// The rev in our header line, if the file starts with one.
pub fn header_rev(bytes: &[u8]) -> Option<String> {
    let line_end = bytes.iter().take(256).position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&bytes[..line_end]).ok()?;
    if !line.starts_with("{\"expiry\":") || !line.ends_with(",\"data\":{") {
        return None;
    }
    let start = line.find(&format!(",\"{REV_KEY}\":\""))? + REV_KEY.len() + 5;
    let rev = line.get(start..start + 32)?;
    (rev.bytes().all(|b| b.is_ascii_hexdigit()) && line[start + 32..].starts_with('"'))
        .then(|| rev.to_string())
}

/// A new random rev: 128 bits from the kernel.
pub fn new_rev() -> String {
    let mut buf = [0u8; 16];
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled part of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n <= 0 {
            // No entropy source: fall back to values unique enough per write.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let mixed = t ^ ((std::process::id() as u128) << 64) ^ (buf.as_ptr() as u128);
            buf.copy_from_slice(&mixed.to_le_bytes());
            break;
        }
        filled += n as usize;
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
