//! What the library does to the files themselves (issue 10): their modes,
//! records whose id has no UTF-8 form, a byte-order mark.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use asset_cache::internals::format;
use asset_cache::{AssetCache, ErrorKind, Options};
use serde_json::{json, Value};

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "asset-cache-files-{tag}-{}-{}",
        std::process::id(),
        &format::new_rev()[..8]
    ));
    fs::create_dir_all(&d).unwrap();
    d
}

fn options(dir: &Path) -> Options {
    Options::new("model")
        .dir(dir)
        .ttl(Duration::from_secs(3600))
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().mode() & 0o7777
}

/// Issue 10 item 2. New files are 0600 in a 0700 folder (as the SDK's
/// development branch writes them), whatever the umask; a rewrite keeps the
/// mode of the file it replaces. Before the fix a rewrite made the file
/// 0666 minus the umask (a `chmod 600` file became 0644 after `add_list`),
/// and new files and folders were 0644 and 0755 (checked by reverting
/// `io::take_over_permissions` and the modes in `io::create_folder`).
#[test]
fn new_files_are_private_and_a_rewrite_keeps_the_mode() {
    let root = tmp("modes");
    let dir = root.join("new/cache");
    let c: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
    c.add(json!({"id": "m1"})).unwrap();
    assert_eq!(mode(&root.join("new")), 0o700);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("model.json")), 0o600);
    assert_eq!(mode(&dir.join("model.lock")), 0o600);

    for kept in [0o600, 0o640, 0o644, 0o660] {
        fs::set_permissions(dir.join("model.json"), fs::Permissions::from_mode(kept)).unwrap();
        c.add_list(vec![json!({"id": "a"}), json!({"id": "b"})])
            .unwrap();
        assert_eq!(mode(&dir.join("model.json")), kept, "add_list");
        c.save().unwrap();
        assert_eq!(mode(&dir.join("model.json")), kept, "save");
    }
    // A lock file deleted under a shared cache (Python's invalidate does
    // that) comes back with the cache file's mode, not a private one.
    fs::set_permissions(dir.join("model.json"), fs::Permissions::from_mode(0o664)).unwrap();
    fs::remove_file(dir.join("model.lock")).unwrap();
    c.add(json!({"id": "again"})).unwrap();
    assert_eq!(mode(&dir.join("model.lock")), 0o664);
    // As root, the owner and the group are kept too (a member of the group
    // keeps the group; anyone else gets its own).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(dir.join("model.json"), Some(4242), Some(4343)).unwrap();
        c.add_list(vec![json!({"id": "c"})]).unwrap();
        let m = fs::metadata(dir.join("model.json")).unwrap();
        assert_eq!((m.uid(), m.gid()), (4242, 4343), "owner and group kept");
    }
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn chosen_modes_are_applied_exactly_and_bad_ones_refused() {
    let root = tmp("chosen");
    // A folder shared by a group: set-group-ID, group-writable.
    let dir = root.join("shared");
    let c: AssetCache<Value> =
        AssetCache::open(options(&dir).file_mode(0o660).dir_mode(0o2770)).unwrap();
    c.add(json!({"id": "m1"})).unwrap();
    assert_eq!(mode(&dir), 0o2770);
    assert_eq!(mode(&dir.join("model.json")), 0o660);
    assert_eq!(mode(&dir.join("model.lock")), 0o660);
    // A folder made inside a set-group-ID folder keeps the bit.
    let inner = dir.join("inner");
    let c2: AssetCache<Value> = AssetCache::open(options(&inner)).unwrap();
    c2.add(json!({"id": "m1"})).unwrap();
    assert_eq!(mode(&inner), 0o2700);
    // An existing folder is never changed.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    c.add_list(vec![json!({"id": "m2"})]).unwrap();
    assert_eq!(mode(&dir), 0o755);

    for (file, folder) in [
        (0o400, 0o700),
        (0o1600, 0o700),
        (0o600, 0o500),
        (0o600, 0o17700),
    ] {
        let e = AssetCache::<Value>::open(options(&root).file_mode(file).dir_mode(folder))
            .err()
            .expect("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains("mode"), "{e}");
    }
    fs::remove_dir_all(&root).unwrap();
}

/// Issue 10 item 3: the Python original writes an id that came from
/// `os.fsdecode` of a non-UTF-8 file name as a lone surrogate escape. Before
/// the fix the whole file was moved aside as unreadable ("lone leading
/// surrogate in hex escape") and both implementations then saw an empty
/// cache (checked by reverting `FileKey` to a `String` key). Now the other
/// assets load and stay, and the record is written back as it was by every
/// rewrite; `add_list` (replace everything) and `invalidate` drop it.
#[test]
fn a_record_whose_id_has_no_utf8_form_is_kept_verbatim() {
    let dir = tmp("surrogate");
    let python = "{\n    \"expiry\": 9999999999.5,\n    \"data\": {\n        \"m1\": {\n            \"id\": \"m1\",\n            \"name\": \"GPT\"\n        },\n        \"scan-\\udcff.bin\": {\n            \"id\": \"scan-\\udcff.bin\"\n        },\n        \"m3\": {\n            \"id\": \"m3\"\n        }\n    }\n}";
    fs::write(dir.join("model.json"), python).unwrap();
    let c: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c.get("m1").unwrap()["name"], "GPT");
    assert!(c.get("m3").is_some());
    assert!(!dir.join("model.json.corrupt").exists());
    let record = "\"scan-\\udcff.bin\":{\"id\":\"scan-\\udcff.bin\"}";
    let text = |d: &Path| fs::read_to_string(d.join("model.json")).unwrap();

    // A file holding such a record takes no splice (issue 11): the add
    // rewrites it in our layout, the record kept (compact).
    c.add(json!({"id": "m4"})).unwrap();
    assert!(text(&dir).contains(record), "{}", text(&dir));
    c.add(json!({"id": "m5"})).unwrap(); // an append
    c.save().unwrap(); // a rewrite from memory
    assert!(text(&dir).contains(record), "{}", text(&dir));
    // Another handle reads the same, and its rewrite keeps the record too.
    let other: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
    assert_eq!(other.len(), 4);
    other.save().unwrap();
    assert_eq!(text(&dir).matches(record).count(), 1);
    // Python's json reads our file: the record is in its "data".
    let parsed: Value = serde_json::from_str(&text(&dir).replace("\\udcff", "\\u00ff")).unwrap();
    assert_eq!(parsed["data"].as_object().unwrap().len(), 5);

    c.add_list(vec![json!({"id": "only"})]).unwrap();
    assert!(
        !text(&dir).contains("udcff"),
        "add_list replaces everything"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Issue 10 item 7: a file starting with a UTF-8 byte-order mark is set
/// aside (Python's json.load refuses it too), and the reason names the BOM
/// instead of "expected value at line 1 column 1".
#[test]
fn a_byte_order_mark_is_named() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(br#"{"expiry": 9999999999, "data": {"m1": {"id": "m1"}}}"#);
    let why = match format::parse::<Value>(&bytes) {
        Err(format::Unreadable(why)) => why,
        Ok(_) => panic!("a BOM is not JSON"),
    };
    assert!(why.contains("byte-order mark"), "{why}");
    let dir = tmp("bom");
    fs::write(dir.join("model.json"), &bytes).unwrap();
    let c: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
    assert!(c.is_empty());
    assert_eq!(fs::read(dir.join("model.json.corrupt")).unwrap(), bytes);
    fs::remove_dir_all(&dir).unwrap();
}

/// A cache folder path that is a regular file (or has one on the way):
/// IO, the message says which path exists and is not a directory. Before,
/// it was "cannot create folder <dir>: Not a directory (os error 20)"
/// (checked by reverting the message in `io::create_folder`).
#[test]
fn a_folder_path_that_is_a_file_is_named_as_such() {
    let d = tmp("notdir");
    let file = d.join("x");
    fs::write(&file, b"not a folder").unwrap();
    for (dir, exists) in [(file.clone(), &file), (file.join("sub"), &file)] {
        let cache: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
        let e = cache.add(json!({"id": "m1"})).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(
            e.message().contains(&format!(
                "{} exists and is not a directory (it is a regular file)",
                exists.display()
            )) && e
                .message()
                .contains(&format!("cannot create folder {}", dir.display())),
            "{e}"
        );
    }
    assert_eq!(fs::read(&file).unwrap(), b"not a folder");
    fs::remove_dir_all(&d).unwrap();
}
