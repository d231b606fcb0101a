//! The key layout of one cache on Redis.
//!
//! A cache named `model` lives in four keys, all with the hash tag `{model}`
//! so that they share one cluster slot (a script may only touch keys of one
//! slot):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `asset-cache:{model}:meta` | hash | `sid` (id of this store, unique), `expiry` (Unix seconds, the writer's clock), `base` (revision before the log's first entry) |
//! | `asset-cache:{model}:assets` | hash | id -> asset JSON text |
//! | `asset-cache:{model}:order` | list | ids in first-insertion order (the Python dict order) |
//! | `asset-cache:{model}:log` | list | the id written by each revision `base+1..=base+LLEN`: a store's revision (writes so far) is `base` plus the log's length |
//!
//! A single-flight claim is a string key holding its claimer's token, with a
//! lease (PX): `asset-cache:{model}:claim:all` for refresh-all,
//! `asset-cache:{model}:claim:id:<id>` for one id (see `claim.rs`).
//!
//! `add_list` builds the new store under `asset-cache:{model}:stage:<sid>:assets`
//! and `...:order` first, then renames them into place.

use crate::backend::file::claim::Target;

/// The keys of one cache, in the order the scripts take them.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    /// meta, assets, order, log.
    pub live: [String; 4],
}

impl Keys {
    pub fn new(name: &str) -> Keys {
        let prefix = format!("asset-cache:{{{name}}}:");
        let live = ["meta", "assets", "order", "log"].map(|k| format!("{prefix}{k}"));
        Keys { prefix, live }
    }

    /// The staging keys (hash, list) of a store being built by `add_list`.
    pub fn stage(&self, sid: &str) -> [String; 2] {
        ["assets", "order"].map(|k| format!("{}stage:{sid}:{k}", self.prefix))
    }

    /// The key of the single-flight claim on `target`.
    pub fn claim(&self, target: Target<'_>) -> String {
        match target {
            Target::All => format!("{}claim:all", self.prefix),
            Target::Id(id) => format!("{}claim:id:{id}", self.prefix),
        }
    }

    pub fn meta(&self) -> &str {
        &self.live[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_same_hash_tag() {
        let k = Keys::new("model");
        assert_eq!(k.meta(), "asset-cache:{model}:meta");
        assert_eq!(k.claim(Target::All), "asset-cache:{model}:claim:all");
        assert_eq!(
            k.claim(Target::Id("m:1")),
            "asset-cache:{model}:claim:id:m:1"
        );
        assert_eq!(k.live[3], "asset-cache:{model}:log");
        assert_eq!(
            k.stage("ab12"),
            [
                "asset-cache:{model}:stage:ab12:assets".to_string(),
                "asset-cache:{model}:stage:ab12:order".to_string()
            ]
        );
    }
}
