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

// ---- the ABI rule: what 0.1.0 declared is still declared, identically ----

const HEADER_0_1: &str = include_str!("../examples-c/abi-0.1/asset_cache.h");

/// The header's C text without comments, preprocessor lines and the C++
/// `extern "C"` wrapper, with runs of white space made one space.
fn c_text(header: &str) -> String {
    let mut out = String::new();
    let mut rest = header;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = &after[after.find("*/").expect("unterminated comment") + 2..];
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = &after[after.find('\n').unwrap_or(after.len())..];
        } else if rest.starts_with('#') && (out.is_empty() || out.ends_with('\n')) {
            rest = &rest[rest.find('\n').unwrap_or(rest.len())..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let out = out.replace("extern \"C\" {", " ");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Function prototypes by name.
fn functions(header: &str) -> std::collections::BTreeMap<String, String> {
    c_text(header)
        .split(';')
        .map(str::trim)
        .filter(|d| {
            d.contains('(') && !d.contains("typedef") && !d.contains('{') && !d.contains('}')
        })
        .map(|d| {
            let name = d[..d.find('(').unwrap()]
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap()
                .to_string();
            (name, d.to_string())
        })
        .collect()
}

/// `NAME = value` enum constants.
fn enum_constants(header: &str) -> std::collections::BTreeMap<String, i64> {
    header
        .lines()
        .filter_map(|l| {
            let (name, value) = l.trim().strip_suffix(',')?.split_once(" = ")?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .filter(|(name, _)| name.starts_with("ASSET_CACHE_"))
        .collect()
}

/// The normalized text between `from` and `to` (both included).
fn span(text: &str, from: &str, to: &str) -> String {
    let start = text.find(from).unwrap_or_else(|| panic!("{from} missing"));
    let end = start
        + text[start..]
            .find(to)
            .unwrap_or_else(|| panic!("{to} missing"));
    text[start..end + to.len()].to_string()
}

// Checked that it can fail: with `durable` moved before `ttl_seconds` in the
// Rust struct, with ASSET_CACHE_NO_MEMORY renumbered in the table, and with
// `int max_level` changed to `long`, this test failed naming the difference.
#[test]
fn everything_0_1_declared_is_declared_identically() {
    assert!(HEADER_0_1.contains("#define ASSET_CACHE_VERSION_NUMBER 100"));
    let (old, new) = (functions(HEADER_0_1), functions(COMMITTED));
    assert!(
        old.len() >= 20,
        "only {} functions parsed from the 0.1 header",
        old.len()
    );
    for (name, proto) in &old {
        assert_eq!(
            new.get(name),
            Some(proto),
            "{name} changed or disappeared since 0.1.0"
        );
    }
    let (old_c, new_c) = (enum_constants(HEADER_0_1), enum_constants(COMMITTED));
    assert!(
        old_c.len() >= 15,
        "only {} enum constants parsed",
        old_c.len()
    );
    for (name, value) in &old_c {
        assert_eq!(
            new_c.get(name),
            Some(value),
            "{name} renumbered or removed since 0.1.0"
        );
    }
    let (old_t, new_t) = (c_text(HEADER_0_1), c_text(COMMITTED));
    for (from, to) in [
        ("typedef struct {", "} asset_cache_options;"),
        ("typedef void (*asset_cache_log_callback)", ";"),
        ("typedef struct asset_cache asset_cache", ";"),
    ] {
        assert_eq!(
            span(&old_t, from, to),
            span(&new_t, from, to),
            "{from} changed since 0.1.0"
        );
    }
}

// ---- one table per code, and the bindings' copies of it ----

fn header_statuses() -> std::collections::BTreeMap<String, i64> {
    enum_constants(COMMITTED)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("ASSET_CACHE_LOG_"))
        .collect()
}

#[test]
fn header_statuses_are_the_library_table() {
    use asset_cache::ffi::asset_cache_status;
    let from_table: std::collections::BTreeMap<String, i64> = asset_cache_status::ALL
        .iter()
        .map(|s| (s.name().to_string(), *s as i64))
        .collect();
    assert_eq!(header_statuses(), from_table);
    for s in asset_cache_status::ALL {
        let text = unsafe { CStr::from_ptr(asset_cache::ffi::asset_cache_status_str(*s as i32)) };
        assert_eq!(text.to_str().unwrap(), s.text());
    }
}

/// Lines of `source` from the first containing `start` to the next that is
/// `end` or ends with it.
fn block<'a>(source: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    let mut lines = source.lines().skip_while(|l| !l.contains(start));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    for l in lines {
        out.push(l);
        if l.trim() == end || l.trim_end().ends_with(end) {
            break;
        }
    }
    assert!(out.len() > 1, "no block from {start:?} to {end:?}");
    out
}

/// Identifier-ish words of `text` that start with `prefix`.
fn words_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with(prefix) && w.len() > prefix.len())
        .collect()
}

