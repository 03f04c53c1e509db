//! The live view's HTTP server: the page, its state as JSON, and the
//! state pushed as server-sent events. The same small synchronous server
//! as `--metrics` (tiny_http), on a thread of its own; each event stream
//! gets a thread too (they are few: people's browsers).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The page: HTML, CSS and JavaScript in one file, no CDN, no build step.
const PAGE: &str = include_str!("page.html");

/// Most event streams served at once; more are refused with 503 so a
/// misbehaving client cannot take every thread.
const MAX_STREAMS: usize = 16;

/// How long a stream may stay silent before a comment line keeps it (and
/// proxies) open and finds out whether the client left.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// A poisoned lock only means a panic elsewhere; the hub is plain data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The latest state and the streams to push it to.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    latest: Mutex<Arc<str>>,
    streams: Mutex<Vec<SyncSender<Arc<str>>>>,
}

impl Hub {
    /// Makes `state` (one JSON document) the latest and sends it to every
    /// stream. A stream still busy with the previous state skips this one:
    /// each state is whole, the next one supersedes it.
    pub(crate) fn publish(&self, state: String) {
        let state: Arc<str> = state.into();
        *lock(&self.latest) = Arc::clone(&state);
        lock(&self.streams).retain(|s| match s.try_send(Arc::clone(&state)) {
            Ok(()) | Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn latest(&self) -> Arc<str> {
        Arc::clone(&lock(&self.latest))
    }
}

/// The server; stops when dropped.
pub(crate) struct LiveServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    hub: Arc<Hub>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LiveServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl LiveServer {
    /// Listens on `addr`; the page shows what is published on the hub.
    pub(crate) fn start(addr: SocketAddr) -> Result<LiveServer, String> {
        let server = Arc::new(tiny_http::Server::http(addr).map_err(|e| e.to_string())?);
        let bound = server.server_addr().to_ip().unwrap_or(addr);
        let hub = Arc::new(Hub::default());
        *lock(&hub.latest) = Arc::from("{}");
        let (serving, hub_of_thread) = (Arc::clone(&server), Arc::clone(&hub));
        let thread = std::thread::Builder::new()
            .name("vigil-live".into())
            .spawn(move || serve(&serving, &hub_of_thread))
            .map_err(|e| e.to_string())?;
        Ok(LiveServer {
            server,
            addr: bound,
            hub,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where states are published.
    pub(crate) fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        // The streams end when their senders are gone.
        lock(&self.hub.streams).clear();
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    // Only called with the static names and values below.
    tiny_http::Header::from_bytes(name, value).expect("a valid static header")
}

fn serve(server: &tiny_http::Server, hub: &Arc<Hub>) {
    for request in server.incoming_requests() {
        let get = *request.method() == tiny_http::Method::Get;
        let path = request
            .url()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        let response = match (get, path.as_str()) {
            (true, "/") => tiny_http::Response::from_string(PAGE)
                .with_header(header("Content-Type", "text/html; charset=utf-8")),
            (true, "/state") => tiny_http::Response::from_string(&*hub.latest())
                .with_header(header("Content-Type", "application/json")),
            (true, "/events") => {
                stream(request, hub);
                continue;
            }
            _ => {
                tiny_http::Response::from_string("GET /, /state or /events\n").with_status_code(404)
            }
        };
        if let Err(error) = request.respond(response) {
            tracing::debug!(%error, "a live view client went away");
        }
    }
}

/// Starts an event stream on a thread of its own: the latest state at
/// once, then every state published.
fn stream(request: tiny_http::Request, hub: &Arc<Hub>) {
    let (tx, rx) = mpsc::sync_channel::<Arc<str>>(2);
    {
        let mut streams = lock(&hub.streams);
        if streams.len() >= MAX_STREAMS {
            let busy =
                tiny_http::Response::from_string("too many live views\n").with_status_code(503);
            let _ = request.respond(busy);
            return;
        }
        streams.push(tx);
    }
    let first = hub.latest();
    let spawned = std::thread::Builder::new()
        .name("vigil-live-stream".into())
        .spawn(move || {
            let mut out = request.into_writer();
            // No length: the stream ends when the connection closes.
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                        Cache-Control: no-cache\r\nConnection: close\r\n\r\nretry: 1000\n\n";
            if out.write_all(head.as_bytes()).is_err() || send(&mut out, &first).is_err() {
                return;
            }
            loop {
                let written = match rx.recv_timeout(KEEPALIVE) {
                    Ok(state) => send(&mut out, &state),
                    Err(RecvTimeoutError::Timeout) => {
                        out.write_all(b": keepalive\n\n").and_then(|()| out.flush())
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                if written.is_err() {
                    // The client left; its sender is dropped at the next
                    // publish.
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no thread for a live view stream");
    }
}

/// One server-sent event: the state on one `data:` line (JSON has no raw
/// newline in it).
fn send(out: &mut impl Write, state: &str) -> std::io::Result<()> {
    out.write_all(b"data: ")?;
    out.write_all(state.as_bytes())?;
    out.write_all(b"\n\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read};

    use super::*;

    fn connect(addr: SocketAddr, path: &str) -> std::net::TcpStream {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        s
    }

    #[test]
    fn serves_the_page_and_streams_each_state() {
        let server = LiveServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut page = String::new();
        let mut s = connect(server.addr(), "/");
        // HTTP/1.1 keeps the connection: read the head and the body length.
        let mut reader = BufReader::new(&mut s);
        let mut len = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        reader.take(len).read_to_string(&mut page).unwrap();
        assert!(page.contains("EventSource"), "{page}");

        server.hub().publish("{\"n\":1}".into());
        let events = connect(server.addr(), "/events");
        let mut lines = BufReader::new(events).lines();
        let mut next_data = || loop {
            let line = lines.next().unwrap().unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                return data.to_owned();
            }
        };
        assert_eq!(next_data(), "{\"n\":1}");
        // The stream was registered before its first state was sent.
        server.hub().publish("{\"n\":2}".into());
        assert_eq!(next_data(), "{\"n\":2}");
    }
}
