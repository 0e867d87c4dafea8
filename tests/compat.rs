//! The flag and surface diffs between real binaries. The flag diff is checked against the
//! 3.5→3.4 downgrade guide (seed 002), whose lists come from 3.5.14 and 3.4.33: every entry
//! that exists in the pinned 3.5.16 and not in 3.4.23 must be in the diff, and the guide's
//! renamed flag and changed defaults too. The surface diff is checked against the metric
//! names and endpoints seeds 002 and 003 name.

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

/// The metrics and endpoints of running members, against the guides: 3.5 serves
/// `etcd_debugging_mvcc_db_compaction_last`, which 3.4 does not (seed 002/000, "metrics not
/// available in 3.4"); 3.4 promoted `etcd_debugging_mvcc_db_total_size_in_bytes` to
/// `etcd_mvcc_db_total_size_in_bytes` and kept the old name for compatibility only until 3.5
/// (seed 003).
#[test]
fn the_surface_diff_of_running_members_has_the_guides_metrics() {
    use etcd_skew::validate::surface;
    let r = common::releases(&["3.3.25", "3.4.23", "3.5.16"]);
    let rt = common::runtime();
    let s: Vec<surface::Surface> = r
        .iter()
        .map(|r| {
            rt.block_on(surface::probe(r))
                .unwrap_or_else(|e| panic!("{}: {e}", r.name))
        })
        .collect();
    for (r, s) in r.iter().zip(&s) {
        println!("{}: {} metrics; {:?}", r.name, s.metrics.len(), s.answers);
        assert!(
            s.metrics.len() > 50,
            "{}: {} metric families",
            r.name,
            s.metrics.len()
        );
    }
    let d = surface::diff(&s[1], &s[2]);
    assert!(
        d.metrics_added
            .contains(&"etcd_debugging_mvcc_db_compaction_last".to_string()),
        "{d:?}"
    );
    assert!(
        d.metrics_removed
            .contains(&"etcd_debugging_mvcc_db_total_size_in_bytes".to_string()),
        "{d:?}"
    );
    assert!(s[1].metrics.contains("etcd_mvcc_db_total_size_in_bytes"));
    assert!(s[2].metrics.contains("etcd_mvcc_db_total_size_in_bytes"));
    let d33 = surface::diff(&s[0], &s[1]);
    // Seed 003: 3.4 adds etcd_mvcc_{put,delete,range,txn}_total beside the debugging names,
    // and serves the gateway at /v3 (3.3.25 only at /v3beta and /v3alpha).
    for m in [
        "etcd_mvcc_put_total",
        "etcd_mvcc_delete_total",
        "etcd_mvcc_range_total",
        "etcd_mvcc_txn_total",
    ] {
        assert!(d33.metrics_added.contains(&m.to_string()), "{m}: {d33:?}");
    }
    assert!(
        d33.answers_changed
            .iter()
            .any(|a| a.request == "POST /v3/kv/range"
                && a.older == "HTTP 404"
                && a.newer.starts_with("HTTP 200")),
        "{d33:?}"
    );
    // Every release answers /version with the two fields the harness reads.
    for s in &s {
        let v = s
            .answers
            .iter()
            .find(|a| a.request == "GET /version")
            .unwrap();
        assert_eq!(
            (v.status, v.keys.clone()),
            (
                Some(200),
                vec!["etcdcluster".to_string(), "etcdserver".into()]
            )
        );
    }
}
