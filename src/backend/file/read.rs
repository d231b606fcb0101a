//! Bringing memory up to date with the file: what changed since the version
//! memory reflects (records written since, or the whole file reread), the
//! repair or setting aside of a file that does not parse, and the accounting
//! of the live records' bytes that bounds the file's size.

use std::sync::Arc;

use super::format::{self, Layout, Unreadable, TAIL};
use super::io::{self, Opened};
use super::{FileBackend, Identity, WriteLock};
use crate::asset::Asset;
use crate::backend::Change;
use crate::error::Result;
use crate::log;
use crate::store::Store;

/// What a read of the file found.
pub(super) enum Read<T> {
    Done(Change<T>),
    /// Not readable as it is: only a writer may repair it or set it aside.
    Unreadable(Arc<Vec<u8>>, String),
}

impl FileBackend {
    /// No file: memory must start afresh if it reflected anything.
    pub(super) fn absent<T: Asset>(&mut self, memory: &Store<T>) -> Change<T> {
        if self.known.is_some() || !memory.is_empty() {
            self.known = None;
            Change::Gone
        } else {
            Change::Unchanged
        }
    }

    pub(super) fn read<T: Asset>(
        &mut self,
        opened: Option<&Opened>,
        memory: &Store<T>,
    ) -> Result<Read<T>> {
        let Some(opened) = opened else {
            return Ok(Read::Done(self.absent(memory)));
        };
        if let Some(known) = self
            .known
            .as_ref()
            .filter(|_| opened.size <= io::MAX_FILE_BYTES)
        {
            if known.dev == opened.dev && known.ino == opened.ino && known.rev.is_some() {
                // Ours has the rev in its header line; a hybrid file in its
                // closing (see `format::splice`).
                let rev = if known.layout == Layout::Hybrid {
                    let n = opened.size.min(format::HYBRID_TAIL_LEN as u64);
                    let end = opened.read_at(opened.size - n, n, &self.cache_path)?;
                    format::tail_rev(&end)
                } else {
                    let head = opened.read_at(0, opened.size.min(256), &self.cache_path)?;
                    format::header_rev(&head)
                };
                if rev == known.rev {
                    let new = match known.end {
                        None if opened.size == known.size => Some(Vec::new()),
                        Some(end) if opened.size == known.size => {
                            self.read_new_records(opened, end, memory)?
                        }
                        // A writer of version 0.1 appended over the closing `}}`.
                        _ if opened.size > known.size && known.layout == Layout::Ours => {
                            self.read_appended(opened, memory)?
                        }
                        _ => None,
                    };
                    if let Some(pairs) = new {
                        return Ok(Read::Done(if pairs.is_empty() {
                            Change::Unchanged
                        } else {
                            Change::Added(pairs)
                        }));
                    }
                }
            }
        }
        self.read_whole(opened)
    }

    /// Reads the records others wrote into the reservoir since the last one
    /// we know (none: an empty list). `None` when the bytes there are not
    /// clean records (then the whole file is reread).
    pub(super) fn read_new_records<T: Asset>(
        &mut self,
        opened: &Opened,
        end: u64,
        memory: &Store<T>,
    ) -> Result<Option<Vec<(String, T)>>> {
        let tail_len = self
            .known
            .as_ref()
            .map_or(TAIL.len() as u64, |k| k.tail_len());
        let Some(tail) = opened.size.checked_sub(tail_len).filter(|&t| t >= end) else {
            return Ok(None);
        };
        // Usually nothing new: the spaces up to the next page boundary say so.
        let mut region = Vec::new();
        let mut upto = (format::next_page(end) + 1).min(tail);
        let new_end = loop {
            let from = end + region.len() as u64;
            region.extend_from_slice(&opened.read_at(from, upto - from, &self.cache_path)?);
            if let Some(new_end) = format::records_since(end, &region, tail) {
                break new_end;
            }
            upto = (upto + 64 * 1024).min(tail);
        };
        if new_end == end {
            return Ok(Some(Vec::new()));
        }
        let Ok(pairs) = format::parse_new_records::<T>(&region[..(new_end - end) as usize]) else {
            return Ok(None);
        };
        let Some(known) = self.known.as_mut() else {
            return Ok(None);
        };
        known.live = live_after(known.live, &pairs, memory);
        known.end = Some(new_end);
        Ok(Some(pairs))
    }

