//! The server stack over real loopback connections: bad input gets its status and the
//! service keeps serving others.

#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{body, client, eventually, gate, get, send, spawn};
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(10);

async fn read_until_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads `stream` until what came ends with `end`; what came, also when the server closed
/// the connection first.
async fn read_until(stream: &mut TcpStream, end: &str) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(end.as_bytes()) {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Sends `GET path` on the kept-alive `stream` and reads its answer up to `end`, a `200`.
async fn ask(stream: &mut TcpStream, path: &str, end: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answer = read_until(stream, end).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

/// The server closes `stream` without answering its unfinished request.
async fn assert_closed_unanswered(stream: &mut TcpStream) {
    let answer = read_until_close(stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    let mut probe = [0u8; 1];
    let closed = tokio::time::timeout(DEADLINE, stream.read(&mut probe)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "connection still open"
    );
}

#[tokio::test]
async fn request_id_is_generated_or_kept() {
    let service = spawn(&[]).await;
    let reply = get(service.addr(), "/hello").await;
    let generated = reply.header("x-request-id").expect("generated id");
    assert_eq!(generated.len(), 32);

    let request = Request::get(format!("http://{}/hello", service.addr()))
        .header("x-request-id", "caller-chose-this")
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), request).await.unwrap();
    assert_eq!(reply.header("x-request-id"), Some("caller-chose-this"));
    service.shutdown().await;
}

#[tokio::test]
async fn oversized_body_with_length_gets_413() {
    let service = spawn(&[("server.max_body_size", "1KiB")]).await;
    let request = Request::post(format!("http://{}/echo", service.addr()))
        .body(body(&"x".repeat(2048)))
        .unwrap();
    let reply = send(&client(), request).await.unwrap();
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );

    let request = Request::post(format!("http://{}/echo", service.addr()))
        .body(body("small"))
        .unwrap();
    let reply = send(&client(), request).await.unwrap();
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (StatusCode::OK, "small")
    );
    service.shutdown().await;
}

