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
//!   ([`new_rev`]).
//! * One asset is added by overwriting the closing [`TAIL`], `}}\n`, with
//!   `,"id":{...}\n}}\n` ([`render_record`]). JSON objects are last-wins on
//!   duplicate keys in Python's json and here, so re-adding an id appends a
//!   newer record.
//!
//! Appends only grow a file and keep its rev; every other change makes a new
//! file with a new rev, and Python's in-place rewrite drops the rev
//! ([`header_rev`] finds none). So a reader that finds the rev it knows and a
//! larger size only has to parse the records appended since
//! ([`parse_appended`]).
//!
//! An append cut short by a crash leaves a torn last line; [`repair`] keeps the
//! complete records before it, which is exactly the file before (or after)
//! the interrupted add.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::asset::{sealed::Hook, Asset, RawAsset};
use crate::error::{Error, Result};
use crate::store::{Kept, Store, StoreBuilder};

const REV_KEY: &str = "asset_cache_rev";
/// The closing bytes an append overwrites.
pub const TAIL: &[u8] = b"}}\n";

/// What a read of the whole file found.
pub struct Parsed<T> {
    pub store: Store<T>,
    pub rev: Option<String>,
    pub records: usize,
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
    Ok(Parsed {
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
    let mut rest: &[u8] = file;
    let mut next_line = || {
        let len = find_newline(rest)?;
        let line = &rest[..len];
        rest = &rest[len + 1..];
        Some(line)
    };
    let header = next_line()?;
    let expiry = header_expiry(header)?;
    let rev = header_rev(file);
    let mut store = Store::new(expiry);
    let mut records = 0usize;
    loop {
        let line = next_line()?;
        if line == b"}}" {
            break;
        }
        let record = if records == 0 {
            Some(line)
        } else {
            line.strip_prefix(b",")
        };
        let (id, text) = record.and_then(split_record)?;
        store.insert(id, T::from_file_text(text, file, Hook)?);
        records += 1;
    }
    (rest.is_empty() && rev.is_some()).then_some(Parsed {
        store,
        rev,
        records,
    })
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

/// Parses the records appended after a known size: the bytes from the old
/// tail's offset to the end, `,"a":{...}\n,"b":{...}\n}}\n`.
pub fn parse_appended<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
) -> Result<Vec<(String, T)>, Unreadable> {
    let body = bytes
        .strip_suffix(TAIL)
        .ok_or_else(|| Unreadable("appended records do not end the file".into()))?;
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
    while let Some(len) = bytes[kept..].iter().position(|&b| b == b'\n') {
        let line = &bytes[kept..kept + len];
        let record = if first {
            Some(line)
        } else {
            line.strip_prefix(b",")
        };
        if !record.is_some_and(is_record) {
            break;
        }
        first = false;
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

/// Renders a whole file in our layout.
pub fn render<'a, T: serde::Serialize + 'a>(
    expiry: f64,
    rev: &str,
    assets: impl Iterator<Item = (&'a str, &'a T)>,
) -> Result<Vec<u8>> {
    render_with_kept(expiry, rev, assets, &[])
}

/// Renders a whole file in our layout, with the records kept as they were
/// (ids without a UTF-8 form) after the assets.
pub fn render_with_kept<'a, T: serde::Serialize + 'a>(
    expiry: f64,
    rev: &str,
    assets: impl Iterator<Item = (&'a str, &'a T)>,
    kept: &[Kept],
) -> Result<Vec<u8>> {
    let mut out = render_header(expiry, rev);
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
    out.extend_from_slice(TAIL);
    Ok(out)
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
                    Err(_) => FileKey::NotUnicode(wtf8_to_json(b)),
                })
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A JSON string (quotes included) for WTF-8 bytes: a lone surrogate becomes
/// a lower-case `\uXXXX` escape, as Python's json writes it.
fn wtf8_to_json(mut b: &[u8]) -> String {
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
            [_, tail @ ..] => {
                out.push_str("\\ufffd");
                b = tail;
            }
        }
    }
    out.push('"');
    out
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
}