    /// Reads the records a writer of version 0.1 appended over the closing
    /// `}}` (from its old offset to the end). `None` when the bytes are not
    /// clean appends (then the whole file is reread).
    pub(super) fn read_appended<T: Asset>(
        &mut self,
        opened: &Opened,
        memory: &Store<T>,
    ) -> Result<Option<Vec<(String, T)>>> {
        let Some(known) = self.known.as_mut() else {
            return Ok(None);
        };
        let from = known.size - TAIL.len() as u64;
        let bytes = opened.read_at(from, opened.size - from, &self.cache_path)?;
        let Ok(pairs) = format::parse_new_records::<T>(&bytes) else {
            return Ok(None);
        };
        known.live = live_after(known.live, &pairs, memory);
        known.size = opened.size;
        // No reservoir after these: the next add rewrites the file.
        known.end = Some(opened.size - TAIL.len() as u64);
        Ok(Some(pairs))
    }

    pub(super) fn read_whole<T: Asset>(&mut self, opened: &Opened) -> Result<Read<T>> {
        let over = |size: u64| {
            format!(
                "it is {size} bytes, over the {}-byte limit on what is read",
                io::MAX_FILE_BYTES
            )
        };
        if opened.size > io::MAX_FILE_BYTES {
            return Ok(Read::Unreadable(Arc::new(Vec::new()), over(opened.size)));
        }
        // Only our layout starts with a header holding the rev; any other
        // (the Python original's indented file) is read through the
        // compactor, never whole.
        let head = opened.read_at(0, opened.size.min(256), &self.cache_path)?;
        if format::header_rev(&head).is_none() && !head.is_empty() {
            return self.read_foreign(opened);
        }
        let bytes = Arc::new(opened.read_all(&self.cache_path)?);
        if bytes.len() as u64 > io::MAX_FILE_BYTES {
            return Ok(Read::Unreadable(
                Arc::new(Vec::new()),
                over(bytes.len() as u64),
            ));
        }
        let parsed = match format::parse_lines::<T>(&bytes) {
            Some(parsed) => parsed,
            None => match format::parse::<T>(&bytes) {
                Ok(parsed) => parsed,
                Err(Unreadable(why)) => return Ok(Read::Unreadable(bytes, why)),
            },
        };
        self.known = Some(Identity {
            dev: opened.dev,
            ino: opened.ino,
            size: bytes.len() as u64,
            rev: parsed.rev,
            end: parsed.end,
            live: live_bytes(&parsed.store),
            layout: parsed.layout,
        });
        self.warn_kept(&parsed.store);
        Ok(Read::Done(Change::Whole(parsed.store)))
    }

    /// Reads a file in another layout (the Python original's, or a hybrid
    /// one) in chunks through the compactor: its assets end up compact in
    /// one buffer, as those of a file in our layout do, and the indented
    /// original is never held whole. A file that does not parse is read
    /// whole for the parser's message (and for repair to decide on).
    fn read_foreign<T: Asset>(&mut self, opened: &Opened) -> Result<Read<T>> {
        const CHUNK: u64 = 256 * 1024;
        // Python's indent=4 about doubles the bytes of compact JSON.
        let estimate = (opened.size / 2 + opened.size / 8) as usize;
        let no_memory = || {
            crate::error::Error::new(
                crate::error::ErrorKind::NoMemory,
                format!(
                    "cannot allocate memory to read {}: out of memory",
                    self.cache_path.display()
                ),
            )
        };
        let mut compactor = format::compact::Compactor::new(estimate).ok_or_else(no_memory)?;
        let mut chunk = vec![0u8; CHUNK as usize];
        let mut at = 0u64;
        loop {
            use std::os::unix::fs::FileExt;
            let n = opened
                .file
                .read_at(&mut chunk, at)
                .map_err(|e| crate::error::Error::io("read", &self.cache_path, e))?;
            if n == 0 {
                break;
            }
            at += n as u64;
            if at > io::MAX_FILE_BYTES {
                return Ok(Read::Unreadable(
                    Arc::new(Vec::new()),
                    format!(
                        "it is over the {}-byte limit on what is read",
                        io::MAX_FILE_BYTES
                    ),
                ));
            }
            compactor.feed(&chunk[..n]).ok_or_else(no_memory)?;
        }
        drop(chunk);
        let compacted = compactor.finish().ok_or_else(no_memory)?;
        let size = compacted.total;
        let parsed = match format::parse_compacted::<T>(compacted) {
            Ok(parsed) => parsed,
            Err(Unreadable(compact_why)) => {
                let bytes = Arc::new(opened.read_all(&self.cache_path)?);
                let why = match format::parse::<T>(&bytes) {
                    Err(Unreadable(why)) => why,
                    Ok(_) => compact_why,
                };
                return Ok(Read::Unreadable(bytes, why));
            }
        };
        self.known = Some(Identity {
            dev: opened.dev,
            ino: opened.ino,
            size,
            rev: parsed.rev,
            end: parsed.end,
            // Another writer's records count whole (see `Identity::live`).
            live: size,
            layout: parsed.layout,
        });
        self.warn_kept(&parsed.store);
        Ok(Read::Done(Change::Whole(parsed.store)))
    }