#[tokio::test]
async fn oversized_chunked_body_gets_413() {
    let service = spawn(&[("server.max_body_size", "1KiB")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    let chunk = "a".repeat(800);
    let head =
        "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    let chunks = format!(
        "{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(chunks.as_bytes()).await.unwrap();
    let answer = read_until_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn slow_headers_close_the_connection() {
    let service = spawn(&[("server.header_read_timeout", "200ms")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // Never finish the head: the server must give up on its own.
    assert_closed_unanswered(&mut stream).await;
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

/// A stalled head after a few answered requests closes the connection too.
#[tokio::test]
async fn slow_headers_after_kept_alive_requests_close_the_connection() {
    // Long enough that a busy machine does not cut a head that comes in one piece.
    let service = spawn(&[("server.header_read_timeout", "1s")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    for _ in 0..3 {
        ask(&mut stream, "/hello", "hello").await;
    }
    stream.write_all(b"GET /hello HTTP/1.1\r\n").await.unwrap();
    assert_closed_unanswered(&mut stream).await;
    service.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let service = spawn(&[("server.idle_timeout", "300ms")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    ask(&mut stream, "/hello", "hello").await;
    // Nothing more is sent: the server closes its end (end of stream, not a reset).
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
    service.shutdown().await;
}

/// Idle is not slow: a kept-alive connection with nothing to send waits for the idle
/// timeout, however short the head timeout.
#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_head_timeout() {
    let service = spawn(&[("server.header_read_timeout", "200ms")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    ask(&mut stream, "/hello", "hello").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ask(&mut stream, "/hello", "hello").await;
    service.shutdown().await;
}

/// The guard is against slow clients only: a slow handler and a response that pauses for
/// longer than the header timeout are delivered in full on the same connection.
#[tokio::test]
async fn slow_answers_and_pausing_bodies_are_not_cut() {
    let service = spawn(&[("server.header_read_timeout", "200ms")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    ask(&mut stream, "/slow/800", "slept 800ms").await;
    let answer = ask(&mut stream, "/pause/800", "\r\n0\r\n\r\n").await;
    assert!(
        answer.contains("before ") && answer.contains("after"),
        "{answer}"
    );
    service.shutdown().await;
}

/// A short idle guard, and a send timeout that a slow reader is far from: a write only
/// goes out once about a third of the socket's send buffer (up to 4 MiB) is free, which a
/// reader taking 3 MB/s needs about half a second for, or longer on a busy machine. (The
/// unit tests show that bytes taken keep a waiting write.)
const SLOW_READER_GUARDS: [(&str, &str); 2] = [
    ("server.header_read_timeout", "200ms"),
    ("server.send_timeout", "5s"),
];

/// `GET path` on `service`, with an empty body.
fn get_request(
    service: &chassis::service::ServiceHandle,
    path: &str,
) -> Request<Full<bytes::Bytes>> {
    let uri = format!("http://{}{path}", service.addr());
    Request::get(uri).body(Full::default()).unwrap()
}

/// An HTTP/2 connection to `service` with hyper's client defaults; the caller drives the
/// connection future.
async fn http2_handshake(
    service: &chassis::service::ServiceHandle,
) -> (
    hyper::client::conn::http2::SendRequest<Full<bytes::Bytes>>,
    hyper::client::conn::http2::Connection<
        hyper_util::rt::TokioIo<TcpStream>,
        Full<bytes::Bytes>,
        hyper_util::rt::TokioExecutor,
    >,
) {
    let stream = TcpStream::connect(service.addr()).await.unwrap();
    hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap()
}

/// Connects with a small receive buffer, so that most of a large answer waits in the
/// server for the reader, and asks for `mib` MiB.
async fn ask_big(service: &chassis::service::ServiceHandle, mib: usize) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 << 10).unwrap();
    let mut stream = socket.connect(service.addr()).await.unwrap();
    stream
        .write_all(format!("GET /big/{mib} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    stream
}

/// A large answer whose body hyper queued at once, read slowly: the bytes the reader takes
/// keep the connection, though no request is in flight and writes wait for the reader.
#[tokio::test]
async fn a_large_answer_read_slowly_is_not_cut() {
    const MIB: usize = 8;
    let service = spawn(&SLOW_READER_GUARDS).await;
    let mut stream = ask_big(&service, MIB).await;
    // About 3 MB/s: seconds for what the server's send buffer cannot hold.
    let mut received = 0;
    let mut buf = vec![0u8; 64 << 10];
    while received < MIB << 20 {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        received += n;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(received > MIB << 20, "cut after {received} bytes");
    service.shutdown().await;
}

/// A short send timeout, for peers that stop reading.
const STALL_GUARDS: [(&str, &str); 2] = [
    ("server.header_read_timeout", "200ms"),
    ("server.send_timeout", "1s"),
];

/// A peer that stops reading a large answer is reset after the send timeout, which frees
/// what the server had left to send (a plain close would send nothing it could see), and
/// the service keeps serving others.
#[tokio::test]
async fn a_peer_that_stops_reading_is_reset() {
    let service = spawn(&STALL_GUARDS).await;
    let stream = ask_big(&service, 8).await;
    // Nothing is read: the socket reports the reset once it arrives.
    assert_reset(&stream.into_std().unwrap()).await;
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

/// A stop does not wait past its grace period on a peer that stopped reading: the
/// connection is cut with a reset, though the send timeout is far off.
#[tokio::test]
async fn a_stop_resets_a_peer_that_stopped_reading() {
    let service = spawn(&[("shutdown.grace_period", "300ms")]).await;
    let mut stream = ask_big(&service, 8).await;
    // The answer has begun; nothing more is read.
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200");
    let stream = stream.into_std().unwrap();
    let report = service.shutdown().await;
    assert_eq!(report.cut_connections, 1);
    assert_reset(&stream).await;
}

/// A client socket that stops reading when told to, as a peer that stops reading would.
struct StopsReading {
    inner: hyper_util::rt::TokioIo<TcpStream>,
    stopped: Arc<AtomicBool>,
}

impl hyper::rt::Read for StopsReading {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.stopped.load(Ordering::Relaxed) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for StopsReading {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Polls until the socket behind `probe` reports a reset.
async fn assert_reset(probe: &std::net::TcpStream) {
    eventually(DEADLINE, "the connection reset", || async {
        match probe.take_error() {
            Ok(Some(error)) => {
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
                true
            }
            Ok(None) => false,
            Err(error) => panic!("{error}"),
        }
    })
    .await;
}

/// Over HTTP/2 too: a peer that opened a large window, then stopped reading the socket.
#[tokio::test]
async fn a_peer_that_stops_reading_http2_is_reset() {
    const MIB: u32 = 16;
    let service = spawn(&STALL_GUARDS).await;
    let std_stream = TcpStream::connect(service.addr())
        .await
        .unwrap()
        .into_std()
        .unwrap();
    let probe = std_stream.try_clone().unwrap();
    let stopped = Arc::new(AtomicBool::new(false));
    let io = StopsReading {
        inner: hyper_util::rt::TokioIo::new(TcpStream::from_std(std_stream).unwrap()),
        stopped: Arc::clone(&stopped),
    };
    let (mut sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size((2 * MIB) << 20)
            .initial_connection_window_size((2 * MIB) << 20)
            .handshake(io)
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = get_request(&service, &format!("/big/{MIB}"));
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The body is kept (dropping it would cancel the stream), and nothing more is read.
    stopped.store(true, Ordering::Relaxed);
    assert_reset(&probe).await;
    drop(response);
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn a_large_answer_read_slowly_over_http2_is_not_cut() {
    use http_body_util::BodyExt as _;
    const MIB: usize = 8;
    let service = spawn(&SLOW_READER_GUARDS).await;
    let (mut sender, connection) = http2_handshake(&service).await;
    tokio::spawn(connection);
    let request = get_request(&service, &format!("/big/{MIB}"));
    let mut body = sender.send_request(request).await.unwrap().into_body();
    // One 16 KiB frame per 5 ms: about 3 MB/s, the window opening as frames are taken.
    let mut received = 0;
    while let Some(frame) = tokio::time::timeout(DEADLINE, body.frame()).await.unwrap() {
        let frame = frame.unwrap_or_else(|error| panic!("cut after {received} bytes: {error}"));
        received += frame.into_data().map_or(0, |data| data.len());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(received, MIB << 20);
    service.shutdown().await;
}

#[tokio::test]
async fn an_idle_http2_connection_is_sent_away() {
    let service = spawn(&[("server.idle_timeout", "300ms")]).await;
    let (mut sender, connection) = http2_handshake(&service).await;
    let connection = tokio::spawn(connection);
    let request = get_request(&service, "/hello");
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    // Idle from here: the server says GOAWAY and the connection ends without an error.
    let ended = tokio::time::timeout(DEADLINE, connection).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    service.shutdown().await;
}

#[tokio::test]
async fn slow_body_fails_the_request() {
    let service = spawn(&[("server.body_read_timeout", "200ms")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nconnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 10]).await.unwrap();
    // The other 90 bytes never come.
    let answer = read_until_close(&mut stream).await;
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert!(status.starts_with('4'), "expected a 4xx, got {answer}");
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

/// The status line of a request with `count` headers in all (`host` and `connection: close`
/// among them).
async fn status_line_with_headers(addr: std::net::SocketAddr, count: usize) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = String::from("GET /hello HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 2..count {
        let _ = write!(head, "x-extra-{i}: {i}\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_close(&mut stream).await;
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn too_many_headers_get_431() {
    let service = spawn(&[("server.max_headers", "20")]).await;
    let at_limit = status_line_with_headers(service.addr(), 20).await;
    assert_eq!(at_limit, "HTTP/1.1 200 OK");
    let over = status_line_with_headers(service.addr(), 21).await;
    assert!(over.starts_with("HTTP/1.1 431"), "{over}");
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn default_header_limit_is_100() {
    let service = spawn(&[]).await;
    let at_limit = status_line_with_headers(service.addr(), 100).await;
    assert_eq!(at_limit, "HTTP/1.1 200 OK");
    let over = status_line_with_headers(service.addr(), 101).await;
    assert!(over.starts_with("HTTP/1.1 431"), "{over}");
    service.shutdown().await;
}

#[tokio::test]
async fn too_large_headers_get_431() {
    let service = spawn(&[("server.max_header_size", "8KiB")]).await;
    let mut stream = TcpStream::connect(service.addr()).await.unwrap();
    let head = format!(
        "GET /hello HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "b".repeat(32 * 1024)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = read_until_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn panicking_handler_gets_500_and_the_service_lives() {
    let service = spawn(&[]).await;
    let reply = get(service.addr(), "/panic").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert!(reply.header("x-request-id").is_some());
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    // The RED histogram counts it under its route, with the status the client got.
    let metrics = get(service.addr(), "/metrics").await.text();
    assert_eq!(red_count(&metrics, "/panic", "500"), Some(1), "{metrics}");
    service.shutdown().await;
}

/// The count of `http_server_request_duration_seconds` for a GET on `route` with `status`.
fn red_count(metrics: &str, route: &str, status: &str) -> Option<u64> {
    let series = format!(
        "http_server_request_duration_seconds_count{{http_request_method=\"GET\",http_route=\"{route}\",http_response_status_code=\"{status}\""
    );
    // The service's own label follows the metric's.
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(&series)?;
        rest.rsplit_once("} ")?.1.parse().ok()
    })
}

#[tokio::test]
async fn slow_handler_gets_504() {
    let service = spawn(&[("server.request_timeout", "100ms")]).await;
    let reply = get(service.addr(), "/gate/never-opened").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.json()["status"], 504);
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    // The RED histogram counts it under its route as the 504 it was answered with, and the
    // timed-out handler no longer counts as active.
    let metrics = get(service.addr(), "/metrics").await.text();
    assert_eq!(
        red_count(&metrics, "/gate/{key}", "504"),
        Some(1),
        "{metrics}"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn flood_over_the_concurrency_limit_is_shed_with_503() {
    let service = spawn(&[("server.max_concurrent_requests", "4")]).await;
    let addr = service.addr();
    let key = "flood";
    let held: Vec<_> = (0..4)
        .map(|_| tokio::spawn(async move { get(addr, &format!("/gate/{key}")).await.status }))
        .collect();
    // Once four are in flight, every further request is shed at once.
    eventually(DEADLINE, "a request to be shed", || async {
        get(addr, "/hello").await.status == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let shed = get(addr, "/hello").await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    // Spread over one to three seconds, so shed callers do not all come back in one tick.
    let mut waits = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let shed = get(addr, "/hello").await;
        waits.insert(shed.header("retry-after").unwrap().to_owned());
    }
    assert!(waits.len() > 1, "{waits:?}");
    assert!(
        waits.iter().all(|w| ["1", "2", "3"].contains(&w.as_str())),
        "{waits:?}"
    );
    assert_eq!(
        shed.header("content-type"),
        Some("application/problem+json")
    );

    let opener = gate(key);
    for task in held {
        opener.notify_one();
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    // Permits are released: the service serves again.
    eventually(DEADLINE, "the service to accept again", || async {
        get(addr, "/hello").await.status == StatusCode::OK
    })
    .await;
    // Shed requests never reach the router; they are counted on their own.
    let metrics = get(addr, "/metrics").await.text();
    assert!(
        metrics.contains("chassis_server_rejected_total{reason=\"shed\""),
        "{metrics}"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn faults_hit_own_routes_but_never_health() {
    let service = spawn(&[("faults.enabled", "true"), ("faults.error_rate", "1.0")]).await;
    let reply = get(service.addr(), "/hello").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        get(service.addr(), "/health/ready").await.status,
        StatusCode::OK
    );
    assert_eq!(get(service.addr(), "/info").await.status, StatusCode::OK);
    service.shutdown().await;
}

/// Own routes (faulted or not) and 404s are measured; the operational endpoints, answered
/// ahead of the stack, are not. Methods no other test here uses keep the series apart from
/// theirs: the recorder is global to the process.
#[tokio::test]
async fn every_request_to_the_service_is_measured_and_probes_are_not() {
    let service = spawn(&[("faults.enabled", "true"), ("faults.error_rate", "1.0")]).await;
    let addr = service.addr();
    let request = |method: &str, path: &str| {
        Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .body(Full::default())
            .unwrap()
    };
    let client = client();
    for (method, path, status) in [
        ("PUT", "/hello", StatusCode::SERVICE_UNAVAILABLE),
        // Faults cover everything but the operational endpoints, unknown paths too.
        ("PATCH", "/no/such/path", StatusCode::SERVICE_UNAVAILABLE),
        ("HEAD", "/health/ready", StatusCode::OK),
    ] {
        let reply = send(&client, request(method, path)).await.unwrap();
        assert_eq!(reply.status, status, "{method} {path}");
    }
    let metrics = get(addr, "/metrics").await.text();
    for (method, route, status) in [("PUT", "/hello", "503"), ("PATCH", "unmatched", "503")] {
        let series = format!(
            "http_server_request_duration_seconds_count{{http_request_method=\"{method}\",\
             http_route=\"{route}\",http_response_status_code=\"{status}\""
        );
        assert!(metrics.contains(&series), "missing {series} in\n{metrics}");
    }
    assert!(
        !metrics.contains("http_route=\"/health/ready\""),
        "probes are not the service's traffic:\n{metrics}"
    );
    service.shutdown().await;
}

/// With an admin port, the main port's 404s are measured too (its fallback is the routes'
/// own, traced one).
#[tokio::test]
async fn with_an_admin_port_404s_are_measured() {
    let service = spawn(&[("server.admin_port", "0")]).await;
    let request = Request::builder()
        .method("OPTIONS")
        .uri(format!("http://{}/no/such/path", service.addr()))
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), request).await.unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let admin = service.admin_addr().expect("admin port bound");
    let metrics = get(admin, "/metrics").await.text();
    let series = "http_server_request_duration_seconds_count{http_request_method=\"OPTIONS\",\
                  http_route=\"unmatched\",http_response_status_code=\"404\"";
    assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    service.shutdown().await;
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    let service = spawn(&[]).await;
    let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<bytes::Bytes>>();
    let request = get_request(&service, "/hello");
    let reply = send(&h2, request).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello");
    service.shutdown().await;
}

#[tokio::test]
async fn info_names_the_service() {
    let service = spawn(&[]).await;
    let info = get(service.addr(), "/info").await.json();
    assert_eq!(info["name"], "test-service");
    assert_eq!(info["version"], "1.2.3");
    assert_eq!(info["instance_id"], service.identity().instance_id.as_str());
    service.shutdown().await;
}

#[tokio::test]
async fn admin_port_separates_ops_endpoints() {
    let service = spawn(&[("server.admin_port", "0")]).await;
    let admin = service.admin_addr().expect("admin port bound");
    assert_ne!(admin, service.addr());
    assert_eq!(get(admin, "/health/ready").await.status, StatusCode::OK);
    assert_eq!(
        get(service.addr(), "/health/ready").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn the_callers_deadline_reaches_the_handler_and_bad_ones_are_ignored() {
    let service = spawn(&[("server.request_timeout", "5s")]).await;
    let ask = |value: &'static str| {
        let request = Request::get(format!("http://{}/deadline", service.addr()))
            .header("x-request-timeout-ms", value)
            .body(Full::default())
            .unwrap();
        async move { send(&client(), request).await.unwrap() }
    };
    let reply = ask("250").await;
    assert_eq!(reply.status, StatusCode::OK);
    let left: u64 = reply.text().parse().unwrap();
    assert!(left <= 250 && left > 0, "{left}");
    // Capped by the server's own request timeout.
    let left: u64 = ask("600000").await.text().parse().unwrap();
    assert!(left <= 5000, "{left}");
    for malformed in ["-5", "soon", "", "1e3", "99999999999999999999"] {
        let reply = ask(malformed).await;
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (StatusCode::OK, "none"),
            "{malformed}"
        );
    }
    assert_eq!(get(service.addr(), "/deadline").await.text(), "none");
    service.shutdown().await;
}
