//! `rendorix serve` over real HTTP: raw request lines (no client normalizes the path), the
//! edge's verdicts, and no file outside the site or origin folder.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::{NOW, Site, TEST_KEY};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(site: &Site, now: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(["serve", "--port", "0", "--now", now])
        .current_dir(&site.root)
        .env("RENDORIX_KEYS", TEST_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    Server { child, port }
}

/// Sends `target` as is in the request line; returns the status, the X-Rendorix-Reason header
/// and the body.
fn get(server: &Server, target: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    let reason = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Rendorix-Reason: "))
        .map(str::to_owned);
    (status, reason, response[split + 4..].to_vec())
}

fn signed_src(site: &Site, image: &str) -> String {
    let html = site.read_text("public/index.html");
    let at = html.find(&format!("\"{image}?exp=")).unwrap() + 1;
    html[at..at + html[at..].find('"').unwrap()].replace("&amp;", "&")
}

#[test]
fn serves_verified_images_and_refuses_the_rest_with_the_reason() {
    let site = Site::copy("preview");
    assert_eq!(site.sign(&[]).status.code(), Some(0));
    let server = serve(&site, NOW);
    let src = signed_src(&site, "/media/cat.png");
    let (status, reason, body) = get(&server, &src);
    assert_eq!((status, reason), (200, None));
    assert_eq!(body, site.read("public/media/cat.png"));
    for (target, code) in [
        ("/media/cat.png".to_owned(), "unsigned"),
        (src.replace("cat.png", "cat@2x.png"), "bad_signature"),
        (src.replace("kid=k2026a", "kid=k2025b"), "unknown_key"),
    ] {
        let (status, reason, body) = get(&server, &target);
        assert_eq!((status, reason.as_deref()), (403, Some(code)), "{target}");
        assert!(String::from_utf8(body).unwrap().starts_with(code));
    }
    let (status, _, body) = get(&server, "/");
    assert_eq!(status, 200);
    assert_eq!(body, site.read("public/index.html"));
    drop(server);

    // Two days later, the same link is expired.
    let later = (NOW.parse::<u64>().unwrap() + 2 * 86400).to_string();
    let server = serve(&site, &later);
    let (status, reason, _) = get(&server, &src);
    assert_eq!((status, reason.as_deref()), (403, Some("expired")));
}

#[test]
fn no_request_line_reaches_a_file_outside_the_site() {
    let site = Site::copy("preview");
    assert_eq!(site.sign(&[]).status.code(), Some(0));
    let config = site.read("rendorix.toml");
    let server = serve(&site, NOW);
    for target in [
        "/../rendorix.toml",
        "/media/../../rendorix.toml",
        "/%2e%2e/rendorix.toml",
        "/%2E%2E%2Frendorix.toml",
        "/..%5crendorix.toml",
        "/media/..%2f..%2frendorix.toml",
        "/./../rendorix.toml",
        "/../../../../etc/passwd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let (status, _, body) = get(&server, target);
        assert!(matches!(status, 400 | 403 | 404), "{target}: {status}");
        assert_ne!(body, config, "{target}");
        assert!(
            !String::from_utf8_lossy(&body).contains("root:"),
            "{target}"
        );
    }
}

/// What a browser does on a first page load: several connections at once, one request each, all
/// kept open. `tiny_http`, used before, left 8 connections unanswered in 50 such rounds here.
#[test]
fn concurrent_keep_alive_connections_are_all_answered() {
    let site = Site::copy("preview");
    let server = serve(&site, NOW);
    for round in 0..50 {
        let mut connections: Vec<_> = (0..6)
            .map(|_| {
                let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                s
            })
            .collect();
        for s in &mut connections {
            write!(s, "GET /media/cat.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        }
        for (i, s) in connections.iter_mut().enumerate() {
            let mut first = [0u8; 12];
            s.read_exact(&mut first)
                .unwrap_or_else(|e| panic!("round {round}, connection {i}: {e}"));
            assert_eq!(&first, b"HTTP/1.1 403");
        }
    }
}
