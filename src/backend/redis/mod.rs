//! The Redis backend: the same cache as the file backend, kept on a Redis
//! server (7.0 or later, or Valkey) so that processes on many hosts share it.
//!
//! Every write is one Lua script, atomic on the server, so writers on
//! different hosts need no lock and lose nothing; reads are served from
//! memory, and a load brings memory up to date by reading only what changed
//! (a revision counter and a log of written ids), not the whole store. The
//! key layout is in [`keys`], the scripts in `lua/`.
//!
//! | semantic | on the server |
//! | --- | --- |
//! | insertion order | `HSET assets id json`; a new id is `RPUSH`ed to `order` (a replaced one keeps its place) |
//! | whole-store expiry | `expiry` in `meta`, checked by every script against the caller's clock; `PEXPIREAT` on the four keys lets Redis free it |
//! | add to an expired store starts fresh | `add.lua`: no live meta -> `UNLINK` the four keys, new `sid` and expiry, then the add |
//! | `add_list` replaces atomically | `stage.lua` in ~1 MB slices under private keys, then `commit.lua`: `UNLINK` the old keys, `RENAME` the staged ones, new meta |
//! | `invalidate` | `invalidate.lua`: `UNLINK` the four keys |
//! | `load` catches up cheaply | `catchup.lua`: same `sid` and `rev` -> nothing; else the `log` entries since (`LRANGE`) and their values (`HMGET`) |
//! | `remove` | `remove.lua`: `HDEL`, `LREM` from `order`, a removal entry in `log` (readers replay it) |
//! | size cap (`max_entries`) | `add.lua`: a replaced id moves to the newest place (`LREM`, `RPUSH`), then `LPOP` the oldest ids past the cap and `HDEL` them, each logged as a removal |
//! | large stores | whole loads in `chunk.lua` slices of [`LOAD_CHUNK`] ids |
//! | get-or-fetch, refresh-all single-flight | `claim.lua`: `SET claim:id:<id> token NX PX lease` (or `claim:all`), or `done` when `HEXISTS` (`HLEN` for all) finds it stored; the holder's keeper renews the lease (`renew.lua`: `GET` = token -> `PEXPIRE`), `release.lua` deletes it (`GET` = token -> `DEL`); see [`claim`] |
//!
//! Expiry uses the calling host's clock, as the file backend does: hosts'
//! clocks are assumed to agree (NTP) to well within a minute.

pub(crate) mod claim;
mod conn;
mod keys;
mod scripts;

use std::collections::HashMap;
use std::time::Duration;

use redis::Value;

use super::{sealed, Backend, Change, Claimer, Edit};
use crate::asset::Asset;
use crate::error::{Error, ErrorKind, Result};
use crate::expiry;
use crate::store::Store;

use conn::Conn;
use keys::Keys;

/// Ids per slice of a whole load: about 1 MB of 1 KB assets, well under a
/// millisecond of the server's time.
pub(crate) const LOAD_CHUNK: usize = 1000;
/// Log entries answered per catch-up step.
const CATCHUP_CHUNK: usize = 1000;
/// Bytes of assets per slice of `add_list`'s staging.
const STAGE_BYTES: usize = 1 << 20;
/// Log entries kept for readers catching up (trimmed at twice this).
const LOG_KEEP: u64 = 10_000;
/// How long a half-staged `add_list` survives a writer that died.
const STAGE_TTL: Duration = Duration::from_secs(600);
/// Whole-load attempts when the store keeps being replaced meanwhile.
const LOAD_ATTEMPTS: usize = 5;

/// The store version memory reflects.
#[derive(Debug, Clone, PartialEq)]
struct Known {
    sid: String,
    rev: u64,
}

/// What a write did, for memory to follow.
#[derive(Debug, Clone, PartialEq)]
enum Written {
    /// Written on top of the version memory holds: memory applies the
    /// write itself.
    OnTop,
    /// The store had expired (or was gone): a fresh one holds only this asset.
    Fresh,
    /// Others wrote in between: memory must catch up (which brings this write).
    Behind,
}

