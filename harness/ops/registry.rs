//! Every verb of the operation vocabulary, once: its name, usage line and parser. Parsing,
//! the unknown-step message and the README's step list (checked by a test) read this table,
//! so no verb can be known to one and forgotten by another.

use super::op::Op;
use super::{backup, data, expect, faults, lease, lifecycle, membership, security};

/// One verb of a scenario line.
pub struct Verb {
    pub name: &'static str,
    /// How a line with this verb reads; shown in parse errors.
    pub usage: &'static str,
    /// What it does, in one line.
    pub about: &'static str,
    /// Parses the words after the verb (the verb is passed for families sharing a parser).
    pub parse: fn(&str, &[&str]) -> Result<Op, String>,
}

macro_rules! verbs {
    ($($name:literal, $usage:literal, $about:literal, $parse:path;)*) => {
        /// The vocabulary, by family.
        pub const VERBS: &[Verb] = &[$(Verb { name: $name, usage: $usage, about: $about, parse: $parse }),*];
    };
}

verbs! {
    "cluster", "cluster RELEASE… [v2] [tls|peer-tls] [proxied] [--flag=V…] [mN:--flag=V…]", "bootstrap one member per release; flags for all members or one", lifecycle::parse;
    "stop", "stop MEMBER", "graceful stop (SIGTERM)", lifecycle::parse;
    "kill", "kill MEMBER", "SIGKILL", lifecycle::parse;
    "pause", "pause MEMBER [for MS|until N entries]", "SIGSTOP; with a hold, SIGCONT once it passed", lifecycle::parse;
    "resume", "resume MEMBER", "SIGCONT", lifecycle::parse;
    "start", "start MEMBER [RELEASE] [--flag=V…]", "start on its data dir, optionally another release; flags replace the member's", lifecycle::parse;
    "start-all", "start-all MEMBER… [on RELEASE]", "start several stopped members at once (a full-cluster restart), optionally on another release", lifecycle::parse;
    "upgrade", "upgrade MEMBER RELEASE", "move leadership away, stop, start on RELEASE (keeps the member's flags)", lifecycle::parse;
    "downgrade", "downgrade MEMBER RELEASE", "the same step towards an older release", lifecycle::parse;
    "move-leader-away", "move-leader-away MEMBER", "hand leadership to another member if MEMBER leads", lifecycle::parse;
    "wait", "wait MS|until N entries", "hold for MS milliseconds or until N raft entries commit (a fault's duration, never a synchronisation)", lifecycle::parse;
    "put", "put KEY VALUE [via MEMBER]", "a v3 put", data::parse;
    "put-many", "put-many PREFIX COUNT", "COUNT puts of PREFIX/0…", data::parse;
    "delete", "delete KEY", "a v3 delete", data::parse;
    "v2-set", "v2-set KEY VALUE", "a v2 /v2/keys set", data::parse;
    "compact", "compact", "compact the key history to well behind the current revision", data::parse;
    "defrag", "defrag MEMBER", "defragment one member's backend", data::parse;
    "member-add", "member-add mN RELEASE [via MEMBER] [no-start] [--flag=V…]", "member add, then start it with --initial-cluster-state existing", membership::parse;
    "member-remove", "member-remove MEMBER", "member remove, then stop it", membership::parse;
    "member-migrate", "member-migrate MEMBER", "move its data dir to a new peer URL (member update), same id", membership::parse;
    "member-update", "member-update MEMBER", "member update to a new peer URL, then restart on it", membership::parse;
    "learner-add", "learner-add mN RELEASE [via MEMBER] [no-start] [--flag=V…]", "member add --learner, then start it", membership::parse;
    "learner-promote", "learner-promote MEMBER", "member promote of a learner (refused until it caught up)", membership::parse;
    "expect-members", "expect-members", "every member's member list equals the model's (ids, names, peer URLs, learners)", membership::parse;
    "snapshot-save", "snapshot-save NAME from MEMBER", "etcdctl snapshot save", backup::parse;
    "copy-backend", "copy-backend NAME from MEMBER", "copy a stopped member's member/snap/db as a snapshot", backup::parse;
    "restore", "restore NAME", "disaster recovery: every member restored from a snapshot", backup::parse;
    "partition", "partition MEMBER for MS|until N entries", "cut a member off from its peers, then repair (after N raft entries: behind the leader's log)", faults::parse;
    "drop-link", "drop-link FROM TO for MS|until N entries", "drop messages from one member to another, then repair", faults::parse;
    "slow", "slow MEMBER DELAY_MS for MS|until N entries", "delay a member's peer messages, then repair", faults::parse;
    "kill-during", "kill-during defrag|compact MEMBER", "SIGKILL a member while a defragmentation or a physical compaction is in flight", faults::parse;
    "corrupt-value", "corrupt-value MEMBER", "fault injection: change a value's bytes in a stopped member's bbolt file", faults::parse;
    "auth-enable", "auth-enable", "root and a role-limited user, then auth enable", security::parse;
    "auth-disable", "auth-disable", "auth disable, users deleted", security::parse;
    "put-as", "put-as root|alice KEY VALUE", "a put as a user, allowed or denied by auth", security::parse;
    "rotate-certs", "rotate-certs server|peer|ca", "certificate rotation (seed 004)", security::parse;
    "lease-grant", "lease-grant NAME TTL_S COUNT [via MEMBER]", "COUNT leases with a key each (lease/NAME/i), kept alive through the member every TTL/5", lease::parse;
    "expect-leases", "expect-leases NAME", "no key of a kept-alive lease is gone through any live member (etcd#15247)", lease::parse;
    "lease-revoke", "lease-revoke NAME", "stop the keepalives, revoke every lease, no key left", lease::parse;
    "expect-cluster-version", "expect-cluster-version MAJOR.MINOR", "the model's cluster version is this", expect::parse;
    "expect-log", "expect-log MEMBER \"TEXT\" [within S]", "a line containing TEXT appears in the member's log since its last start", expect::parse;
}

pub fn find(name: &str) -> Option<&'static Verb> {
    VERBS.iter().find(|v| v.name == name)
}

pub fn names() -> Vec<&'static str> {
    VERBS.iter().map(|v| v.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut n = names();
        n.sort();
        n.dedup();
        assert_eq!(n.len(), VERBS.len());
    }

    #[test]
    fn every_verb_is_listed_in_the_readme() {
        let readme = include_str!("../../README.md");
        for v in VERBS {
            assert!(
                readme.contains(&format!("`{}`", v.usage)),
                "README.md does not list `{}`",
                v.usage
            );
        }
    }

    #[test]
    fn every_usage_starts_with_its_verb() {
        for v in VERBS {
            assert!(v.usage.starts_with(v.name), "{}", v.usage);
        }
    }
}
