//! The HTTP/1.1 side of `rendorix serve`: a thread per connection, keep-alive with an idle
//! timeout, GET and HEAD without request bodies. Request heads are parsed by `httparse`.
//!
//! Why not a server crate: `tiny_http`'s connection pool can queue a new connection behind an idle
//! keep-alive one (its "is a worker waiting?" check races with the wake-up), so a browser's first
//! page load stalled until a connection closed; CI saw a 30 s timeout. A preview for one browser
//! needs nothing beyond a thread per connection, where no connection can wait for another.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest request head read; longer ones get 431. Room for targets well past the 8,192
/// bytes an edge accepts, so that such a URL still reaches the verifier and gets its verdict.
pub(super) const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Connections open at once; more get 503 (a thread each).
const MAX_CONNECTIONS: usize = 256;
/// How long a connection may take to send a whole request head, counted from the end of the
/// previous response (or from the connection): an idle keep-alive connection is closed after it,
/// and so is a client that sends a head slowly to hold a connection (and its thread) open.
const HEAD_TIME: Duration = Duration::from_secs(15);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One request, as the handler sees it.
#[derive(Debug)]
pub(super) struct Request<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The request target exactly as in the request line.
    pub target: &'a str,
    /// The `Host` header.
    pub host: Option<&'a str>,
}

/// A response body.
#[derive(Debug)]
pub(super) enum Body {
    /// Text, e.g. a rejection reason.
    Text(String),
    /// A file, sent whole.
    File(File),
}

/// A response: status, extra headers (`Content-Length` and `Connection` are added) and body.
#[derive(Debug)]
pub(super) struct Response {
    /// The status code.
    pub status: u16,
    /// Headers besides `Content-Length` and `Connection`.
    pub headers: Vec<(&'static str, String)>,
    /// The body (not sent for HEAD).
    pub body: Body,
}

impl Response {
    /// A text response.
    pub(super) fn text(status: u16, text: impl Into<String>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: Body::Text(text.into()),
        }
    }
}

/// Accepts connections on `listener` until it fails, answering every request with `handler`.
pub(super) fn run<H>(listener: &TcpListener, handler: H) -> io::Result<()>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    serve(listener, handler, HEAD_TIME)
}

/// [`run`], with `head_time` for [`HEAD_TIME`].
fn serve<H>(listener: &TcpListener, handler: H, head_time: Duration) -> io::Result<()>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((mut stream, _)) = listener.accept() else {
            // Out of file descriptors or a connection reset before it was accepted: the
            // listener is fine; wait a moment rather than spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let slot = Slot::take(&open);
        if slot.is_none() {
            let _ = write_response(
                &mut stream,
                false,
                false,
                Response::text(503, "too many connections\n"),
            );
            continue;
        }
        let handler = handler.clone();
        // If the thread cannot start, the closure (stream and slot) is dropped: the connection
        // closes and the slot is freed.
        let _ = std::thread::Builder::new()
            .name("rendorix-serve".into())
            .spawn(move || {
                let _slot = slot;
                let _ = connection(stream, &*handler, head_time);
            });
    }
}

/// A counted connection; freed on drop, even if the handler panics.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Option<Slot> {
        if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the connection loop needs of a parsed head, owned so the buffer can move on.
struct Head {
    len: usize,
    method: String,
    target: String,
    host: Option<String>,
    keep_alive: bool,
    has_body: bool,
}

enum Parsed {
    Complete(Head),
    Partial,
    Invalid,
    /// Headers that two parties may read differently (several `Content-Length`s that differ,
    /// `Content-Length` with `Transfer-Encoding`, several `Host`s): the way requests are
    /// smuggled past a proxy.
    Ambiguous,
}

fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Invalid,
    };
    let all = |name: &str| -> Vec<String> {
        (request.headers.iter())
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
            .collect()
    };
    let header = |name: &str| all(name).into_iter().next();
    let mut lengths = all("Content-Length");
    lengths.dedup();
    let encodings = all("Transfer-Encoding");
    if lengths.len() > 1 || (!lengths.is_empty() && !encodings.is_empty()) || all("Host").len() > 1
    {
        return Parsed::Ambiguous;
    }
    let connection = header("Connection").unwrap_or_default();
    let has_token = |t: &str| {
        connection
            .split(',')
            .any(|c| c.trim().eq_ignore_ascii_case(t))
    };
    // HTTP/1.1 keeps the connection unless asked to close; HTTP/1.0 only when asked to keep it.
    let keep_alive = match request.version {
        Some(1) => !has_token("close"),
        _ => has_token("keep-alive"),
    };
    let has_body = !encodings.is_empty() || lengths.first().is_some_and(|l| l != "0");
    Parsed::Complete(Head {
        len,
        method: request.method.unwrap_or_default().to_owned(),
        target: request.path.unwrap_or_default().to_owned(),
        host: header("Host"),
        keep_alive,
        has_body,
    })
}