/// What an add's script answered besides where it wrote.
#[derive(Debug, Default)]
struct Capped {
    /// The size cap moved the (replaced) id to the newest place.
    moved: bool,
    /// The ids the size cap dropped, oldest first.
    dropped: Vec<String>,
}

/// One cache on one Redis server: the connection, and the store version
/// memory reflects.
pub struct RedisBackend {
    conn: Conn,
    keys: Keys,
    name: String,
    /// Life of a store that an add starts.
    ttl: Duration,
    known: Option<Known>,
    /// The size cap, applied by `add.lua`.
    max_entries: Option<usize>,
    /// Single-flight claims, on a connection of their own.
    claimer: std::sync::Arc<claim::RedisClaimer>,
}

impl RedisBackend {
    /// The backend of cache `name` on the server at `url`
    /// (`redis://[user:password@]host[:port][/db]`): parses the URL, sends
    /// nothing yet. `timeout` bounds every step of a call.
    pub fn new(url: &str, name: &str, timeout: Duration, ttl: Duration) -> Result<Self> {
        let conn = Conn::new(url, timeout)?;
        let keys = Keys::new(name);
        Ok(RedisBackend {
            claimer: std::sync::Arc::new(claim::RedisClaimer::new(&conn, keys.clone())),
            conn,
            keys,
            name: name.to_string(),
            ttl,
            known: None,
            max_entries: None,
        })
    }

    /// The size cap (the most recently written `cap` assets are kept),
    /// applied on the server by every add.
    pub fn with_max_entries(mut self, cap: Option<usize>) -> Self {
        self.max_entries = cap;
        self
    }

    /// Where the cache lives, for messages: `redis://host:port/db` and the
    /// meta key.
    pub fn location(&self) -> String {
        format!("{} {}", self.conn.server(), self.keys.meta())
    }

    /// Forgets the version memory holds: the next load reads the whole store.
    #[cfg(test)]
    pub(crate) fn forget(&mut self) {
        self.known = None;
    }

    /// What changed since the version memory reflects. On failure `known`
    /// is as it was (and so memory, which the caller changes only on success).
    fn load<T: Asset>(&mut self) -> Result<Change<T>> {
        self.conn.begin();
        for _ in 0..LOAD_ATTEMPTS {
            let mut known = self.known.clone();
            let mut edits = Vec::new();
            loop {
                match self.catchup(known.as_ref())? {
                    // Without a version, a catch-up must answer a whole load
                    // (or none): anything else would be asked again forever.
                    Catchup::Same | Catchup::Delta { .. } if known.is_none() => {
                        return Err(self.unexpected("a catch-up from no version"))
                    }
                    Catchup::None => {
                        self.known = None;
                        return Ok(Change::Gone);
                    }
                    Catchup::Same if edits.is_empty() => return Ok(Change::Unchanged),
                    Catchup::Same => {
                        self.known = known;
                        return Ok(change_of(edits));
                    }
                    Catchup::Delta { upto, edits: more } => {
                        edits.extend(more);
                        if let Some(k) = known.as_mut() {
                            k.rev = upto;
                        }
                        self.conn.begin();
                    }
                    Catchup::Whole(at, expiry) => match self.load_whole(at, expiry)? {
                        Some((store, at)) => {
                            self.known = Some(at);
                            return Ok(Change::Whole(store));
                        }
                        None => break,
                    },
                }
            }
        }
        Err(Error::new(
            ErrorKind::Backend,
            format!(
                "{}: the store changed under a whole load {LOAD_ATTEMPTS} times (replaced, \
                 invalidated, or an id removed, which shifts positions); try again",
                self.location()
            ),
        ))
    }

