//! The flag diff between two real binaries, checked against the 3.5→3.4 downgrade guide (seed
//! 002), whose lists come from 3.5.14 and 3.4.33: every entry that exists in the pinned 3.5.16
//! and not in 3.4.23 must be in the diff, and the guide's renamed flag and changed defaults too.

mod common;

use etcd_skew::release::compat;

/// The flags named on the guide's lines under `heading`, up to the next `#` heading.
fn seed_flags(heading: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds");
    let seed = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("002_"))
        .expect("seed 002 (the 3.5→3.4 downgrade guide)");
    let text = std::fs::read_to_string(&seed).unwrap();
    text.lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| format!("--{}", w.split('=').next().unwrap()))
        .collect()
}

#[test]
fn the_flag_diff_of_3_4_23_and_3_5_16_has_the_guides_entries() {
    let r = common::releases(&["3.4.23", "3.5.16"]);
    let old = compat::help_of(&r[0]).unwrap();
    let new = compat::help_of(&r[1]).unwrap();
    let d = compat::diff(&old, &new);

    let guide = seed_flags("# flags not available in 3.4");
    assert!(guide.len() >= 20, "the guide lists more: {guide:?}");
    let here: Vec<&String> = guide
        .iter()
        .filter(|f| new.contains_key(*f) && !old.contains_key(*f))
        .collect();
    // 3.4.33 has a few flags 3.4.23 lacks and vice versa; most of the list applies here.
    assert!(here.len() >= 15, "{here:?}");
    for f in &here {
        assert!(
            d.added.contains(f),
            "{f} missing from the added flags: {:?}",
            d.added
        );
    }
    assert!(d.added.iter().any(|f| f == "--experimental-memory-mlock"));

    assert!(
        d.renamed
            .iter()
            .any(|r| r.older == "--experimental-backend-bbolt-freelist-type"
                && r.newer == "--backend-bbolt-freelist-type"),
        "{:?}",
        d.renamed
    );
    let changed = |flag: &str, from: &str, to: &str| {
        d.defaults_changed.iter().any(|c| {
            c.flag == flag && c.older.as_deref() == Some(from) && c.newer.as_deref() == Some(to)
        })
    };
    assert!(
        changed("--pre-vote", "false", "true"),
        "{:?}",
        d.defaults_changed
    );
    assert!(
        changed("--logger", "capnslog", "zap"),
        "{:?}",
        d.defaults_changed
    );
}
