//! A TCP relay in front of one member's client URL whose connections can be frozen: bytes from
//! the member stop reaching the client while the connection stays open, which is what a watch
//! stream that stopped sending looks like from the client. Connections made after a freeze
//! relay normally, so a fresh client still reaches the member.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Relay {
    /// `http://127.0.0.1:PORT`, to use in place of the member's client URL.
    pub url: String,
    /// Bumped by each freeze; a connection accepted in an earlier generation is frozen.
    generation: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Relays to `member_url` (`http://host:port`).
    pub async fn start(member_url: &str) -> Relay {
        let target = member_url.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let generation = Arc::new(AtomicUsize::new(0));
        let g = generation.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(member) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(relay(client, member, g.clone()));
            }
        });
        Relay {
            url,
            generation,
            task,
        }
    }

    /// From now on, what the member sends on connections open now is read and dropped.
    pub fn freeze_open_connections(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

async fn relay(client: TcpStream, member: TcpStream, generation: Arc<AtomicUsize>) {
    let born = generation.load(Ordering::SeqCst);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut member_read, mut member_write) = member.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut client_read, &mut member_write).await;
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match member_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if generation.load(Ordering::SeqCst) == born
                && client_write.write_all(&buf[..n]).await.is_err()
            {
                return;
            }
        }
    };
    tokio::join!(up, down);
}
