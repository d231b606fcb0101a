//! What can be cached: any serde type that yields its id. The C ABI caches
//! [`RawAsset`], JSON text kept exactly as received.

use std::borrow::Cow;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Result};

/// An asset: serializable, and identified by a string id.
///
/// Implement [`Asset::id`]; the trait's other methods are this crate's speed
/// hooks for [`RawAsset`]: hidden, and sealed by a parameter of a type no
/// other crate can name, so they can neither be called nor overridden from
/// outside (they may change in any release).
pub trait Asset: Serialize + DeserializeOwned + Send + Sync {
    /// The asset's id, or `None` when it has no usable one (absent, not a
    /// string, or empty).
    fn id(&self) -> Option<Cow<'_, str>>;

    /// Decodes the asset from `text`, a slice of `file` (a cache file's
    /// bytes, immutable and shared). The default decodes a copy; [`RawAsset`]
    /// keeps referring to `file` instead.
    #[doc(hidden)]
    fn from_file_text(text: &str, file: &Arc<Vec<u8>>, _: sealed::Hook) -> Option<Self> {
        let _ = file;
        serde_json::from_str(text).ok()
    }

    /// Decodes the asset from `raw`, JSON text already validated and without
    /// whitespace between tokens, inside `file` (a compacted file, immutable
    /// and shared). The default decodes a copy; [`RawAsset`] keeps referring
    /// to `file` without validating again.
    #[doc(hidden)]
    fn from_compact_raw(raw: &RawValue, file: &Arc<Vec<u8>>, _: sealed::Hook) -> Option<Self> {
        let _ = file;
        serde_json::from_str(raw.get()).ok()
    }

    /// Where the bulk of the asset lies in memory (address and length), if
    /// anywhere in particular. The store prefetches it while it checks a
    /// lookup's id; it is never dereferenced, so any value is safe.
    #[doc(hidden)]
    fn bulk(&self, _: sealed::Hook) -> (usize, usize) {
        (0, 0)
    }
}

pub(crate) mod sealed {
    /// Passed to [`Asset`](super::Asset)'s hidden hooks. Public in a private
    /// module: other crates cannot name it, so cannot call or override them.
    #[derive(Clone, Copy)]
    pub struct Hook;
}

impl Asset for serde_json::Value {
    fn id(&self) -> Option<Cow<'_, str>> {
        match self.get("id") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }
}

/// A JSON object kept as the exact text it arrived as.
///
/// Keeping text instead of a parsed tree is what lets the C ABI return an
/// asset with one copy, store a 100k-asset cache in about its file size, and
/// write back numbers and strings byte for byte as the Python original wrote
/// them (integers beyond 64 bits, escapes, key order, duplicate keys).
#[derive(Clone)]
pub struct RawAsset(Text);

#[derive(Clone)]
enum Text {
    Owned(Box<RawValue>),
    /// Inside the bytes of the file it was read from, shared by every asset
    /// read with it: opening a cache allocates nothing per asset, and the
    /// assets lie together in a few large pages instead of scattered over
    /// the heap, which is what a lookup in a large cache mostly waits on.
    InFile {
        raw: NonNull<RawValue>,
        _file: Arc<Vec<u8>>,
    },
}

// SAFETY: `InFile::raw` points into the `Vec` that `_file` keeps alive; that
// buffer is never written after being shared, so the pointer behaves as a
// shared reference to immutable data, which is Send and Sync.
unsafe impl Send for Text {}
// SAFETY: as above.
unsafe impl Sync for Text {}

