//! Records of what traffic did and saw, as plain data: the KV history ([`kv`]), the watch log
//! ([`watch`]), the lease records ([`lease`]). No client code lives here, so the checks
//! (`check/`) read records without depending on how they were made (`traffic/`), and a record
//! read back from a failed case's artifacts is the same type the traffic wrote.

pub mod kv;
pub mod lease;
pub mod watch;

pub use kv::{
    Compare, CompareTarget, Event, History, Listed, Outcome, ReadKv, ReadRefusal, Request, TxnOp,
};
pub use lease::LeaseRecord;
pub use watch::{
    PrevKv, PrevProbe, Progress, ShortWatch, Stall, WatchEvent, WatchFilter, WatchLog,
};
