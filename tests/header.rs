//! The committed header is what build.rs generates, and its version macros
//! agree with Cargo.toml and with the library's runtime version.

use std::ffi::CStr;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/asset_cache.h"));
const COMMITTED: &str = include_str!("../include/asset_cache.h");

#[test]
fn committed_header_matches_generated() {
    assert!(
        GENERATED == COMMITTED,
        "include/asset_cache.h is stale: run `cargo build` outside CI and commit the result"
    );
}

fn macro_value(name: &str) -> String {
    COMMITTED
        .lines()
        .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("{name} missing"))
        .trim()
        .trim_matches('"')
        .to_string()
}

#[test]
fn version_macros_agree_with_cargo_toml_and_runtime() {
    let manifest = include_str!("../Cargo.toml");
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .unwrap()
        .trim_matches('"');
    assert_eq!(macro_value("ASSET_CACHE_VERSION_STRING"), version);
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(
        macro_value("ASSET_CACHE_VERSION_MAJOR"),
        parts[0].to_string()
    );
    assert_eq!(
        macro_value("ASSET_CACHE_VERSION_MINOR"),
        parts[1].to_string()
    );
    assert_eq!(
        macro_value("ASSET_CACHE_VERSION_PATCH"),
        parts[2].to_string()
    );
    let number = parts[0] * 10000 + parts[1] * 100 + parts[2];
    assert_eq!(
        macro_value("ASSET_CACHE_VERSION_NUMBER"),
        number.to_string()
    );
    assert_eq!(asset_cache::ffi::asset_cache_version_number(), number);
    let runtime = unsafe { CStr::from_ptr(asset_cache::ffi::asset_cache_version()) };
    assert_eq!(runtime.to_str().unwrap(), version);
}

#[test]
fn every_function_type_field_and_constant_in_the_header_is_documented() {
    let lines: Vec<&str> = COMMITTED.lines().collect();
    let mut checked = 0;
    let mut in_params = false;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if in_params {
            in_params = !line.trim_end().ends_with(';');
            continue;
        }
        let is_comment = t.starts_with("/*") || t.starts_with('*') || t.starts_with("//");
        let declares = !is_comment
            && !t.is_empty()
            && !t.starts_with('#')
            && !t.starts_with('}')
            && !t.starts_with("extern \"C\"")
            && (t.contains("asset_cache") || t.contains("ASSET_CACHE") || line.starts_with("  "));
        if !declares {
            continue;
        }
        if t.contains('(') && !t.trim_end().ends_with(';') {
            in_params = true;
        }
        let before = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap();
        assert!(
            before.trim_end().ends_with("*/"),
            "undocumented header item at line {}: {line}",
            i + 1
        );
        checked += 1;
    }
    assert!(
        checked > 40,
        "only {checked} items found: the check is broken"
    );
}
