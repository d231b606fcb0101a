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
//! * A whole new file ([`render`]) gets a new random `asset_cache_rev`
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

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::asset::{sealed::Hook, Asset, RawAsset};
use crate::error::{Error, Result};
use crate::store::{Kept, Store, StoreBuilder};

const REV_KEY: &str = "asset_cache_rev";
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

/// What a read of the whole file found.
pub struct Parsed<T> {
    pub store: Store<T>,
    pub rev: Option<String>,
    pub records: usize,
    /// Where the last record ends, when the file is in our layout (then new
    /// records may be written into its reservoir).
    pub end: Option<u64>,
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

/// Renders a whole file in our layout, its reservoir included.
pub fn render<'a, T: serde::Serialize + 'a>(
    expiry: f64,
    rev: &str,
    assets: impl Iterator<Item = (&'a str, &'a T)>,
) -> Result<Vec<u8>> {
    render_file(expiry, rev, assets, &[]).map(|r| r.bytes)
}

/// Renders a whole file in our layout, with the records kept as they were
/// (ids without a UTF-8 form) after the assets.
pub fn render_with_kept<'a, T: serde::Serialize + 'a>(
    expiry: f64,
    rev: &str,
    assets: impl Iterator<Item = (&'a str, &'a T)>,
    kept: &[Kept],
) -> Result<Vec<u8>> {
    render_file(expiry, rev, assets, kept).map(|r| r.bytes)
}

/// A whole file rendered, and where its records end.
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// Where the last record ends (the reservoir starts).
    pub end: u64,
    /// The records' bytes.
    pub live: u64,
}

/// [`render_with_kept`], also telling where the records end.
pub fn render_file<'a, T: serde::Serialize + 'a>(
    expiry: f64,
    rev: &str,
    assets: impl Iterator<Item = (&'a str, &'a T)>,
    kept: &[Kept],
) -> Result<Rendered> {
    let mut out = render_header(expiry, rev);
    let start = out.len();
    let mut first = true;
    for (id, asset) in assets {
        render_record(&mut out, first, id, asset)?;
        first = false;
    }
    for k in kept {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(k.id_json.as_bytes());
        out.push(b':');
        // RawAsset text is compact: no line break inside.
        out.extend_from_slice(k.asset.json().as_bytes());
        out.push(b'\n');
    }
    let end = out.len();
    let reservoir = reservoir_len(end - start);
    out.reserve_exact(reservoir + 1 + TAIL.len());
    out.resize(end + reservoir, b' ');
    out.push(b'\n');
    out.extend_from_slice(TAIL);
    Ok(Rendered {
        bytes: out,
        end: end as u64,
        live: (end - start) as u64,
    })
}

/// The length of `asset`'s record line, as [`render_record`] writes it.
pub fn record_len<T: serde::Serialize>(id: &str, asset: &T) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(3); // the comma, the colon and the newline
    let _ = serde_json::to_writer(&mut n, id);
    let _ = serde_json::to_writer(&mut n, asset);
    n.0
}

fn render_header(expiry: f64, rev: &str) -> Vec<u8> {
    let expiry = serde_json::to_string(&expiry).unwrap_or_else(|_| "0".into());
    format!("{{\"expiry\":{expiry},\"{REV_KEY}\":\"{rev}\",\"data\":{{\n").into_bytes()
}

/// Appends one record line, `"id":{...}\n`, with a leading comma unless it is
/// the first record of the file.
pub fn render_record<T: serde::Serialize>(
    out: &mut Vec<u8>,
    first: bool,
    id: &str,
    asset: &T,
) -> Result<()> {
    if !first {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, id).map_err(serialize_error)?;
    out.push(b':');
    let start = out.len();
    serde_json::to_writer(&mut *out, asset).map_err(serialize_error)?;
    // The line layout needs one record a line. A raw newline can only be
    // whitespace in JSON, so blanking it cannot change a value.
    for b in &mut out[start..] {
        if *b == b'\n' || *b == b'\r' {
            *b = b' ';
        }
    }
    out.push(b'\n');
    Ok(())
}