    /// Reads a whole store in slices, then catches up with what was written
    /// meanwhile. `None` when the store was replaced or dropped meanwhile.
    fn load_whole<T: Asset>(
        &mut self,
        at: Known,
        expiry: f64,
    ) -> Result<Option<(Store<T>, Known)>> {
        let mut store = Store::new(expiry);
        let mut start = 0usize;
        let mut at = at;
        loop {
            self.conn.begin();
            let reply: Value = self.conn.run("load", |con| {
                scripts::CHUNK
                    .key(&self.keys.live[..])
                    .arg(&at.sid)
                    .arg(start)
                    .arg(LOAD_CHUNK)
                    .arg(expiry::now())
                    .arg(at.rev)
                    .invoke(con)
            })?;
            if self.conn.take_reconnected() {
                // Maybe another server's data since `at`: start again.
                return Ok(None);
            }
            let mut parts = array(reply, "chunk")?.into_iter();
            let (ids, values) = match text(parts.next(), "chunk tag")?.as_str() {
                "moved" => return Ok(None),
                "end" => (Vec::new(), Vec::new()),
                "chunk" => (
                    array(parts.next().unwrap_or(Value::Nil), "chunk ids")?,
                    array(parts.next().unwrap_or(Value::Nil), "chunk values")?,
                ),
                other => return Err(self.unexpected(&format!("chunk tag {other:?}"))),
            };
            let rev = int(parts.next(), "chunk revision")?;
            if start == 0 {
                // The load stands at the first slice's revision (the
                // catch-up after it starts there), not at the one the
                // catch-up that chose a whole load saw: writes in between
                // are in the slice, and removals in between no longer
                // restart it.
                at.rev = rev;
            }
            let last = ids.len() < LOAD_CHUNK;
            start += ids.len();
            for (id, value) in ids.into_iter().zip(values) {
                let id = text(Some(id), "id")?;
                if let Some(asset) = self.decode(&id, value) {
                    store.insert(id, asset);
                }
            }
            if last {
                // A short slice is the last: no call to find the end.
                break;
            }
        }
        let mut known = at;
        loop {
            self.conn.begin();
            match self.catchup::<T>(Some(&known))? {
                Catchup::Same => return Ok(Some((store, known))),
                Catchup::Delta { upto, edits } => {
                    Edit::apply_all(&mut store, edits);
                    known.rev = upto;
                }
                Catchup::None | Catchup::Whole(..) => return Ok(None),
            }
        }
    }

    fn catchup<T: Asset>(&mut self, known: Option<&Known>) -> Result<Catchup<T>> {
        let (sid, rev) = known.map_or(("", 0), |k| (k.sid.as_str(), k.rev));
        let reply: Value = self.conn.run("load", |con| {
            scripts::CATCHUP
                .key(&self.keys.live[..])
                .arg(sid)
                .arg(rev)
                .arg(CATCHUP_CHUNK)
                .arg(expiry::now())
                .invoke(con)
        })?;
        let mut parts = array(reply, "catch-up")?.into_iter();
        let tag = text(parts.next(), "catch-up tag")?;
        if tag == "none" {
            return Ok(Catchup::None);
        }
        let sid = text(parts.next(), "store id")?;
        let rev = int(parts.next(), "revision")?;
        let expiry = float(parts.next(), "expiry")?;
        if self.conn.take_reconnected() {
            // The server may have come back from older data (or be another
            // after a failover): the same store id and revision may hold
            // other writes than the ones memory reflects. Read it whole.
            self.known = None;
            return Ok(Catchup::Whole(Known { sid, rev }, expiry));
        }
        match tag.as_str() {
            "same" => Ok(Catchup::Same),
            "whole" => Ok(Catchup::Whole(Known { sid, rev }, expiry)),
            "delta" => {
                let entries = array(parts.next().unwrap_or(Value::Nil), "delta entries")?;
                let ids = array(parts.next().unwrap_or(Value::Nil), "delta ids")?;
                let values = array(parts.next().unwrap_or(Value::Nil), "delta values")?;
                let mut pairs = Vec::with_capacity(ids.len());
                for (id, value) in ids.into_iter().zip(values) {
                    let id = text(Some(id), "id")?;
                    if let Some(asset) = self.decode(&id, value) {
                        pairs.push((id, asset));
                    }
                }
                if entries.is_empty() {
                    return Ok(Catchup::Delta {
                        upto: rev,
                        edits: pairs.into_iter().map(|(k, v)| Edit::Put(k, v)).collect(),
                    });
                }
                // Removals among the entries: replay them in order. Of an
                // id's writes only the first after its last removal places
                // it (the others replace it in place), with its current
                // value; writes before that removal are undone by it.
                let entries = entries
                    .into_iter()
                    .map(log_entry)
                    .collect::<Result<Vec<_>>>()?;
                let mut last_removal: HashMap<&str, usize> = HashMap::new();
                for (i, e) in entries.iter().enumerate() {
                    if let LogEntry::Removed(id) = e {
                        last_removal.insert(id, i);
                    }
                }
                let mut current: HashMap<String, T> = pairs.into_iter().collect();
                let mut edits = Vec::with_capacity(entries.len());
                for (i, e) in entries.iter().enumerate() {
                    match e {
                        LogEntry::Removed(id) => edits.push(Edit::Remove(id.clone())),
                        LogEntry::Written(id) => {
                            let after = last_removal.get(id.as_str()).is_none_or(|&r| i > r);
                            if let Some(asset) = after.then(|| current.remove(id)).flatten() {
                                edits.push(Edit::Put(id.clone(), asset));
                            }
                        }
                    }
                }
                Ok(Catchup::Delta { upto: rev, edits })
            }
            other => Err(self.unexpected(&format!("catch-up tag {other:?}"))),
        }
    }