impl PartialEq for RawAsset {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Eq for RawAsset {}

impl RawAsset {
    /// Parses `text` as one JSON object with a non-empty string `id`.
    pub fn parse(text: &str) -> Result<Self> {
        let raw: Box<RawValue> = serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::InvalidJson, format!("invalid JSON: {e}")))?;
        let asset = RawAsset::from_raw(raw);
        asset.checked_id()?;
        Ok(asset)
    }

    /// Wraps an already validated JSON value (from an array element, a file).
    /// Text spread over lines (pretty-printed input, the Python original's
    /// indented file) is made compact: the file keeps one asset a line.
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        if has_line_break_or_tab(raw.get().as_bytes()) {
            let compact = minify(raw.get());
            if let Ok(raw) = RawValue::from_string(compact) {
                return RawAsset(Text::Owned(raw));
            }
        }
        RawAsset(Text::Owned(raw))
    }

    fn raw(&self) -> &RawValue {
        match &self.0 {
            Text::Owned(raw) => raw,
            // SAFETY: see `Text`: the pointee lives as long as `_file`.
            Text::InFile { raw, .. } => unsafe { raw.as_ref() },
        }
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.raw().get()
    }

    /// The id, or an error saying what is wrong with it: MissingId when
    /// there is no non-empty string "id", InvalidUtf8 when the id holds a
    /// lone surrogate escape (`"\ud800"`, which JSON allows and Python
    /// writes) and so has no UTF-8 form to be looked up by.
    pub fn checked_id(&self) -> Result<String> {
        // serde's own message ("invalid type: sequence, expected a JSON
        // object at line 1 column 0") names positions the caller never wrote:
        // say plainly what was given instead.
        let probe: IdProbe = serde_json::from_str(self.json()).map_err(|e| {
            let message = match text_type_name(self.json()) {
                Some(got) => format!("asset must be a JSON object with a string \"id\", got {got}"),
                None => format!("asset {e}"),
            };
            Error::new(ErrorKind::MissingId, message)
        })?;
        match probe.0 {
            Some(IdText::Str(id)) if !id.is_empty() => Ok(id),
            Some(IdText::Str(_)) => Err(Error::new(
                ErrorKind::MissingId,
                "asset \"id\" is an empty string",
            )),
            Some(IdText::NotUnicode(text)) => Err(Error::new(
                ErrorKind::InvalidUtf8,
                format!(
                    "asset \"id\" {text} is not valid Unicode: it holds a lone surrogate \
                     escape, so it has no UTF-8 form to look it up by"
                ),
            )),
            Some(IdText::NotString(what)) => Err(Error::new(
                ErrorKind::MissingId,
                format!("asset \"id\" must be a string, not {what}"),
            )),
            None => Err(Error::new(
                ErrorKind::MissingId,
                "asset has no \"id\" member",
            )),
        }
    }
}

/// The kind of value valid JSON `text` holds, with its article ("an
/// object", "an array", "null", ...).
pub(crate) fn json_text_kind(text: &str) -> &'static str {
    text_type_name(text).unwrap_or("an object")
}

/// The kind of value valid JSON `text` holds, with its article ("an
/// array"), when it is not an object; None for an object.
fn text_type_name(text: &str) -> Option<&'static str> {
    match text.trim_start().as_bytes().first()? {
        b'{' => None,
        b'[' => Some("an array"),
        b'"' => Some("a string"),
        b't' | b'f' => Some("a boolean"),
        b'n' => Some("null"),
        _ => Some("a number"),
    }
}

impl fmt::Debug for RawAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl Asset for RawAsset {
    fn id(&self) -> Option<Cow<'_, str>> {
        self.checked_id().ok().map(Cow::Owned)
    }

    fn from_file_text(text: &str, file: &Arc<Vec<u8>>, _: sealed::Hook) -> Option<Self> {
        let raw: &RawValue = serde_json::from_str(text).ok()?;
        let (file_at, text_at) = (file.as_ptr_range(), raw.get().as_bytes().as_ptr_range());
        let in_file = file_at.start <= text_at.start && text_at.end <= file_at.end;
        if !in_file || has_line_break_or_tab(raw.get().as_bytes()) {
            return Some(RawAsset::from_raw(raw.to_owned()));
        }
        Some(RawAsset(Text::InFile {
            raw: NonNull::from(raw),
            _file: Arc::clone(file),
        }))
    }

    fn from_compact_raw(raw: &RawValue, file: &Arc<Vec<u8>>, _: sealed::Hook) -> Option<Self> {
        let (file_at, text_at) = (file.as_ptr_range(), raw.get().as_bytes().as_ptr_range());
        if !(file_at.start <= text_at.start && text_at.end <= file_at.end) {
            return Some(RawAsset::from_raw(raw.to_owned()));
        }
        Some(RawAsset(Text::InFile {
            raw: NonNull::from(raw),
            _file: Arc::clone(file),
        }))
    }

    fn bulk(&self, _: sealed::Hook) -> (usize, usize) {
        (self.json().as_ptr() as usize, self.json().len())
    }
}

