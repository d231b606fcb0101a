//! Reading the file's bytes: a whole file (our layout a line at a time, or
//! any JSON layout), the records written since a known end, and the repair
//! of a torn append.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny};
use serde::Deserialize;

use super::compact::{self, Compacted};
use super::de::{BorrowedFile, DataSeed, FileSeed, Last};
use super::splice::{tail_rev, HYBRID_TAIL_LEN};
use super::{header_rev, records_end, REV_KEY, TAIL};
use crate::asset::{sealed::Hook, Asset};
use crate::store::{Store, StoreBuilder};

/// What a read of the whole file found.
pub struct Parsed<T> {
    pub store: Store<T>,
    pub rev: Option<String>,
    pub records: usize,
    /// Where the last record ends, when the file is in our layout (then new
    /// records may be written into its reservoir).
    pub end: Option<u64>,
    /// Whose layout the file is in.
    pub layout: Layout,
}

/// Whose layout a file is in, and so how the next add goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Ours: the rev in the header line, `}}` at the end.
    Ours,
    /// Another writer's (the Python original's) followed by our records and
    /// the hybrid closing with the rev (see `splice`).
    Hybrid,
    /// Another writer's: the next add splices at `splice_at` (right after the
    /// last record, where "data" closes right before the end of the file),
    /// or rewrites the file when that is `None`.
    Foreign { splice_at: Option<u64> },
}

/// Why a file could not be read.
#[derive(Debug)]
pub struct Unreadable(pub String);

/// Parses a whole file, in our layout or any other JSON layout.
pub fn parse<T: Asset>(bytes: &[u8]) -> Result<Parsed<T>, Unreadable> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        // serde_json would say "expected value at line 1 column 1".
        return Err(Unreadable(
            "it starts with a UTF-8 byte-order mark (EF BB BF), which JSON does not \
             allow and Python's json.load refuses too"
                .into(),
        ));
    }
    let file: FileSeed<T> = serde_json::from_slice(bytes).map_err(|e| Unreadable(e.to_string()))?;
    let expiry = file
        .expiry
        .ok_or_else(|| Unreadable("no \"expiry\" member".into()))?;
    let data = file
        .data
        .ok_or_else(|| Unreadable("no \"data\" member".into()))?;
    // Only a file whose bytes are in our layout may be appended to.
    let rev = header_rev(bytes).filter(|_| bytes.ends_with(b"\n}}\n"));
    let mut store = data
        .pairs
        .into_iter()
        .collect::<StoreBuilder<T>>()
        .with_expiry(expiry);
    store.set_kept(data.kept);
    let end = rev.as_ref().and_then(|_| records_end(bytes));
    Ok(Parsed {
        end,
        records: data.records,
        store,
        rev,
        layout: Layout::Ours,
    })
}

/// Parses a file in any JSON layout (the Python original's indented one
/// above all) by way of its compact form: the original compacted in chunks
/// of `chunk` bytes ([`compact`](super::compact)), then
/// [`parse_compacted`]; the error, when there is one, is that of [`parse`]
/// on the original bytes (whose line and column mean something). For tests
/// and fuzzing: the backend feeds the compactor from the file.
pub fn parse_foreign<T: Asset>(bytes: &[u8], chunk: usize) -> Result<Parsed<T>, Unreadable> {
    parse_compacted(compact::compact(bytes, chunk)).map_err(|e| match parse::<T>(bytes) {
        Err(why) => why,
        // Cannot happen (the fuzz target `format` checks it): say so plainly.
        Ok(_) => Unreadable(format!("{} (in its compact form)", e.0)),
    })
}