/// Serves requests on one connection until the client closes it, asks to, or stays idle.
fn connection(
    mut stream: TcpStream,
    handler: &dyn Fn(&Request) -> Response,
    head_time: Duration,
) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    loop {
        let deadline = Instant::now() + head_time;
        // Pipelined requests may already be in `buf`; read only when no whole head is.
        let head = loop {
            match parse(&buf) {
                Parsed::Complete(head) => break head,
                Parsed::Invalid => {
                    let bad = Response::text(400, "malformed HTTP request\n");
                    return refuse(stream, false, bad);
                }
                Parsed::Ambiguous => {
                    let bad = Response::text(
                        400,
                        "conflicting Content-Length, Transfer-Encoding or Host headers\n",
                    );
                    return refuse(stream, false, bad);
                }
                Parsed::Partial if buf.len() >= MAX_HEAD => {
                    let long = Response::text(431, "request head too long\n");
                    return refuse(stream, false, long);
                }
                Parsed::Partial => {}
            }
            // Past the deadline, or on a closed connection, it ends quietly.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            stream.set_read_timeout(Some(left))?;
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        buf.drain(..head.len);
        // Nothing here takes a body; one of unknown length cannot be skipped, so close after it.
        if head.has_body {
            let refused = Response::text(400, "request bodies are not accepted\n");
            return refuse(stream, head.method == "HEAD", refused);
        }
        let response = handler(&Request {
            method: &head.method,
            target: &head.target,
            host: head.host.as_deref(),
        });
        write_response(
            &mut stream,
            head.method == "HEAD",
            head.keep_alive,
            response,
        )?;
        if !head.keep_alive {
            return Ok(());
        }
    }
}

