//! A TCP proxy on 127.0.0.1 in front of a local server that can answer
//! requests itself, to test how clients ride out faults: 503 SlowDown, a
//! slow server, a server that goes away for a while, 403 on every request.
//!
//! Each request gets its own connection (the proxy asks the server to close
//! it after answering), so a fault applies to requests, not to whichever
//! connection a client's pool happens to reuse.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the proxy does with the next requests.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward every request.
    None,
    /// Answer the next `n` requests with 503 SlowDown, then forward.
    SlowDown(usize),
    /// Forward each request after a pause.
    Delay(Duration),
    /// After `after` requests were forwarded, drop every connection for
    /// `outage` (a server restarting), then forward again.
    OutageAfter { after: usize, outage: Duration },
    /// Answer every request with 403 AccessDenied.
    Forbidden,
}

#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicUsize,
    faulted: AtomicUsize,
}

pub struct FaultProxy {
    pub port: u16,
    fault: Arc<Mutex<(Fault, Option<Instant>)>>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`host:port`).
    pub fn start(upstream: &str, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let proxy = FaultProxy {
            port,
            fault: Arc::new(Mutex::new((fault, None))),
            counters: Arc::default(),
            stop: Arc::default(),
        };
        let (fault, counters, stop, upstream) =
            (Arc::clone(&proxy.fault), Arc::clone(&proxy.counters), Arc::clone(&proxy.stop), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (fault, counters, upstream) = (Arc::clone(&fault), Arc::clone(&counters), upstream.clone());
                std::thread::spawn(move || serve(client, &upstream, &fault, &counters));
            }
        });
        proxy
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = (fault, None);
    }

    /// Requests answered by the server, and by the proxy's faults.
    pub fn counts(&self) -> (usize, usize) {
        (self.counters.forwarded.load(Ordering::Relaxed), self.counters.faulted.load(Ordering::Relaxed))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads a request's head (through the blank line); what follows stays in
/// `rest`.
fn read_head(client: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Some((buffer, rest));
        }
        let n = client.read(&mut chunk).ok()?;
        if n == 0 || buffer.len() > 1 << 20 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The head with its `Connection` header replaced by `Connection: close`.
fn closing(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn answer(client: &mut TcpStream, status: &str, code: &str) {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{status}</Message></Error>");
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes());
    let _ = client.shutdown(Shutdown::Both);
}

fn serve(mut client: TcpStream, upstream: &str, fault: &Mutex<(Fault, Option<Instant>)>, counters: &Counters) {
    let Some((head, rest)) = read_head(&mut client) else { return };
    let mut delay = None;
    {
        let mut state = fault.lock().unwrap();
        let (fault, outage_started) = &mut *state;
        match fault {
            Fault::None => {}
            Fault::SlowDown(0) => *fault = Fault::None,
            Fault::SlowDown(n) => {
                *n -= 1;
                counters.faulted.fetch_add(1, Ordering::Relaxed);
                drop(state);
                return answer(&mut client, "503 Slow Down", "SlowDown");
            }
            Fault::Delay(d) => delay = Some(*d),
            Fault::OutageAfter { after, outage } => {
                let forwarded = counters.forwarded.load(Ordering::Relaxed);
                if forwarded >= *after {
                    let started = *outage_started.get_or_insert_with(Instant::now);
                    if started.elapsed() < *outage {
                        counters.faulted.fetch_add(1, Ordering::Relaxed);
                        // A server going away: the connection is reset.
                        let _ = client.shutdown(Shutdown::Both);
                        return;
                    }
                    *fault = Fault::None;
                }
            }
            Fault::Forbidden => {
                counters.faulted.fetch_add(1, Ordering::Relaxed);
                drop(state);
                return answer(&mut client, "403 Forbidden", "AccessDenied");
            }
        }
    }
    if let Some(d) = delay {
        std::thread::sleep(d);
    }
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    counters.forwarded.fetch_add(1, Ordering::Relaxed);
    if server.write_all(&closing(&head)).is_err() || server.write_all(&rest).is_err() {
        return;
    }
    // The rest of the request body goes up while the answer comes down.
    let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = upload.join();
}