/// Reads a file from its compact form ([`Compacted`]): the assets stay in
/// the compact buffer (each points into it, as when reading our layout), the
/// JSON is validated once, and the layout tells where our next add goes: a
/// hybrid file (our closing with its rev) takes records into its reservoir,
/// another writer's file takes a splice right after its last record. An
/// error's message names positions in the compact form: the caller
/// re-reads the original for a message (see [`parse_foreign`]).
pub fn parse_compacted<T: Asset>(mut c: Compacted) -> Result<Parsed<T>, Unreadable> {
    if c.merged {
        return Err(Unreadable(
            "whitespace separates two parts of one value (as in `1 2`)".into(),
        ));
    }
    if c.bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(Unreadable("it starts with a UTF-8 byte-order mark".into()));
    }
    let file = Arc::new(std::mem::take(&mut c.bytes));
    let top: BorrowedFile =
        serde_json::from_slice(file.as_slice()).map_err(|e| Unreadable(e.to_string()))?;
    let expiry = top
        .expiry
        .ok_or_else(|| Unreadable("no \"expiry\" member".into()))?;
    let data = top
        .data
        .ok_or_else(|| Unreadable("no \"data\" member".into()))?;
    let mut store = Store::new(expiry);
    // serde_json reads an id without checking for raw control characters
    // (JSON allows them only escaped): an id holding one, escaped or raw, or
    // a record kept as it was, allows no splice (below).
    let mut odd_ids = !data.kept.is_empty();
    for (id, raw) in data.pairs {
        let asset = T::from_compact_raw(raw, &file, Hook)
            .ok_or_else(|| Unreadable(format!("the asset of {id:?} cannot be decoded")))?;
        odd_ids |= id.bytes().any(|b| b < 0x20);
        store.insert(id, asset);
    }
    store.set_kept(data.kept);
    // The compact form ends `}}` (data, then the file) after another
    // writer's last record, or `},"asset_cache_rev":"<rev>"}` after ours.
    // The last member is our rev's (validated as JSON above) and the file
    // ends with exactly our closing: the closing's hex string is its value.
    let hybrid_rev = tail_rev(&c.last).filter(|_| top.last == Last::Rev);
    // Bytes before the splice point stay as they are: they must be JSON that
    // Python reads. A skipped member other than our closing's rev (checked
    // by `tail_rev`) may hold bytes that are not UTF-8, an id raw control
    // characters (both found by the `load_file` fuzz target): then no
    // splice, the next add rewrites the file whole, as before issue 11.
    let checked = usize::from(hybrid_rev.is_some());
    let spliceable = !odd_ids && (top.skipped == checked || std::str::from_utf8(&file).is_ok());
    let (rev, end, layout) = if !spliceable {
        (None, None, Layout::Foreign { splice_at: None })
    } else if let Some(rev) = hybrid_rev {
        // The last record's last byte, and the whitespace after it up to the
        // closing (at least one byte of it, which a record line ends with).
        let closing = c.total - HYBRID_TAIL_LEN as u64;
        let end = c
            .original_offset(HYBRID_TAIL_LEN - 1)
            .map(|last| last + 2)
            .filter(|&end| end <= closing);
        (Some(rev), end, Layout::Hybrid)
    } else {
        let splice_at = (top.last == Last::Data && file.ends_with(b"}}"))
            .then(|| c.original_offset(2).map(|last| last + 1))
            .flatten();
        (None, None, Layout::Foreign { splice_at })
    };
    Ok(Parsed {
        store,
        rev,
        records: data.records,
        end,
        layout,
    })
}

/// Parses a file in our layout a record (a line) at a time, each asset
/// decoded in place by [`Asset::from_file_text`], so that a
/// [`RawAsset`](crate::RawAsset) keeps pointing into `file` instead of being
/// copied. `None` when the bytes are not exactly our layout (the Python
/// original's file, a torn append, anything else): the caller then uses
/// [`parse`], which also decides what is wrong with them.
pub fn parse_lines<T: Asset>(file: &Arc<Vec<u8>>) -> Option<Parsed<T>> {
    let bytes: &[u8] = file;
    let mut at = 0usize;
    let mut next_line = || {
        let len = find_newline(&bytes[at..])?;
        let line = &bytes[at..at + len];
        at += len + 1;
        Some((line, at))
    };
    let (header, mut end) = next_line()?;
    let expiry = header_expiry(header)?;
    let rev = header_rev(file);
    let mut store = Store::new(expiry);
    let mut records = 0usize;
    let rest = loop {
        let (line, after) = next_line()?;
        if line == b"}}" {
            break after;
        }
        // Spaces before a record (placed at a page boundary) or a line of
        // them (the reservoir).
        let line = &line[first_non_space(line)..];
        if line.is_empty() {
            continue;
        }
        let record = if records == 0 {
            Some(line)
        } else {
            line.strip_prefix(b",")
        };
        let (id, text) = record.and_then(split_record)?;
        store.insert(id, T::from_file_text(text, file, Hook)?);
        records += 1;
        end = after;
    };
    (rest == bytes.len() && rev.is_some()).then_some(Parsed {
        store,
        rev,
        records,
        end: Some(end as u64),
        layout: Layout::Ours,
    })
}

/// The index of the first byte of `bytes` that is not a space
/// (`bytes.len()` when there is none). Checked 64 bytes at a time
/// without an early exit inside a block, so that the compiler vectorizes it:
/// the reservoir is one long line of spaces.
fn first_non_space(bytes: &[u8]) -> usize {
    let mut blocks = bytes.chunks_exact(64);
    let mut at = 0;
    for block in &mut blocks {
        if block.iter().fold(0u8, |acc, &b| acc | u8::from(b != b' ')) != 0 {
            break;
        }
        at += 64;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b != b' ')
        .unwrap_or(bytes.len() - at)
}

