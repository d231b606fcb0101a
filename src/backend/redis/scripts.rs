//! The Lua scripts that implement every operation atomically on the server,
//! each one file in `lua/` after a shared prelude. `redis::Script` sends
//! EVALSHA and falls back to EVAL (loading the script) when the server does
//! not know it yet, e.g. after a restart.

use once_cell::sync::Lazy;
use redis::Script;

macro_rules! script {
    ($file:literal) => {
        Lazy::new(|| {
            Script::new(concat!(
                include_str!("lua/prelude.lua"),
                "\n",
                include_str!(concat!("lua/", $file))
            ))
        })
    };
}

/// A script that needs none of the prelude (it touches one key of its own).
macro_rules! bare_script {
    ($file:literal) => {
        Lazy::new(|| Script::new(include_str!(concat!("lua/", $file))))
    };
}

pub(crate) static ADD: Lazy<Script> = script!("add.lua");
pub(crate) static CATCHUP: Lazy<Script> = script!("catchup.lua");
pub(crate) static CHUNK: Lazy<Script> = script!("chunk.lua");
pub(crate) static STAGE: Lazy<Script> = script!("stage.lua");
pub(crate) static COMMIT: Lazy<Script> = script!("commit.lua");
pub(crate) static REMOVE: Lazy<Script> = script!("remove.lua");
pub(crate) static INVALIDATE: Lazy<Script> = script!("invalidate.lua");
pub(crate) static CLAIM: Lazy<Script> = script!("claim.lua");
pub(crate) static RELEASE: Lazy<Script> = bare_script!("release.lua");
pub(crate) static RENEW: Lazy<Script> = bare_script!("renew.lua");