// Checked that it can fail: with ASSET_CACHE_LOCK_TIMEOUT removed from the Go
// constants, with Node's LOCK_TIMEOUT set to 9, and with Python's PANIC set to
// 11, this test failed.
#[test]
fn bindings_copies_match_the_header() {
    let header = header_statuses();
    let failures: Vec<&str> = header
        .keys()
        .map(String::as_str)
        .filter(|n| *n != "ASSET_CACHE_OK")
        .collect();

    // Go: `StatusX Status = C.ASSET_CACHE_X` (values come from the header
    // through cgo; the list must be complete) and one sentinel per failure.
    let go = include_str!("../bindings/go/assetcache.go");
    let consts = block(go, "StatusOK ", ")");
    let mut go_names: Vec<&str> = consts
        .iter()
        .flat_map(|l| words_with(l, "ASSET_CACHE_"))
        .collect();
    go_names.sort();
    assert_eq!(
        go_names,
        header.keys().map(String::as_str).collect::<Vec<_>>(),
        "Go's Status constants"
    );
    let go_status_of = |c_name: &str| -> String {
        let line = consts
            .iter()
            .find(|l| l.contains(&format!("C.{c_name}")))
            .unwrap();
        line.split_whitespace().next().unwrap().to_string()
    };
    let sentinels = block(go, "ErrNotFound ", ")");
    for name in &failures {
        let go_status = go_status_of(name);
        assert!(
            sentinels
                .iter()
                .any(|l| l.contains(&format!("Status: {go_status}}}"))),
            "Go has no sentinel error for {go_status}"
        );
    }

    // Node: the Status object in index.js and in index.d.ts, and the error codes.
    let js = include_str!("../bindings/node/index.js");
    let dts = include_str!("../bindings/node/index.d.ts");
    for (what, lines) in [
        ("index.js Status", block(js, "const Status = ", "});")),
        ("index.d.ts Status", block(dts, "const Status:", "}>;")),
    ] {
        let node: std::collections::BTreeMap<String, i64> = lines
            .iter()
            .filter_map(|l| {
                let (k, v) = l.trim().trim_end_matches([',', ';']).split_once(": ")?;
                Some((format!("ASSET_CACHE_{k}"), v.parse().ok()?))
            })
            .collect();
        assert_eq!(node, header, "{what} differs from the header");
    }
    // Python: `class Status(enum.IntEnum)` in errors.py.
    let py = include_str!("../bindings/python/src/asset_cache/errors.py");
    let python: std::collections::BTreeMap<String, i64> =
        block(py, "class Status(", "class CacheError")
            .iter()
            .filter_map(|l| {
                let (k, v) = l.trim().split_once(" = ")?;
                Some((format!("ASSET_CACHE_{k}"), v.parse().ok()?))
            })
            .collect();
    assert_eq!(python, header, "Python's Status differs from the header");

    let codes = block(dts, "type AssetCacheErrorCode", ";");
    let mut codes: Vec<&str> = codes
        .iter()
        .flat_map(|l| words_with(l, "ASSET_CACHE_"))
        .collect();
    codes.retain(|c| *c != "ASSET_CACHE_CLOSED");
    codes.sort();
    assert_eq!(codes, failures, "index.d.ts AssetCacheErrorCode");
}

// ---- the one panic boundary ----

// Checked that it can fail: with asset_cache_string_free calling libc::free
// directly, and with run_void given another function's name, this test
// failed naming the function.
#[test]
fn every_export_runs_inside_the_boundary() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi");
    let mut exported = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(at) = line.find("extern \"C\" fn ") else {
                continue;
            };
            let name = &line[at + 14..line[at..].find('(').unwrap() + at];
            // The body's first statement, after the signature and comments.
            let open = (i..lines.len())
                .find(|&j| lines[j].trim_end().ends_with('{'))
                .unwrap();
            let body: Vec<&str> = lines[open + 1..]
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && !l.starts_with("//"))
                .take(4)
                .collect();
            let body = body.join(" ").replace("( ", "(");
            let first = body.trim_start_matches("unsafe {").trim();
            let named = |f: &str| first.starts_with(&format!("{f}(\"{name}\""));
            let ok = first.starts_with("run(")
                || first.starts_with("run_err(")
                || first.starts_with("set(cfg, \"") && first.contains(name)
                || named("run_void")
                || named("run_value");
            assert!(
                ok,
                "{name} ({}) does not start in the panic boundary: {first}",
                path.display()
            );
            exported.push(name.to_string());
        }
    }
    exported.sort();
    let declared: Vec<String> = functions(COMMITTED).into_keys().collect();
    assert_eq!(
        exported, declared,
        "the scan did not find every exported function"
    );
}