/// The first `\n` in `bytes`. libc's memchr scans many bytes per step; a
/// byte-at-a-time search was a fifth of the time of opening a large cache.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    // SAFETY: the pointer and length describe `bytes`; memchr only reads them.
    let p = unsafe { libc::memchr(bytes.as_ptr().cast(), b'\n' as libc::c_int, bytes.len()) };
    (!p.is_null()).then(|| p as usize - bytes.as_ptr() as usize)
}

/// The expiry of our header line, `{"expiry":<n>,"asset_cache_rev":"<hex>","data":{`,
/// when the line is exactly that.
fn header_expiry(line: &[u8]) -> Option<f64> {
    let mut with_newline = line.to_vec();
    with_newline.push(b'\n');
    let rev = header_rev(&with_newline)?;
    let rest = line.strip_prefix(b"{\"expiry\":")?;
    let end = rest.iter().position(|&b| b == b',')?;
    let tail = format!(",\"{REV_KEY}\":\"{rev}\",\"data\":{{");
    if &rest[end..] != tail.as_bytes() {
        return None;
    }
    serde_json::from_slice::<f64>(&rest[..end]).ok()
}

/// One record line without its leading comma, `"<id>":<asset>`, split into
/// the decoded id and the asset's text (not yet validated).
fn split_record(line: &[u8]) -> Option<(String, &str)> {
    if line.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    if line.get(i + 1) != Some(&b':') {
        return None;
    }
    let id: String = serde_json::from_slice(&line[..=i]).ok()?;
    let text = std::str::from_utf8(&line[i + 2..]).ok()?;
    Some((id, text))
}

/// Parses the records written after the last one a reader knew: the bytes
/// from its end to the new end, `,"a":{...}\n   ,"b":{...}\n` (spaces where
/// a record was placed at a page boundary), or, in a file of version 0.1,
/// from the old closing `}}`'s offset to the end of the file (`TAIL`
/// included).
pub fn parse_new_records<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
) -> Result<Vec<(String, T)>, Unreadable> {
    let body = bytes.strip_suffix(TAIL).unwrap_or(bytes);
    if !body.ends_with(b"\n") {
        return Err(Unreadable("new records do not end a line".into()));
    }
    let body = &body[first_non_space(body)..];
    let body = body.strip_prefix(b",").unwrap_or(body);
    let mut wrapped = Vec::with_capacity(body.len() + 2);
    wrapped.push(b'{');
    wrapped.extend_from_slice(body);
    wrapped.push(b'}');
    let mut de = serde_json::Deserializer::from_slice(&wrapped);
    let data = DataSeed::<T>(PhantomData)
        .deserialize(&mut de)
        .and_then(|d| de.end().map(|_| d))
        .map_err(|e| Unreadable(e.to_string()))?;
    Ok(data.pairs)
}

/// Rebuilds a file in our layout whose last append was torn by a crash: the
/// complete records are kept, the torn remainder dropped. `None` when the
/// damage is anything else (then the file is kept aside, not guessed at).
pub fn repair(bytes: &[u8]) -> Option<Vec<u8>> {
    header_rev(bytes)?;
    let header_end = bytes.iter().position(|&b| b == b'\n')? + 1;
    let mut kept = header_end;
    let mut first = true;
    while let Some(len) = find_newline(&bytes[kept..]) {
        let line = &bytes[kept..kept + len];
        let line = &line[first_non_space(line)..];
        // A line of spaces: the reservoir, or spaces before a record.
        if !line.is_empty() {
            let record = if first {
                Some(line)
            } else {
                line.strip_prefix(b",")
            };
            if !record.is_some_and(is_record) {
                break;
            }
            first = false;
        }
        kept += len + 1;
    }
    let rest = &bytes[kept..];
    // A torn append leaves at most one partial line; more means other damage.
    if rest.iter().filter(|&&b| b == b'\n').count() > 1 {
        return None;
    }
    let mut fixed = bytes[..kept].to_vec();
    fixed.extend_from_slice(TAIL);
    Some(fixed)
}

fn is_record(line: &[u8]) -> bool {
    let mut wrapped = Vec::with_capacity(line.len() + 2);
    wrapped.push(b'{');
    wrapped.extend_from_slice(line);
    wrapped.push(b'}');
    matches!(
        serde_json::from_slice::<std::collections::HashMap<String, IgnoredAny>>(&wrapped),
        Ok(m) if m.len() == 1
    )
}