    /// Adds (or replaces) one asset on the server: `add.lua`, one round trip,
    /// which also applies the size cap. A fresh store, should the add start
    /// one, expires at `fresh_expiry`.
    fn add(&mut self, id: &str, json: &[u8], fresh_expiry: f64) -> Result<(Written, Capped)> {
        let new_sid = new_sid();
        self.conn.begin();
        let reply: Value = self.conn.run("add", |con| {
            scripts::ADD
                .key(&self.keys.live[..])
                .arg(id)
                .arg(json)
                .arg(expiry::now())
                .arg(fresh_expiry)
                .arg(&new_sid)
                .arg(LOG_KEEP)
                .arg(self.max_entries.unwrap_or(0))
                .invoke(con)
        })?;
        if self.conn.take_reconnected() {
            // As in `catchup`: memory's version may name other writes now.
            self.known = None;
        }
        let mut parts = array(reply, "add")?.into_iter();
        let sid = text(parts.next(), "store id")?;
        let rev = int(parts.next(), "revision")?;
        let entries = int(parts.next(), "log entries")?;
        let capped = Capped {
            moved: int(parts.next(), "moved")? == 1,
            dropped: parts
                .map(|d| text(Some(d), "dropped id"))
                .collect::<Result<_>>()?,
        };
        Ok((self.follow(sid, rev, entries, Some(&new_sid)), capped))
    }

    /// Where memory stands after a write that took the store to `rev` with
    /// `entries` log entries (`fresh_sid`: the id of the store the write
    /// would have started).
    fn follow(&mut self, sid: String, rev: u64, entries: u64, fresh_sid: Option<&str>) -> Written {
        let known = self.known.take();
        match known {
            Some(k) if k.sid == sid && k.rev + entries == rev => {
                self.known = Some(Known { sid, rev });
                Written::OnTop
            }
            _ if fresh_sid == Some(sid.as_str()) => {
                self.known = Some(Known { sid, rev });
                Written::Fresh
            }
            _ => {
                self.known = known;
                Written::Behind
            }
        }
    }

    /// Removes one asset on the server: `remove.lua`, one round trip.
    /// Whether it was stored, and where memory stands.
    fn remove_one(&mut self, id: &str) -> Result<(bool, Written)> {
        self.conn.begin();
        let reply: Value = self.conn.run("remove", |con| {
            scripts::REMOVE
                .key(&self.keys.live[..])
                .arg(id)
                .arg(expiry::now())
                .arg(LOG_KEEP)
                .invoke(con)
        })?;
        if self.conn.take_reconnected() {
            self.known = None;
        }
        let mut parts = array(reply, "remove")?.into_iter();
        let sid = text(parts.next(), "store id")?;
        let rev = int(parts.next(), "revision")?;
        let entries = int(parts.next(), "log entries")?;
        let removed = int(parts.next(), "removed")? == 1;
        if sid.is_empty() {
            // No live store: nothing to remove, and memory is to forget
            // whatever it holds.
            return Ok((false, Written::Behind));
        }
        Ok((removed, self.follow(sid, rev, entries, None)))
    }