fn serialize_error(e: serde_json::Error) -> Error {
    Error::new(
        crate::error::ErrorKind::InvalidJson,
        format!("cannot serialize asset: {e}"),
    )
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

// ---- deserialization of the file's top level and its "data" object ----

struct FileSeed<T> {
    expiry: Option<f64>,
    data: Option<Data<T>>,
}

struct Data<T> {
    pairs: Vec<(String, T)>,
    kept: Vec<Kept>,
    records: usize,
}

/// A key of "data": an id, or the JSON text of one that has no UTF-8 form.
enum FileKey {
    Id(String),
    NotUnicode(String),
}

impl<'de> Deserialize<'de> for FileKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FileKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FileKey, E> {
                Ok(FileKey::Id(s.to_string()))
            }
            // serde_json hands a key over as bytes with its escapes decoded,
            // lone surrogates as WTF-8 (what a `str` cannot hold).
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<FileKey, E> {
                Ok(match std::str::from_utf8(b) {
                    Ok(s) => FileKey::Id(s.to_string()),
                    // Raw bytes that are not UTF-8 (not an escape): not JSON
                    // text at all, and Python's json.load refuses them too.
                    Err(_) => FileKey::NotUnicode(wtf8_to_json(b).ok_or_else(|| {
                        E::custom("an id holds bytes that are not UTF-8, which JSON does not allow")
                    })?),
                })
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A JSON string (quotes included) for WTF-8 bytes: a lone surrogate becomes
/// a lower-case `\uXXXX` escape, as Python's json writes it. `None` when
/// the bytes hold anything else that is not UTF-8 (which no escape writes;
/// replacing it would change the id).
fn wtf8_to_json(mut b: &[u8]) -> Option<String> {
    let mut out = String::from("\"");
    loop {
        let (valid, rest) = match std::str::from_utf8(b) {
            Ok(s) => (s, &b[b.len()..]),
            Err(e) => (
                // from_utf8 vouched for this prefix.
                std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default(),
                &b[e.valid_up_to()..],
            ),
        };
        let quoted = serde_json::to_string(valid).unwrap_or_default();
        out.push_str(&quoted[1..quoted.len() - 1]);
        match rest {
            [] => break,
            // A surrogate code point, U+D800..U+DFFF, in the 3-byte form.
            [0xED, b1 @ 0xA0..=0xBF, b2 @ 0x80..=0xBF, tail @ ..] => {
                let cp = 0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
                out.push_str(&format!("\\u{cp:04x}"));
                b = tail;
            }
            [_, ..] => return None,
        }
    }
    out.push('"');
    Some(out)
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FileSeed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = FileSeed<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with \"expiry\" and \"data\"")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = FileSeed {
                    expiry: None,
                    data: None,
                };
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "expiry" => {
                            let e: f64 = map
                                .next_value()
                                .map_err(|_| de::Error::custom("\"expiry\" is not a number"))?;
                            out.expiry = Some(e);
                        }
                        "data" => out.data = Some(map.next_value_seed(DataSeed(PhantomData))?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

struct DataSeed<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for DataSeed<T> {
    type Value = Data<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Data<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for DataSeed<T> {
    type Value = Data<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"data\" as an object of assets by id")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data<T>, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
        let mut kept: Vec<Kept> = Vec::new();
        let mut records = 0;
        while let Some(key) = map.next_key::<FileKey>()? {
            records += 1;
            match key {
                FileKey::Id(id) => {
                    let asset = map.next_value::<T>()?;
                    pairs.push((id, asset));
                }
                FileKey::NotUnicode(id_json) => {
                    let asset = map.next_value::<RawAsset>()?;
                    // Last wins, at the first position, as for any id.
                    match kept.iter_mut().find(|k| k.id_json == id_json) {
                        Some(k) => k.asset = asset,
                        None => kept.push(Kept { id_json, asset }),
                    }
                }
            }
        }
        Ok(Data {
            pairs,
            kept,
            records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn store(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn render_then_parse_round_trips_and_is_appendable() {
        let pairs = store(&[
            ("a", serde_json::json!({"id":"a"})),
            ("b", serde_json::json!({"id":"b","x":[1,2]})),
        ]);
        let rev = new_rev();
        let bytes = render(5.5, &rev, pairs.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
        let p: Parsed<Value> = parse(&bytes).unwrap();
        assert_eq!(p.rev.as_deref(), Some(rev.as_str()));
        assert_eq!(p.records, 2);
        assert_eq!(p.store.expiry(), 5.5);
        assert_eq!(
            p.store.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    fn lines(bytes: &[u8]) -> Option<Parsed<Value>> {
        parse_lines(&Arc::new(bytes.to_vec()))
    }

    #[test]
    fn line_parse_equals_whole_parse_on_our_layout_only() {
        // A duplicate id is last-wins.
        let big = "x".repeat(1000);
        let pairs = store(&[
            ("a", serde_json::json!({"id":"a","pad":big})),
            ("q\"\\", serde_json::json!({"id":"q\"\\"})),
            ("b", serde_json::json!({"id":"b","pad":big})),
            ("a", serde_json::json!({"id":"a","v":2})),
            ("c", serde_json::json!({"id":"c","pad":big})),
        ]);
        let rev = new_rev();
        let bytes = render(7.25, &rev, pairs.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
        let whole: Parsed<Value> = parse(&bytes).unwrap();
        let streamed = lines(&bytes).expect("our layout parses by lines");
        assert_eq!(streamed.rev, whole.rev);
        assert_eq!(streamed.records, 5);
        assert_eq!(streamed.store.expiry(), 7.25);
        assert_eq!(
            streamed.store.iter().collect::<Vec<_>>(),
            whole.store.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            streamed.store.get("a"),
            Some(&serde_json::json!({"id":"a","v":2}))
        );
        // An empty store in our layout.
        let empty = render(1.0, &rev, std::iter::empty::<(&str, &Value)>()).unwrap();
        assert_eq!(lines(&empty).unwrap().store.len(), 0);

        // Anything else falls back to the whole-file parse.
        let py = b"{\n    \"expiry\": 1,\n    \"data\": {}\n}";
        assert!(lines(py).is_none());
        let torn = &bytes[..bytes.len() - 10];
        assert!(lines(torn).is_none());
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b"x\n");
        assert!(lines(&trailing).is_none());
        let no_newline = &bytes[..bytes.len() - 1];
        assert!(lines(no_newline).is_none());
        let mut bad_record = bytes.clone();
        let at = bad_record.len() - 5;
        bad_record[at] = b'!';
        assert!(lines(&bad_record).is_none());
    }

    #[test]
    fn python_layout_parses_without_rev_and_int_expiry_is_accepted() {
        let py = b"{\n    \"expiry\": 1764086400,\n    \"data\": {\n        \"a\": {\n            \"id\": \"a\"\n        }\n    }\n}";
        let p: Parsed<Value> = parse(py).unwrap();
        assert_eq!(p.rev, None);
        assert_eq!(p.store.expiry(), 1764086400.0);
        assert_eq!(p.store.len(), 1);
    }

    #[test]
    fn wrong_shapes_are_unreadable() {
        for bad in [
            &b"[]"[..],
            b"{\"data\":{}}",
            b"{\"expiry\":1}",
            b"{\"expiry\":\"x\",\"data\":{}}",
            b"{\"expiry\":1,\"data\":[]}",
            b"",
        ] {
            assert!(
                parse::<Value>(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn repair_drops_only_a_torn_last_record() {
        let rev = new_rev();
        let v = serde_json::json!({"id":"a"});
        let old = render(9.0, &rev, [("a", &v)].into_iter()).unwrap();
        let mut full = old[..old.len() - TAIL.len()].to_vec();
        render_record(
            &mut full,
            false,
            "b",
            &serde_json::json!({"id":"b","pad":"xxxxxxxx"}),
        )
        .unwrap();
        full.extend_from_slice(TAIL);
        let off = old.len() - TAIL.len();
        for cut in off + 1..full.len() {
            let mut torn = full[..cut].to_vec();
            if torn.len() < old.len() {
                torn.extend_from_slice(&old[torn.len()..]);
            }
            let fixed = repair(&torn).unwrap_or_else(|| panic!("cut {cut}"));
            assert!(
                fixed == old || fixed == full,
                "cut {cut}: {}",
                String::from_utf8_lossy(&fixed)
            );
        }
    }

    #[test]
    fn records_go_after_the_last_or_at_the_next_page_and_never_past_the_tail() {
        assert_eq!(place_record(100, 50, 10_000), Some(100));
        // Would straddle the boundary at 4096: moved to it.
        assert_eq!(place_record(4090, 50, 10_000), Some(4096));
        // Ends exactly at a boundary: stays.
        assert_eq!(place_record(4046, 50, 10_000), Some(4046));
        assert_eq!(place_record(4096, 4096, 10_000), Some(4096));
        // Longer than a page, or no room before the closing `}}`.
        assert_eq!(place_record(0, 4097, 100_000), None);
        assert_eq!(place_record(100, 50, 149), None);
        assert_eq!(place_record(100, 50, 150), Some(100));
        assert_eq!(place_record(4090, 50, 4140), None);
    }

    #[test]
    fn records_written_into_the_reservoir_are_read_back_by_every_reader() {
        let v = |id: &str, pad: usize| serde_json::json!({"id": id, "pad": "p".repeat(pad)});
        let assets = [("a", v("a", 80_000))];
        let r = render_file(3.0, &new_rev(), assets.iter().map(|(k, v)| (*k, v)), &[]).unwrap();
        assert_eq!(
            r.bytes.len() as u64,
            r.end + reservoir_len(r.live as usize) as u64 + 4
        );
        assert_eq!(records_end(&r.bytes), Some(r.end));
        // Write records the way the file backend does, one of them pushed
        // to the next page boundary.
        let mut file = r.bytes.clone();
        let tail = (file.len() - TAIL.len()) as u64;
        let mut end = r.end;
        let mut moved = 0;
        for (id, pad) in [("b", 100), ("c", 3900), ("a", 5)] {
            let mut rec = Vec::new();
            render_record(&mut rec, false, id, &v(id, pad)).unwrap();
            let at = place_record(end, rec.len() as u64, tail).unwrap();
            moved += usize::from(at != end);
            assert_eq!(at / PAGE, (at + rec.len() as u64 - 1) / PAGE, "one page");
            file[at as usize..at as usize + rec.len()].copy_from_slice(&rec);
            // A reader that knew the file up to `end` finds exactly the new
            // record, whatever it reads beyond the next page boundary.
            let region = &file[end as usize..tail as usize];
            let new_end = records_since(end, region, tail).unwrap();
            assert_eq!(new_end, at + rec.len() as u64);
            let short = &region[..(next_page(end) + 1 - end).min(region.len() as u64) as usize];
            if let Some(e) = records_since(end, short, tail) {
                assert_eq!(e, new_end, "a short read may only stop at the right end");
            }
            let got: Vec<(String, Value)> =
                parse_new_records(&file[end as usize..new_end as usize]).unwrap();
            assert_eq!(got, vec![(id.to_string(), v(id, pad))]);
            end = new_end;
            // Nothing new after it.
            assert_eq!(
                records_since(end, &file[end as usize..tail as usize], tail),
                Some(end)
            );
            // Every whole-file reader sees the same store, and the end.
            let whole: Parsed<Value> = parse(&file).unwrap();
            let lines = parse_lines::<Value>(&Arc::new(file.clone())).expect("our layout");
            assert_eq!(lines.end, Some(end));
            assert_eq!(whole.end, Some(end));
            assert_eq!(
                lines.store.iter().collect::<Vec<_>>(),
                whole.store.iter().collect::<Vec<_>>()
            );
        }
        assert_eq!(moved, 1, "the 3.9 KB record went to a page boundary");
        let last: Parsed<Value> = parse(&file).unwrap();
        assert_eq!(
            last.store.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(last.store.get("a"), Some(&v("a", 5)));
        // A torn append of version 0.1 after the reservoir is repaired.
        let mut torn = file[..file.len() - TAIL.len()].to_vec();
        torn.extend_from_slice(b",\"d\":{\"id\":\"d\",");
        let fixed = repair(&torn).unwrap();
        assert_eq!(
            parse::<Value>(&fixed).unwrap().store.len(),
            3,
            "{}",
            String::from_utf8_lossy(&fixed)
        );
    }
}
