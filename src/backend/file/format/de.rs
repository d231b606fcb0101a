//! serde for the file's top level (`expiry`, `data`, anything else ignored)
//! and its "data" object (ids, and keys with no UTF-8 form kept as they are).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::asset::RawAsset;
use crate::store::Kept;

/// The file's top level.
pub(super) struct FileSeed<T> {
    pub(super) expiry: Option<f64>,
    pub(super) data: Option<Data<T>>,
}

/// The "data" object: assets by id, records whose id has no UTF-8 form, and
/// how many records there were (superseded ones included).
pub(super) struct Data<T> {
    pub(super) pairs: Vec<(String, T)>,
    pub(super) kept: Vec<Kept>,
    pub(super) records: usize,
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

/// Deserializes "data" into a [`Data`].
pub(super) struct DataSeed<T>(pub(super) PhantomData<T>);

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

/// The top level of a compacted file, its assets left as borrowed text
/// (validated, not decoded), and which member came last (a splice may only
/// go where "data" closes right before the end of the file).
pub(super) struct BorrowedFile<'de> {
    pub(super) expiry: Option<f64>,
    pub(super) data: Option<BorrowedData<'de>>,
    pub(super) last: Last,
    /// Members whose value was skipped unread (anything but "expiry" and
    /// "data"): serde_json does not check the UTF-8 of a skipped string, so
    /// bytes that Python's `json.load` refuses may hide there.
    pub(super) skipped: usize,
}

/// The last member of the top level.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Last {
    None,
    Data,
    Rev,
    Other,
}

pub(super) struct BorrowedData<'de> {
    pub(super) pairs: Vec<(String, &'de serde_json::value::RawValue)>,
    pub(super) kept: Vec<Kept>,
    pub(super) records: usize,
}

impl<'de> Deserialize<'de> for BorrowedFile<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BorrowedFile<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with \"expiry\" and \"data\"")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BorrowedFile {
                    expiry: None,
                    data: None,
                    last: Last::None,
                    skipped: 0,
                };
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "expiry" => {
                            let e: f64 = map
                                .next_value()
                                .map_err(|_| de::Error::custom("\"expiry\" is not a number"))?;
                            out.expiry = Some(e);
                            out.last = Last::Other;
                        }
                        "data" => {
                            out.data = Some(map.next_value::<BorrowedData<'de>>()?);
                            out.last = Last::Data;
                        }
                        // Its value is read from the file's last bytes
                        // (`tail_rev`); ignored here exactly as `FileSeed`
                        // ignores it, so that both accept the same files.
                        super::REV_KEY => {
                            map.next_value::<IgnoredAny>()?;
                            out.last = Last::Rev;
                            out.skipped += 1;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            out.last = Last::Other;
                            out.skipped += 1;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for BorrowedData<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BorrowedData<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"data\" as an object of assets by id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BorrowedData {
                    pairs: Vec::new(),
                    kept: Vec::new(),
                    records: 0,
                };
                while let Some(key) = map.next_key::<FileKey>()? {
                    out.records += 1;
                    let raw: &'de serde_json::value::RawValue = map.next_value()?;
                    match key {
                        FileKey::Id(id) => out.pairs.push((id, raw)),
                        FileKey::NotUnicode(id_json) => {
                            let asset = RawAsset::from_raw(raw.to_owned());
                            match out.kept.iter_mut().find(|k| k.id_json == id_json) {
                                Some(k) => k.asset = asset,
                                None => out.kept.push(Kept { id_json, asset }),
                            }
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}