    /// Replaces the whole store by `store` (with its expiry), staged in
    /// slices and swapped in at once.
    fn replace_all<T: Asset>(&mut self, store: &Store<T>) -> Result<()> {
        let sid = new_sid();
        let stage = self.keys.stage(&sid);
        let result = self.stage_and_commit(store, &sid, &stage);
        if matches!(&result, Err(e) if e.kind() == ErrorKind::Backend) {
            // Refused (a key of another type at a live key, out of memory):
            // what was staged would otherwise sit on the server until its
            // TTL ends. Not tried when the server is out of reach, which
            // would only make the caller wait once more.
            self.conn.begin();
            let dropped: Result<i64> = self
                .conn
                .run("add_list (dropping the staged store)", |con| {
                    redis::cmd("UNLINK").arg(&stage[..]).query(con)
                });
            if let Err(e) = dropped {
                crate::log::warn(&format!(
                    "{}: staged keys {stage:?} not dropped ({e}); they expire within {} s",
                    self.location(),
                    STAGE_TTL.as_secs()
                ));
            }
        }
        result
    }

    fn stage_and_commit<T: Asset>(
        &mut self,
        store: &Store<T>,
        sid: &str,
        stage: &[String; 2],
    ) -> Result<()> {
        let stage_ms = STAGE_TTL.as_millis() as u64;
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut entries = store.iter().peekable();
        while entries.peek().is_some() {
            batch.clear();
            let mut bytes = 0;
            for (id, asset) in entries.by_ref() {
                let json = to_json(asset)?;
                bytes += id.len() + json.len();
                batch.push(id.as_bytes().to_vec());
                batch.push(json);
                if bytes >= STAGE_BYTES {
                    break;
                }
            }
            self.conn.begin();
            let _: i64 = self.conn.run("add_list (staging)", |con| {
                scripts::STAGE
                    .key(&stage[..])
                    .arg(stage_ms)
                    .arg(&batch)
                    .invoke(con)
            })?;
        }
        self.conn.begin();
        let reply: Value = self.conn.run("add_list", |con| {
            scripts::COMMIT
                .key(&self.keys.live[..])
                .key(&stage[..])
                .arg(sid)
                .arg(store.expiry())
                .arg(store.len())
                .invoke(con)
        })?;
        let (sid, rev) = self.written(reply)?;
        // Memory is the store just written, whatever the server held before.
        self.conn.take_reconnected();
        self.known = Some(Known { sid, rev });
        Ok(())
    }

    /// `{sid, rev}` as the write scripts answer.
    fn written(&self, reply: Value) -> Result<(String, u64)> {
        let mut parts = array(reply, "write")?.into_iter();
        Ok((
            text(parts.next(), "store id")?,
            int(parts.next(), "revision")?,
        ))
    }

    /// An asset read from the server; one that does not parse (written there
    /// by something else) is skipped with a warning rather than failing
    /// every load.
    fn decode<T: Asset>(&self, id: &str, value: Value) -> Option<T> {
        let Value::BulkString(bytes) = value else {
            return None; // removed between the log and the read
        };
        match serde_json::from_slice::<T>(&bytes) {
            Ok(asset) => Some(asset),
            Err(e) => {
                crate::log::warn(&format!(
                    "{} cache {:?}: skipping asset {id:?}, which is not valid JSON ({e})",
                    self.conn.server(),
                    self.name
                ));
                None
            }
        }
    }

    fn unexpected(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::Backend,
            format!("{} gave an unexpected answer: {what}", self.location()),
        )
    }
}

/// Checks a server URL without connecting (see [`RedisBackend::new`]).
pub fn check_url(url: &str) -> Result<()> {
    Conn::new(url, Duration::from_secs(1)).map(drop)
}

impl sealed::Sealed for RedisBackend {}

/// Redis needs no lock: every write is one atomic script, and a reader
/// catches up to a consistent version (see `catchup.lua`, `chunk.lua`).
impl<T: Asset> Backend<T> for RedisBackend {
    type ReadLock = ();
    type WriteLock = ();

