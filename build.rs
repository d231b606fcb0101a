//! Generates the C header with cbindgen, into OUT_DIR always and into
//! include/asset_cache.h on developer machines. CI (where `CI` is set) never
//! writes into the tree, so the test comparing the two catches a committed
//! header that has gone stale.
//!
//! The two C enums, `asset_cache_status` and `asset_cache_log_level`, are
//! written here from their one tables (src/ffi/status_table.rs,
//! src/log_levels.rs), which the crate turns into the Rust enums with its own
//! macros: cbindgen does not expand macros, so it would not see them.
//!
//! It also gives the shared library its soname, `libasset_cache.so.<major>`,
//! which only the linker can record (see `soname`), and says whether the
//! compiler has the AVX-512 intrinsics (Rust 1.89; the crate's minimum is
//! 1.88): the cfg `compact_avx512` turns on the compactor's widest tier
//! (`src/backend/file/format/compact.rs`), which still checks the CPU at run
//! time.

use std::env;
use std::fs;
use std::path::PathBuf;

/// (C name, value, doc lines) of one enum variant.
type Variant = (&'static str, i64, &'static [&'static str]);

macro_rules! statuses {
    (
        $(#[doc = $enum_doc:literal])*
        enum $c_enum:ident {
            $( $(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal, [$($kind:ident)?]; )*
        }
    ) => {
        fn status_enum() -> String {
            let variants: &[Variant] = &[$((stringify!($name), $value, &[$($doc),*])),*];
            c_enum(stringify!($c_enum), &[$($enum_doc),*], variants)
        }
    };
}
include!("src/ffi/status_table.rs");

macro_rules! log_levels {
    (
        $(#[doc = $enum_doc:literal])*
        enum $c_enum:ident {
            $( $(#[doc = $doc:literal])* $level:ident = $value:literal, $c_name:ident, [$($name:literal),+]; )*
        }
    ) => {
        fn log_level_enum() -> String {
            let variants: &[Variant] = &[$((stringify!($c_name), $value, &[$($doc),*])),*];
            c_enum(stringify!($c_enum), &[$($enum_doc),*], variants)
        }
    };
}
include!("src/log_levels.rs");

/// A doc comment in cbindgen's "doxy" style, indented by `indent`.
fn doc(indent: &str, lines: &[&str]) -> String {
    let mut out = format!("{indent}/**\n");
    for line in lines {
        out += &format!("{indent} *{}\n", line.trim_end());
    }
    out + &format!("{indent} */\n")
}

/// A C enum as cbindgen writes one (style "type": a typedef'd enum).
fn c_enum(name: &str, docs: &[&str], variants: &[Variant]) -> String {
    let mut out = String::from("\n");
    out += &doc("", docs);
    out += "typedef enum {\n";
    for (variant, value, docs) in variants {
        out += &doc("  ", docs);
        out += &format!("  {variant} = {value},\n");
    }
    out + &format!("}} {name};\n")
}

/// Whether `rustc` is at least 1.89, where the AVX-512 intrinsics became
/// stable. False when its version cannot be read.
fn rustc_has_avx512() -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 89)
}

fn main() {
    println!("cargo:rustc-check-cfg=cfg(compact_avx512)");
    if rustc_has_avx512() {
        println!("cargo:rustc-cfg=compact_avx512");
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CI");
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let version = env::var("CARGO_PKG_VERSION").unwrap();
    let part = |k: &str| env::var(k).unwrap().parse::<u32>().unwrap();
    let (major, minor, patch) = (
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    );
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let macros = format!(
        "\n/** Major version of this header. */\n#define ASSET_CACHE_VERSION_MAJOR {major}\n\
         /** Minor version of this header. */\n#define ASSET_CACHE_VERSION_MINOR {minor}\n\
         /** Patch version of this header. */\n#define ASSET_CACHE_VERSION_PATCH {patch}\n\
         /** MAJOR * 10000 + MINOR * 100 + PATCH; compare with asset_cache_version_number(). */\n\
         #define ASSET_CACHE_VERSION_NUMBER {}\n\
         /** The version as a string; compare with asset_cache_version(). */\n\
         #define ASSET_CACHE_VERSION_STRING \"{version}\"\n",
        major * 10000 + minor * 100 + patch
    );
    soname(major);
    let enums = status_enum() + &log_level_enum();
    config.after_includes = Some(config.after_includes.unwrap_or_default() + &macros + &enums);
    let header = match cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
    {
        Ok(b) => {
            let mut out = Vec::new();
            b.write(&mut out);
            out
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out_dir.join("asset_cache.h"), &header).unwrap();
    let committed = root.join("include").join("asset_cache.h");
    if env::var_os("CI").is_none() && fs::read(&committed).ok().as_deref() != Some(&header[..]) {
        fs::create_dir_all(committed.parent().unwrap()).unwrap();
        fs::write(&committed, &header).unwrap();
    }
}

/// Records `libasset_cache.so.<major>` as the cdylib's soname on ELF targets,
/// so programs linked against it ask for that name at run time and a later
/// ABI-breaking release (a new major) cannot be loaded by them by mistake.
///
/// Programs linked against the uninstalled library in target/<profile> then
/// look for `libasset_cache.so.<major>` there, so that name is also created
/// there, as a symlink to what cargo builds. OUT_DIR is
/// `<target>/<profile>/build/<pkg>-<hash>/out`; three levels up is the folder
/// the cdylib lands in. The link may dangle until cargo links the library.
fn soname(major: u32) {
    let family = env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let vendor = env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    if !family.split(',').any(|f| f == "unix") || vendor == "apple" {
        return;
    }
    let name = format!("libasset_cache.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{name}");
    #[cfg(unix)]
    {
        let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
        if let Some(profile_dir) = out_dir.ancestors().nth(3) {
            let link = profile_dir.join(&name);
            if fs::read_link(&link).ok().as_deref()
                != Some(std::path::Path::new("libasset_cache.so"))
            {
                let _ = fs::remove_file(&link);
                std::os::unix::fs::symlink("libasset_cache.so", &link)
                    .unwrap_or_else(|e| panic!("cannot create {}: {e}", link.display()));
            }
        }
    }
}
