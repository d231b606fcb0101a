// The README's Rust example, verbatim (scripts/check-readme.sh); built by
// `cargo build --all-targets` and run by scripts/test-rust.sh.
use asset_cache::{AssetCache, Options};

fn main() -> Result<(), asset_cache::Error> {
    // .cache/model.json in the working directory, as the Python SDK's AssetCache.
    let cache: AssetCache<serde_json::Value> = AssetCache::open(Options::new("model"))?;
    cache.add(serde_json::json!({"id": "m1", "name": "GPT-4o"}))?; // on disk when add returns
    if let Some(model) = cache.get("m1") {
        println!("{}", model["name"]); // "GPT-4o"
    }
    Ok(())
}
