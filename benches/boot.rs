//! Cluster boot time: the harness (`ClusterBuilder::start` to healthy, then teardown) beside a
//! baseline that starts the same etcd binaries with the same flags by hand and polls `/health`
//! with a bare HTTP request. The gap is what the harness costs (verification, supervision,
//! logging). Numbers are recorded in the README.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use etcd_skew::cluster::flags::{self, InitialState, MemberFlags, Timing};
use etcd_skew::cluster::ports::PortBlock;
use etcd_skew::cluster::ClusterBuilder;
use etcd_skew::release::{Release, ReleaseStore};

const RELEASE: &str = "3.5.16";

fn healthy(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut body = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut body).is_ok()
        && body.contains("\"health\":\"true\"")
}

/// Three etcd processes started by hand with the flags the harness would give them.
fn baseline(release: &Release) {
    let mut ports = PortBlock::reserve().unwrap();
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let p: Vec<(u16, u16)> = (0..3)
        .map(|_| (ports.take().unwrap(), ports.take().unwrap()))
        .collect();
    let initial: Vec<String> = p
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("m{}=http://127.0.0.1:{peer}", i + 1))
        .collect();
    let initial = initial.join(",");
    let mut children = Vec::new();
    for (i, (client, peer)) in p.iter().enumerate() {
        let name = format!("m{}", i + 1);
        let (c, pe) = (
            format!("http://127.0.0.1:{client}"),
            format!("http://127.0.0.1:{peer}"),
        );
        let data = dir.path().join(&name);
        let args = flags::render(
            &release.version,
            &MemberFlags {
                name: &name,
                data_dir: &data,
                client_url: &c,
                peer_url: &pe,
                listen_peer_url: &pe,
                initial_cluster: &initial,
                initial_state: InitialState::New,
                token: "bench",
                timing: Timing::default(),
                enable_v2: false,
                tls: None,
                extra: &[],
            },
        );
        let child = Command::new(release.etcd())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        children.push(child);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.iter().all(|(c, _)| healthy(*c)) {
        assert!(
            Instant::now() < deadline,
            "baseline cluster never became healthy"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn boot(c: &mut Criterion) {
    let release = ReleaseStore::from_env().unwrap().resolve(RELEASE).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group(format!("boot 3 x {RELEASE}"));
    g.sample_size(20).measurement_time(Duration::from_secs(15));
    g.bench_function("etcd-skew ClusterBuilder", |b| {
        b.iter(|| {
            rt.block_on(async {
                drop(
                    ClusterBuilder::new(vec![release.clone(); 3])
                        .start()
                        .await
                        .unwrap(),
                )
            })
        })
    });
    g.bench_function("baseline: bare processes", |b| {
        b.iter(|| baseline(&release))
    });
    g.finish();
}

criterion_group!(benches, boot);
criterion_main!(benches);