    fn read_lock(&mut self) -> Result<()> {
        Ok(())
    }

    fn write_lock(&mut self) -> Result<()> {
        Ok(())
    }

    fn sync_read(&mut self, _: &mut (), _memory: &Store<T>) -> Result<Option<Change<T>>> {
        self.load().map(Some)
    }

    fn sync(&mut self, _: &mut (), _memory: &Store<T>) -> Result<Change<T>> {
        self.load()
    }

    fn syncs_before_write(&self) -> bool {
        false
    }

    fn append(
        &mut self,
        _: &mut (),
        _memory: &Store<T>,
        id: &str,
        asset: &T,
    ) -> Result<Option<Change<T>>> {
        let json = to_json(asset)?;
        let fresh_expiry = expiry::expiry_from(expiry::now(), self.ttl);
        let copy = || {
            serde_json::from_slice::<T>(&json)
                .map_err(|e| Error::new(ErrorKind::InvalidJson, format!("asset {id:?}: {e}")))
        };
        match self.add(id, &json, fresh_expiry)? {
            (
                Written::OnTop,
                Capped {
                    moved: false,
                    dropped,
                },
            ) if dropped.is_empty() => Ok(None),
            // The cap moved the id to the newest place or dropped the
            // oldest: memory does the same.
            (Written::OnTop, Capped { moved, dropped }) => {
                let mut edits: Vec<Edit<T>> = dropped.into_iter().map(Edit::Remove).collect();
                if moved {
                    edits.push(Edit::Remove(id.to_string()));
                }
                edits.push(Edit::Put(id.to_string(), copy()?));
                Ok(Some(Change::Edited(edits)))
            }
            (Written::Fresh, _) => {
                let mut fresh = Store::new(fresh_expiry);
                fresh.insert(id.to_string(), copy()?);
                Ok(Some(Change::Whole(fresh)))
            }
            // Others wrote first: their adds come before ours, in the order
            // the server holds, and a catch-up brings them (ours included,
            // and whatever the cap dropped). The add is stored even if that
            // fails: memory then inserts it, and the next load puts the
            // rest in place.
            (Written::Behind, _) => Ok(self.load().ok()),
        }
    }

    fn caps_on_append(&self) -> bool {
        true
    }

    fn remove(
        &mut self,
        _: &mut (),
        _memory: &Store<T>,
        id: &str,
    ) -> Result<(bool, Option<Change<T>>)> {
        let (removed, written) = self.remove_one(id)?;
        Ok(match written {
            Written::OnTop | Written::Fresh => (removed, None),
            // Memory catches up, the removal included; should that fail,
            // it removes the id itself and the next load does the rest.
            Written::Behind => (removed, self.load().ok()),
        })
    }

    fn rewrite(&mut self, _: &mut (), store: &Store<T>) -> Result<()> {
        self.replace_all(store)
    }

    /// Nothing to compact on a server: storage stays as it is (rewriting it
    /// from memory would drop other hosts' adds made since the last load).
    fn save(&mut self, _: &mut (), _memory: &Store<T>) -> Result<()> {
        Ok(())
    }

    /// Every script already treats an expired store as gone, and Redis frees
    /// it (PEXPIREAT); deleting it here could delete a fresh store another
    /// host has just started.
    fn remove_expired(&mut self, _: &mut ()) -> Result<()> {
        self.known = None;
        Ok(())
    }

    fn invalidate(&mut self) -> Result<()> {
        self.conn.begin();
        let _: i64 = self.conn.run("invalidate", |con| {
            scripts::INVALIDATE.key(&self.keys.live[..]).invoke(con)
        })?;
        self.conn.take_reconnected();
        self.known = None;
        Ok(())
    }

    fn is_stored(&self) -> bool {
        self.known.is_some()
    }

    fn claimer(&self) -> Claimer {
        Claimer::Redis(self.claimer.clone())
    }

    fn arrived(&mut self, at: std::time::Instant) {
        self.conn.arrive(at);
    }
}

/// One entry of the log (see `removal` in lua/prelude.lua).
enum LogEntry {
    Written(String),
    Removed(String),
}

