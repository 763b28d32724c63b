//! A minimal HTTP/1.1 load generator for the server-bound phase of `overhead`.
//!
//! hyper's client costs about as much per request as the server it drives, so against bare
//! axum the load generator saturates its core first and the throughput ratio says nothing
//! about the servers. This one writes a prepared `GET` and reads the answer's head and
//! `content-length` body on keep-alive connections, several times cheaper per request, so
//! the server's one core is the bottleneck.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixtures;
use crate::loadgen::{self, ClosedLoop};

/// Each of `connections` keep-alive connections sends its next request as soon as the
/// previous answer is in, for `duration`.
///
/// # Errors
///
/// When a connection cannot be opened.
pub async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
) -> std::io::Result<ClosedLoop> {
    let request = format!(
        "GET {} HTTP/1.1\r\nhost: {addr}\r\nuser-agent: chassis-bench/1.0\r\naccept: */*\r\n\r\n",
        fixtures::PATH
    );
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let request = request.clone();
            tokio::spawn(async move { exchange_until(stream, request.as_bytes(), deadline).await })
        })
        .collect();
    Ok(loadgen::gather(tasks, start).await)
}

/// How long an answer may take once its request is sent, before the connection is dropped
/// as failed (a stalled server must not hang the bench).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests on one connection until `deadline`: (200 answers, failures). A connection that
/// breaks, stalls or answers without a `content-length` is counted as one failure and
/// dropped.
async fn exchange_until(mut stream: TcpStream, request: &[u8], deadline: Instant) -> (u64, u64) {
    let mut buf = Vec::with_capacity(4096);
    let (mut ok, mut failed) = (0u64, 0u64);
    while Instant::now() < deadline {
        if stream.write_all(request).await.is_err() {
            return (ok, failed + 1);
        }
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, read_answer(&mut stream, &mut buf));
        match answer.await {
            Ok(Some(true)) => ok += 1,
            Ok(Some(false)) => failed += 1,
            Ok(None) | Err(_) => return (ok, failed + 1),
        }
    }
    (ok, failed)
}

/// Reads one answer: `Some(status == 200)`, `None` when the connection broke or the answer
/// cannot be framed.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        match framed(buf) {
            Framing::Complete { length, status_ok } => {
                buf.drain(..length);
                return Some(status_ok);
            }
            Framing::Unframed => return None,
            Framing::Partial => {}
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the answer at the start of a buffer stands.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    /// All of it (head and `content-length` body) is there.
    Complete { length: usize, status_ok: bool },
    /// More bytes are needed.
    Partial,
    /// Its head has no `content-length` (chunked, or none): this client does not read it.
    Unframed,
}

fn framed(buf: &[u8]) -> Framing {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Framing::Partial;
    };
    let head = &buf[..head_end + 4];
    let Some(body) = content_length(head) else {
        return Framing::Unframed;
    };
    let length = head.len() + body;
    if buf.len() < length {
        return Framing::Partial;
    }
    Framing::Complete {
        length,
        status_ok: head.get(9..12) == Some(b"200"),
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    const NAME: &[u8] = b"content-length:";
    head.split(|&b| b == b'\n').find_map(|line| {
        let value = line
            .get(..NAME.len())
            .filter(|name| name.eq_ignore_ascii_case(NAME))
            .map(|_| &line[NAME.len()..])?;
        std::str::from_utf8(value).ok()?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_complete_with_its_body() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx: y\r\n\r\nok";
        let whole = Framing::Complete {
            length: answer.len(),
            status_ok: true,
        };
        assert_eq!(framed(answer), whole);
        assert_eq!(framed(&answer[..answer.len() - 1]), Framing::Partial);
        assert_eq!(framed(&answer[..10]), Framing::Partial);
        let mut two = answer.to_vec();
        two.extend_from_slice(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(framed(&two), whole);
        assert_eq!(
            framed(&two[answer.len()..]),
            Framing::Complete {
                length: two.len() - answer.len(),
                status_ok: false
            }
        );
    }

    #[test]
    fn an_answer_without_a_length_is_not_read() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        assert_eq!(framed(chunked), Framing::Unframed);
    }
}
