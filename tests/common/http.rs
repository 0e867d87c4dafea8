//! A tiny HTTP/1.1 file server on 127.0.0.1 for the download paths: serves canned bodies,
//! answers 404 for the rest, and can cut a body short. Counts requests per path.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub enum Reply {
    Body(Vec<u8>),
    /// Announces the full length, sends only the first half, closes.
    Truncated(Vec<u8>),
}

pub struct Server {
    pub base: String,
    routes: Arc<Mutex<BTreeMap<String, Reply>>>,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<BTreeMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (r, h) = (r.clone(), h.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                    }
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let reply = r.lock().unwrap().get(&path).cloned();
                    let _ = match reply {
                        Some(Reply::Body(b)) => {
                            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len());
                            stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&b))
                        }
                        Some(Reply::Truncated(b)) => {
                            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len());
                            stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&b[..b.len() / 2]))
                        }
                        None => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"),
                    };
                });
            }
        });
        Server { base, routes, hits }
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_string(), reply);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}
