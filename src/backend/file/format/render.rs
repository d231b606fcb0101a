//! Writing the file's bytes: a whole file with its reservoir, one record.

use super::{reservoir_len, REV_KEY, TAIL};
use crate::error::{Error, Result};
use crate::store::Kept;

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