/// Answers and closes a connection whose client may still be sending. Closing a socket with
/// unread input resets it, and the reset can destroy the answer before the client reads it; so
/// stop writing first, then read and drop what is still coming, for a short while.
fn refuse(mut stream: TcpStream, head_only: bool, response: Response) -> io::Result<()> {
    write_response(&mut stream, head_only, false, response)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let _ = io::copy(&mut (&stream).take(1 << 20), &mut io::sink());
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_response(
    stream: &mut TcpStream,
    head_only: bool,
    keep_alive: bool,
    response: Response,
) -> io::Result<()> {
    let length = match &response.body {
        Body::Text(t) => t.len() as u64,
        Body::File(f) => f.metadata()?.len(),
    };
    let mut out = BufWriter::new(&mut *stream);
    write!(
        out,
        "HTTP/1.1 {} {}\r\nServer: rendorix\r\nContent-Length: {length}\r\n",
        response.status,
        reason(response.status)
    )?;
    for (name, value) in &response.headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    if !keep_alive {
        out.write_all(b"Connection: close\r\n")?;
    }
    out.write_all(b"\r\n")?;
    if !head_only && let Body::Text(t) = &response.body {
        out.write_all(t.as_bytes())?;
    }
    out.flush()?;
    drop(out);
    if !head_only && let Body::File(file) = response.body {
        // Exactly the announced length, even if the file grows meanwhile.
        let sent = io::copy(&mut file.take(length), stream)?;
        if sent < length {
            return Err(io::Error::other("the file shrank while it was sent"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// A server answering `200 <target>` (and 404 for `/missing`), on a free port.
    fn server() -> SocketAddr {
        server_with(HEAD_TIME)
    }

    /// The same, closing a connection that has not sent a whole head within `head_time`.
    fn server_with(head_time: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let handler = |r: &Request| {
                let status = if r.target == "/missing" { 404 } else { 200 };
                Response::text(status, format!("{} {} {:?}", r.method, r.target, r.host))
            };
            serve(&listener, handler, head_time)
        });
        addr
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).unwrap();
        // A hung server fails the test instead of hanging it.
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Reads a response head, up to its blank line.
    fn read_head(s: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-head: {head:?}");
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    /// Reads one response: the head and a body of its Content-Length.
    fn response(s: &mut TcpStream) -> (String, String) {
        let head = read_head(s);
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        s.read_exact(&mut body).unwrap();
        (head, String::from_utf8(body).unwrap())
    }

    fn closed(s: &mut TcpStream) -> bool {
        matches!(s.read(&mut [0u8; 1]), Ok(0))
    }

    #[test]
    fn keeps_the_connection_for_several_and_pipelined_requests() {
        let mut s = connect(server());
        s.write_all(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let (head, body) = response(&mut s);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(!head.contains("Connection: close"));
        assert_eq!(body, r#"GET /a Some("h")"#);
        // Two requests in one write, the second in two pieces.
        s.write_all(b"GET /b HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\nHo")
            .unwrap();
        assert_eq!(response(&mut s).1, "GET /b None");
        s.write_all(b"st: x\r\nConnection: close\r\n\r\n").unwrap();
        let (head, body) = response(&mut s);
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
        assert!(head.contains("Connection: close\r\n"));
        assert_eq!(body, r#"GET /missing Some("x")"#);
        assert!(closed(&mut s));
    }

    #[test]
    fn idle_connections_never_hold_up_a_new_one() {
        let addr = server();
        // More idle connections (sent nothing, or one request and kept open) than any pool of
        // workers would have; a browser's preconnects look like the first kind.
        let mut idle: Vec<_> = (0..40).map(|_| connect(addr)).collect();
        for s in idle.iter_mut().step_by(2) {
            s.write_all(b"GET /kept HTTP/1.1\r\n\r\n").unwrap();
            response(s);
        }
        for round in 0..20 {
            let mut fresh: Vec<_> = (0..6).map(|_| connect(addr)).collect();
            for s in &mut fresh {
                s.write_all(b"GET /new HTTP/1.1\r\n\r\n").unwrap();
            }
            for s in &mut fresh {
                assert_eq!(response(s).1, "GET /new None", "round {round}");
            }
        }
    }

    #[test]
    fn a_head_sent_slowly_is_cut_off_at_its_deadline() {
        let addr = server_with(Duration::from_millis(600));
        let mut slow = connect(addr);
        let start = Instant::now();
        // One byte every 200 ms: each read comes well within any idle timeout, the head never.
        let mut cut = false;
        for b in b"GET /slow HTTP/1.1\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*b]).is_err() {
                cut = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            if start.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        assert!(
            cut || closed(&mut slow),
            "still open after {:?}",
            start.elapsed()
        );
        assert!(start.elapsed() < Duration::from_secs(3));
        // A connection that completes its head in time is answered.
        let mut s = connect(addr);
        s.write_all(b"GET /quick HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(response(&mut s).1, "GET /quick None");
    }

    #[test]
    fn head_gets_the_length_without_the_body() {
        let mut s = connect(server());
        s.write_all(b"HEAD /abc HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n")
            .unwrap();
        let head = read_head(&mut s);
        // "HEAD /abc None"
        assert!(head.contains("Content-Length: 14\r\n"), "{head}");
        // The next bytes are the next response, not a body.
        assert_eq!(response(&mut s).1, "GET /next None");
    }

    #[test]
    fn http_1_0_closes_unless_asked_to_keep_alive() {
        let addr = server();
        let mut s = connect(addr);
        s.write_all(b"GET /old HTTP/1.0\r\n\r\n").unwrap();
        let (head, _) = response(&mut s);
        assert!(head.contains("Connection: close\r\n"));
        assert!(closed(&mut s));
        let mut s = connect(addr);
        s.write_all(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        assert!(!response(&mut s).0.contains("Connection: close"));
    }

    #[test]
    fn bad_requests_get_a_status_and_the_connection_closes() {
        let addr = server();
        let cases: [(&[u8], &str); 8] = [
            (b"GARBAGE\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "400"),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "400",
            ),
            (b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "200"),
            // Smuggling: a second request hidden as the body of one a proxy reads differently.
            (
                b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 23\r\n\r\nGET /hidden HTTP/1.1\r\n\r\n",
                "400",
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
                "400",
            ),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
                "200",
            ),
        ];
        for (request, status) in cases {
            let mut s = connect(addr);
            s.write_all(request).unwrap();
            let (head, _) = response(&mut s);
            assert_eq!(&head[9..12], status, "{}", String::from_utf8_lossy(request));
            if status == "400" {
                assert!(closed(&mut s));
            }
        }
        let mut s = connect(addr);
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        // The server may answer and close before the whole line is written.
        let _ = s.write_all(long.as_bytes());
        let (head, _) = response(&mut s);
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        // A target of 10,000 bytes is within the head limit and reaches the handler.
        let mut s = connect(addr);
        let target = format!("/{}", "b".repeat(10_000));
        write!(s, "GET {target} HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(response(&mut s).1, format!("GET {target} None"));
    }
}
