//! Our records after another writer's: an add to a file the Python original
//! wrote (indented, its whole file rewritten by each of its adds) without
//! rewriting it (issue 11, item 3).
//!
//! The Python original's file ends `...<last asset>}\n    }\n}`. Our first
//! add after it overwrites that ending, from right after the last asset
//! (`splice_at`), with our record line, a reservoir of spaces and a closing
//! that holds a rev, which makes the file *hybrid*:
//!
//! ```text
//! {
//!     "expiry": 1764086400.5,
//!     "data": {
//!         "m1": {
//!             ...
//!         }                                  <- splice_at
//! ,"m2":{"id":"m2",...}                      <- our records, one a line
//! <reservoir of spaces>
//! },"asset_cache_rev":"<32 hex digits>"}     <- HYBRID_TAIL_LEN bytes
//! ```
//!
//! Later adds write their records into the reservoir exactly as in our own
//! layout (one write inside one page, the closing never moves). The rev sits
//! at the end because that is the one place that changes anyway; a reader
//! compares the last bytes with the rev it knows to tell whether only new
//! records were added (Python's next rewrite drops the member, as it writes
//! only `expiry` and `data`; Python's `json.load` ignores it).
//!
//! The splice is crash-safe two ways ([`splice`]):
//! * In one page: when everything from `splice_at` to the end of its 4 KiB
//!   page holds the record and the closing, and the old ending lies inside
//!   that page too, one `pwrite` of that page's rest (record, spaces as the
//!   reservoir, closing): a SIGKILL leaves the old file or the new one. When
//!   it does not fit, the same page's bytes before `splice_at` (Python's
//!   indented lines, about half whitespace) are rewritten compact in that
//!   same write, from their first line break on, which makes room for a
//!   record of up to about 2 KB wherever the splice falls in its page.
//! * Otherwise moving the closing would take writes to two pages, and a
//!   kill between them would leave a file that is not JSON (no ordering of
//!   two writes avoids it: the closing must be gone from one page before it
//!   exists in the next). So a new file is made: the bytes before
//!   `splice_at` copied in the kernel (`copy_file_range`, no pass through
//!   memory), then the record, a full reservoir and the closing, and renamed
//!   over the old one, as any rewrite of ours is. The same happens when a
//!   hybrid file's reservoir is used up.

use super::{next_page, PAGE, REV_KEY};

/// The length of the closing of a hybrid file, `},"asset_cache_rev":"<rev>"}\n`.
pub const HYBRID_TAIL_LEN: usize = 2 + (REV_KEY.len() + 2) + 1 + (32 + 2) + 2;

/// The closing of a hybrid file: closes "data", then our rev member, then
/// the file.
pub fn hybrid_tail(rev: &str) -> Vec<u8> {
    format!("}},\"{REV_KEY}\":\"{rev}\"}}\n").into_bytes()
}

/// The rev in a hybrid file's closing, given the file's last bytes.
pub fn tail_rev(end_of_file: &[u8]) -> Option<String> {
    let tail = end_of_file.get(end_of_file.len().checked_sub(HYBRID_TAIL_LEN)?..)?;
    let rev = tail.get(HYBRID_TAIL_LEN - 35..HYBRID_TAIL_LEN - 3)?;
    let rev = std::str::from_utf8(rev).ok()?;
    (rev.bytes().all(|b| b.is_ascii_hexdigit()) && hybrid_tail(rev) == tail)
        .then(|| rev.to_string())
}

/// The start of the page holding offset `at`: the bytes from there to `at`
/// are what [`splice`] takes as `page_before`.
pub fn page_start(at: u64) -> u64 {
    at / PAGE * PAGE
}

/// How one add is spliced in at `at` (after the last record) of a file of
/// `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Splice {
    /// One write of `bytes` at `at` (at or before the splice point, in its
    /// page), inside one page.
    InPage { at: u64, bytes: Vec<u8> },
    /// A new file: the old file's bytes before the splice point, then `suffix`.
    Copy { suffix: Vec<u8> },
}

/// A splice at `at`: `lead` (a newline after Python's last asset; nothing
/// after one of our record lines), the `record` line, a reservoir and the
/// hybrid closing with `rev`. In one page when that page's rest holds it
/// all and the old ending (up to `size`); else, after another writer's
/// records, when it fits once the bytes of that page before `at`
/// (`page_before`, from the page's start) are made compact from their first
/// line break on (the Python original's indentation is about half of its
/// bytes; a raw line break is never inside a JSON string, so the compaction
/// starts outside one); else a new file with `reservoir` bytes of spaces.
/// Returns the splice and where the record ends.
pub fn splice(
    at: u64,
    size: u64,
    lead: &[u8],
    record: &[u8],
    rev: &str,
    reservoir: usize,
    page_before: &[u8],
) -> (Splice, u64) {
    let page_end = next_page(at);
    let closing = 1 + HYBRID_TAIL_LEN;
    let fill = |head: &[u8], spaces: usize| {
        let mut out = Vec::with_capacity(head.len() + lead.len() + record.len() + spaces + closing);
        out.extend_from_slice(head);
        out.extend_from_slice(lead);
        out.extend_from_slice(record);
        out.resize(out.len() + spaces, b' ');
        out.push(b'\n');
        out.extend_from_slice(&hybrid_tail(rev));
        out
    };
    let body = (lead.len() + record.len()) as u64;
    if size <= page_end {
        let needed = at + body + closing as u64;
        if needed <= page_end {
            let bytes = fill(b"", (page_end - needed) as usize);
            return (Splice::InPage { at, bytes }, at + body);
        }
        // Room made by compacting the page's bytes before `at`.
        let from_page = (at - (at / PAGE) * PAGE) as usize;
        let newline = page_before
            .iter()
            .position(|&b| b == b'\n')
            .filter(|_| !lead.is_empty() && page_before.len() == from_page);
        if let Some(nl) = newline {
            let c = super::compact::compact(&page_before[nl..], 4096);
            let start = at - (page_before.len() - nl) as u64;
            let needed = start + c.bytes.len() as u64 + body + closing as u64;
            if !c.merged && needed <= page_end {
                let end = start + c.bytes.len() as u64 + body;
                let bytes = fill(&c.bytes, (page_end - needed) as usize);
                return (Splice::InPage { at: start, bytes }, end);
            }
        }
    }
    (
        Splice::Copy {
            suffix: fill(b"", reservoir),
        },
        at + body,
    )
}