// The default lock timeout is written once, in the library (the header's
// ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS): Go, Node and C++ read it from there
// and must not write the number; Python's keyword default must equal it.
// Checked that it can fail: with "30000" written in index.d.ts, and with
// Python's default changed to 30_001, this test failed.
#[test]
fn the_default_lock_timeout_is_written_once() {
    let ms: i64 = macro_value("ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS")
        .parse()
        .unwrap();
    assert_eq!(ms as u128, asset_cache::DEFAULT_LOCK_TIMEOUT.as_millis());
    let spellings = [
        ms.to_string(),
        format!("{}_{:03}", ms / 1000, ms % 1000),
        format!("{}s", ms / 1000),
        format!("{} s", ms / 1000),
    ];
    for (file, text) in [
        (
            "bindings/go/assetcache.go",
            include_str!("../bindings/go/assetcache.go"),
        ),
        (
            "bindings/node/index.js",
            include_str!("../bindings/node/index.js"),
        ),
        (
            "bindings/node/index.d.ts",
            include_str!("../bindings/node/index.d.ts"),
        ),
        (
            "include/asset_cache.hpp",
            include_str!("../include/asset_cache.hpp"),
        ),
    ] {
        for s in &spellings {
            assert!(
                !text.contains(s.as_str()),
                "{file} writes the default lock timeout ({s})"
            );
        }
    }
    for (file, text) in [
        (
            "cache.py",
            include_str!("../bindings/python/src/asset_cache/cache.py"),
        ),
        (
            "dropin.py",
            include_str!("../bindings/python/src/asset_cache/dropin.py"),
        ),
    ] {
        let defaults: Vec<i64> = text
            .lines()
            .filter_map(|l| l.split_once("lock_timeout_ms: int = "))
            .map(|(_, v)| v.trim_end_matches(',').replace('_', "").parse().unwrap())
            .collect();
        assert!(
            !defaults.is_empty(),
            "{file}: no lock_timeout_ms default found"
        );
        assert!(
            defaults.iter().all(|&d| d == ms),
            "{file}: default {defaults:?} is not {ms}"
        );
    }
}

// Log levels: one table (src/log_levels.rs) makes the Rust and C enums; the
// Python binding's mapping to `logging` must cover exactly the header's
// levels, most severe first. Checked that it can fail: with a fifth level
// added to the table, and with Python's 2 mapped to logging.INFO, this test
// failed.
#[test]
fn log_levels_agree_with_the_header_and_python() {
    let header: Vec<(String, i64)> = enum_constants(COMMITTED)
        .into_iter()
        .filter(|(n, _)| n.starts_with("ASSET_CACHE_LOG_"))
        .collect();
    let rust: Vec<(String, i64)> = asset_cache::log::Level::ALL
        .iter()
        .map(|l| {
            (
                format!("ASSET_CACHE_LOG_{}", l.name().to_uppercase()),
                *l as i64,
            )
        })
        .collect();
    let mut sorted = header.clone();
    sorted.sort();
    let mut rust_sorted = rust.clone();
    rust_sorted.sort();
    assert_eq!(
        sorted, rust_sorted,
        "the header's log levels are not the table's"
    );

    let py = include_str!("../bindings/python/src/asset_cache/_native.py");
    let line = py
        .lines()
        .find(|l| l.starts_with("_PY_LEVELS = {"))
        .expect("_PY_LEVELS not found in _native.py");
    let python: Vec<(i64, String)> = line["_PY_LEVELS = {".len()..line.len() - 1]
        .split(", ")
        .map(|pair| {
            let (k, v) = pair.split_once(": logging.").unwrap();
            (k.parse().unwrap(), v.to_string())
        })
        .collect();
    let expected: Vec<(i64, String)> = asset_cache::log::Level::ALL
        .iter()
        .map(|l| {
            let py_name = match l.name() {
                "warn" => "WARNING".to_string(),
                n => n.to_uppercase(),
            };
            (*l as i64, py_name)
        })
        .collect();
    assert_eq!(
        python, expected,
        "Python's _PY_LEVELS differs from the log-level table"
    );
}