impl Serialize for RawAsset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw().serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawAsset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(RawAsset::from_raw)
    }
}

/// Whether `bytes` holds a `\n`, `\r` or `\t`. Checked 64 bytes at a time
/// without an early exit inside a block, which the compiler turns into wide
/// vector compares: every asset read from a file passes through here, and the
/// byte-at-a-time version was the largest single cost of opening a cache.
fn has_line_break_or_tab(bytes: &[u8]) -> bool {
    let hit = |b: &u8| u8::from(*b == b'\n') | u8::from(*b == b'\r') | u8::from(*b == b'\t');
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        if block.iter().fold(0u8, |acc, b| acc | hit(b)) != 0 {
            return true;
        }
    }
    blocks.remainder().iter().any(|b| hit(b) != 0)
}

/// Drops the whitespace between JSON tokens; strings are copied untouched.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
            in_string = c == '"';
        }
    }
    out
}

/// The top-level `"id"` of a JSON object (last one wins, as in Python's json),
/// found without building the rest of the object.
struct IdProbe(Option<IdText>);

enum IdText {
    Str(String),
    /// A string whose escapes decode to a lone surrogate: its JSON text.
    NotUnicode(String),
    /// Not a string: the JSON type it is.
    NotString(&'static str),
}

impl IdText {
    fn from_raw(raw: &RawValue) -> IdText {
        let text = raw.get();
        if !text.starts_with('"') {
            return match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => IdText::NotString(json_type_name(&v)),
                Err(_) => IdText::NotString("a value"),
            };
        }
        match serde_json::from_str::<String>(text) {
            Ok(s) => IdText::Str(s),
            // The text is a valid JSON string (RawValue checked it), so the
            // only way to fail is an escape naming a lone surrogate.
            Err(_) => IdText::NotUnicode(text.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for IdProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdProbe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdProbe, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "id" {
                        let raw: &RawValue = map.next_value()?;
                        id = Some(IdText::from_raw(raw));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IdProbe(id))
            }
        }
        d.deserialize_map(V)
    }
}

fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_object_is_named_plainly() {
        // Checked: with serde's message back ("asset {e}") this fails: it said
        // "invalid type: sequence, expected a JSON object at line 1 column 0".
        for (text, got) in [
            ("[1,2]", "an array"),
            ("null", "null"),
            ("7", "a number"),
            ("\"x\"", "a string"),
            ("true", "a boolean"),
        ] {
            let e = RawAsset::parse(text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::MissingId, "{text}");
            assert_eq!(
                e.to_string(),
                format!("asset must be a JSON object with a string \"id\", got {got}"),
                "{text}"
            );
        }
    }

    #[test]
    fn parse_keeps_text_and_finds_id() {
        let a = RawAsset::parse(r#" {"id":"m1","n":1e400,"big":123456789012345678901234567890} "#)
            .unwrap();
        assert_eq!(
            a.json(),
            r#"{"id":"m1","n":1e400,"big":123456789012345678901234567890}"#
        );
        assert_eq!(a.checked_id().unwrap(), "m1");
    }

    #[test]
    fn parse_rejects_what_is_not_an_identified_object() {
        let kind = |t: &str| RawAsset::parse(t).unwrap_err().kind();
        assert_eq!(kind("{"), ErrorKind::InvalidJson);
        assert_eq!(kind("[1]"), ErrorKind::MissingId);
        assert_eq!(kind("{}"), ErrorKind::MissingId);
        assert_eq!(kind(r#"{"id":""}"#), ErrorKind::MissingId);
        assert_eq!(kind(r#"{"id":7}"#), ErrorKind::MissingId);
        assert_eq!(kind(r#"{"id":"a"} x"#), ErrorKind::InvalidJson);
    }

    #[test]
    fn pretty_input_is_made_compact_but_strings_are_not_touched() {
        let a = RawAsset::parse("{\n    \"id\": \"a b\",\n\t\"s\": \" \\\" x \"\n}").unwrap();
        assert_eq!(a.json(), r#"{"id":"a b","s":" \" x "}"#);
    }

    #[test]
    fn line_break_or_tab_is_found_at_any_position() {
        for len in [0, 1, 63, 64, 65, 200] {
            let clean = vec![b'a'; len];
            assert!(!has_line_break_or_tab(&clean), "len {len}");
            for at in 0..len {
                for c in [b'\n', b'\r', b'\t'] {
                    let mut v = clean.clone();
                    v[at] = c;
                    assert!(has_line_break_or_tab(&v), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn an_id_with_a_lone_surrogate_is_invalid_utf8_naming_it() {
        // Before: MISSING_ID "asset unexpected end of hex escape" (checked by
        // reverting checked_id to deserialize the id as a serde_json::Value).
        for text in [r#"{"id":"\ud800"}"#, r#"{"id":"scan-\udcff.bin","x":1}"#] {
            let e = RawAsset::parse(text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidUtf8, "{text}: {e}");
            assert!(e.message().contains("lone surrogate"), "{e}");
        }
        let e = RawAsset::parse(r#"{"id":"scan-\udcff.bin"}"#).unwrap_err();
        assert!(e.message().contains(r#""scan-\udcff.bin""#), "{e}");
        // Paired surrogates are a character; lone ones in values stay allowed.
        let a = RawAsset::parse(r#"{"id":"\ud83d\ude00","v":"\udc00"}"#).unwrap();
        assert_eq!(a.checked_id().unwrap(), "\u{1f600}");
    }

    #[test]
    fn last_duplicate_id_wins_like_python() {
        let a = RawAsset::parse(r#"{"id":"a","id":"b"}"#).unwrap();
        assert_eq!(a.checked_id().unwrap(), "b");
    }

    #[test]
    fn file_text_is_kept_in_place_and_outlives_the_callers_handle() {
        let file = Arc::new(b"xx {\"id\":\"a\",\"v\":[1, 2]} yy {\"id\":\"b\",\t\"v\":1}".to_vec());
        let text = |range: std::ops::Range<usize>| std::str::from_utf8(&file[range]).unwrap();
        let a = RawAsset::from_file_text(text(3..24), &file, sealed::Hook).unwrap();
        let (addr, len) = a.bulk(sealed::Hook);
        assert_eq!(
            (addr, len),
            (file.as_ptr() as usize + 3, 21),
            "points into the file"
        );
        // A tab is made compact, so that text cannot stay in place.
        let b = RawAsset::from_file_text(text(28..file.len()), &file, sealed::Hook).unwrap();
        assert_eq!(b.json(), r#"{"id":"b","v":1}"#);
        assert!(
            !(file.as_ptr() as usize..file.as_ptr() as usize + file.len())
                .contains(&b.bulk(sealed::Hook).0)
        );
        // Text that is not inside `file` is copied.
        let elsewhere = String::from(r#"{"id":"c"}"#);
        let c = RawAsset::from_file_text(&elsewhere, &file, sealed::Hook).unwrap();
        drop(elsewhere);
        assert_eq!(c.json(), r#"{"id":"c"}"#);
        assert!(RawAsset::from_file_text("{", &file, sealed::Hook).is_none());
        drop(file);
        let a2 = a.clone();
        drop(a);
        assert_eq!(a2.json(), r#"{"id":"a","v":[1, 2]}"#);
        assert_eq!(
            serde_json::to_string(&a2).unwrap(),
            r#"{"id":"a","v":[1, 2]}"#
        );
    }
}