    /// Records whose id has no UTF-8 form are kept in the file as they are
    /// (see `store::Kept`); say so, naming them, whenever they are read.
    pub(super) fn warn_kept<T: Asset>(&self, store: &Store<T>) {
        let kept = store.kept();
        if kept.is_empty() {
            return;
        }
        let names: Vec<&str> = kept.iter().take(5).map(|k| k.id_json.as_str()).collect();
        log::warn(&format!(
            "{}: {} record(s) whose id is not valid Unicode (a lone surrogate escape), {}{}: \
             kept in the file as they are, but not readable through this library",
            self.cache_path.display(),
            kept.len(),
            names.join(", "),
            if kept.len() > names.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }

    /// A file that does not parse: a torn append is repaired (its complete
    /// records kept); anything else is moved aside and memory starts empty.
    /// A process that may not write there (a reader of a read-only cache)
    /// uses the complete records, or starts empty, and leaves the file for
    /// a writer to repair.
    pub(super) fn repair<T: Asset>(
        &mut self,
        lock: &mut WriteLock,
        bytes: &[u8],
        why: &str,
    ) -> Result<Change<T>> {
        let repaired = format::repair(bytes)
            .and_then(|fixed| format::parse::<T>(&fixed).ok().map(|p| (fixed, p)));
        if let Some((fixed, parsed)) = repaired {
            log::warn(&format!(
                "{}: dropping the torn last record of an add that crashed ({why})",
                self.cache_path.display()
            ));
            let rev = format::new_rev();
            let (fixed, end, live) = match format::render_file(
                parsed.store.expiry(),
                &rev,
                parsed.store.iter(),
                parsed.store.kept(),
            ) {
                Ok(r) => (r.bytes, Some(r.end), r.live),
                Err(_) => {
                    let (end, live) = (format::records_end(&fixed), live_bytes(&parsed.store));
                    (fixed, end, live)
                }
            };
            match self.replace_file(&fixed, rev, end, live) {
                Ok(()) => lock.file = io::open(&self.cache_path, true)?,
                // Not allowed to rewrite it (a read-only cache), or no room to
                // (a full disk): the complete records are still what the file
                // holds, so memory gets them; the file stays torn, unknown to
                // us, and the next write repairs it (or fails as this one did).
                Err(e) if e.is_write_denied() || e.kind() == crate::error::ErrorKind::Io => {
                    log::warn(&format!(
                        "{}: cannot repair it ({e}); using its complete records and leaving \
                         it for a writer",
                        self.cache_path.display()
                    ));
                    lock.file = None;
                    self.known = None;
                }
                Err(e) => return Err(e),
            }
            return Ok(Change::Whole(parsed.store));
        }
        lock.file = None;
        let aside = match io::quarantine(&self.cache_path) {
            Ok(aside) => aside,
            Err(e) if e.is_write_denied() => {
                log::warn(&format!(
                    "{} is unreadable ({why}) and cannot be moved aside ({e}); starting \
                     empty and leaving it for a writer",
                    self.cache_path.display()
                ));
                self.known = None;
                return Ok(Change::Gone);
            }
            Err(e) => return Err(e),
        };
        log::warn(&format!(
            "{} is unreadable ({why}); kept aside as {}, starting empty",
            self.cache_path.display(),
            aside.display()
        ));
        self.known = None;
        Ok(Change::Gone)
    }
}

/// The bytes of `store`'s records in the file.
pub(super) fn live_bytes<T: Asset>(store: &Store<T>) -> u64 {
    let kept: u64 = store
        .kept()
        .iter()
        .map(|k| (k.id_json.len() + k.asset.json().len() + 3) as u64)
        .sum();
    store
        .iter()
        .map(|(id, a)| format::record_len(id, a))
        .sum::<u64>()
        + kept
}

/// `live` after `added` is written over `memory` (each record replacing the
/// one of its id, if any, in memory or earlier in `added`).
pub(super) fn live_after<T: Asset>(mut live: u64, added: &[(String, T)], memory: &Store<T>) -> u64 {
    let mut latest: std::collections::HashMap<&str, u64> = Default::default();
    for (id, asset) in added {
        let new = format::record_len(id, asset);
        let old = latest
            .get(id.as_str())
            .copied()
            .or_else(|| memory.get(id).map(|a| format::record_len(id, a)))
            .unwrap_or(0);
        live = (live + new).saturating_sub(old);
        latest.insert(id, new);
    }
    live
}