/// A removal entry starts with a byte that no UTF-8 text starts with.
const REMOVAL: u8 = 0xff;

fn log_entry(v: Value) -> Result<LogEntry> {
    match v {
        Value::BulkString(mut b) if b.first() == Some(&REMOVAL) => {
            b.remove(0);
            String::from_utf8(b)
                .map(LogEntry::Removed)
                .map_err(|_| bad_reply("log entry"))
        }
        other => text(Some(other), "log entry").map(LogEntry::Written),
    }
}

/// A catch-up step's answer.
enum Catchup<T> {
    /// No live store.
    None,
    /// Memory's version is the live one.
    Same,
    /// Another store, or too far behind the log: load this one whole.
    Whole(Known, f64),
    /// These were written (and removed) up to revision `upto`, in order.
    Delta { upto: u64, edits: Vec<Edit<T>> },
}

/// Writes alone are what every catch-up without removals brings.
fn change_of<T>(edits: Vec<Edit<T>>) -> Change<T> {
    if edits.iter().all(|e| matches!(e, Edit::Put(..))) {
        Change::Added(
            edits
                .into_iter()
                .filter_map(|e| match e {
                    Edit::Put(id, asset) => Some((id, asset)),
                    Edit::Remove(_) => None,
                })
                .collect(),
        )
    } else {
        Change::Edited(edits)
    }
}

fn to_json<T: Asset>(asset: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(asset).map_err(|e| {
        Error::new(
            ErrorKind::InvalidJson,
            format!("asset cannot be written as JSON: {e}"),
        )
    })
}

/// A store id (and claim token) no other has: 128 random bits drawn once
/// per process (32 hex digits), and a counter.
///
/// Drawn again in a child of `fork()`: a child inherits the parent's bits
/// and counter, and would draw the very ids the parent draws next (a store
/// the child starts would then look, to the parent's next add, like the
/// fresh store that add started itself, and the child's assets would be
/// missing from the parent's memory for good). The bits are kept with the
/// process id they were drawn in, behind an atomic pointer rather than a
/// mutex, which a fork could leave locked in the child.
fn new_sid() -> String {
    use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
    struct Prefix {
        pid: u32,
        bits: String,
    }
    static PREFIX: AtomicPtr<Prefix> = AtomicPtr::new(std::ptr::null_mut());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let mut current = PREFIX.load(Ordering::Acquire);
    // SAFETY: a non-null pointer in PREFIX is a leaked Box, never freed.
    if current.is_null() || unsafe { (*current).pid } != pid {
        let fresh = Box::into_raw(Box::new(Prefix {
            pid,
            bits: super::file::format::new_rev(),
        }));
        current = match PREFIX.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // The one it replaces (the parent's) is leaked: another thread
            // of this process cannot be reading it (the child has only the
            // forking thread), but one Box per fork is not worth the proof.
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` was never published.
                drop(unsafe { Box::from_raw(fresh) });
                winner
            }
        };
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // SAFETY: as above; the Box it points to is never freed.
    format!("{}-{n}", unsafe { &(*current).bits })
}

fn bad_reply(what: &str) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("the server's answer has no valid {what} (is it a Redis 7 server?)"),
    )
}

fn array(v: Value, what: &str) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(bad_reply(what)),
    }
}

fn text(v: Option<Value>, what: &str) -> Result<String> {
    match v {
        Some(Value::BulkString(b)) => String::from_utf8(b).map_err(|_| bad_reply(what)),
        Some(Value::SimpleString(s)) => Ok(s),
        _ => Err(bad_reply(what)),
    }
}

fn int(v: Option<Value>, what: &str) -> Result<u64> {
    match v {
        Some(Value::Int(n)) if n >= 0 => Ok(n as u64),
        Some(other) => text(Some(other), what)?
            .parse()
            .map_err(|_| bad_reply(what)),
        None => Err(bad_reply(what)),
    }
}

fn float(v: Option<Value>, what: &str) -> Result<f64> {
    text(v, what)?.parse().map_err(|_| bad_reply(what))
}

#[cfg(test)]
mod server_tests;
