//! Peers that try to exhaust the server's connections or memory, held over real loopback
//! sockets: each attack ends within its timeout, the server's connections come back to
//! none, and the service answers others during and after.

#![allow(clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use bytes::Bytes;
use chassis::config::ServerConfig;
use chassis::server::{Serving, standard_stack};
use common::eventually;
use http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(10);

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A few routes: a small answer, a large one, one that pauses.
fn routes() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/big/{kib}",
            get(|Path(kib): Path<usize>| async move { vec![b'x'; kib << 10] }),
        )
        .route(
            "/pause/{ms}",
            get(|Path(pause): Path<u64>| async move {
                let parts = futures_util::stream::unfold(0u8, move |part| async move {
                    match part {
                        0 => Some((Ok::<_, Infallible>(Bytes::from_static(b"before ")), 1)),
                        1 => {
                            tokio::time::sleep(ms(pause)).await;
                            Some((Ok(Bytes::from_static(b"after")), 2))
                        }
                        _ => None,
                    }
                });
                Body::from_stream(parts)
            }),
        )
}

/// [`routes`] served on loopback with the standard stack and the settings `configure`
/// makes, so that the test can count the server's open connections.
async fn serve(configure: impl FnOnce(&mut ServerConfig)) -> Serving {
    let mut config = ServerConfig::default();
    configure(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = standard_stack(&config, routes());
    Serving::start(listener, service, &config, CancellationToken::new()).unwrap()
}

/// Waits until the server has no connection open.
async fn all_closed(serving: &Serving) {
    eventually(DEADLINE, "the server's connections to close", || {
        std::future::ready(serving.open_connections() == 0)
    })
    .await;
}

/// A plain HTTP/1 `GET /hello` on a connection of its own is answered.
async fn still_answers(addr: SocketAddr) {
    let reply = common::get(addr, "/hello").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello");
}

/// A `GET path` for the `h2` client.
fn h2_get(addr: SocketAddr, path: &str) -> Request<()> {
    Request::get(format!("http://{addr}{path}"))
        .body(())
        .unwrap()
}

/// Sends pings over `connection` until it ends; what ended it.
async fn ping_until_closed(
    mut connection: h2::client::Connection<TcpStream>,
) -> Result<(), h2::Error> {
    let mut pings = connection.ping_pong().unwrap();
    let pinging = async {
        while pings.ping(h2::Ping::opaque()).await.is_ok() {
            tokio::time::sleep(ms(20)).await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        ended = connection => ended,
        () = pinging => unreachable!(),
    }
}

/// Polls `connection` on a task of its own, noting when it ends.
fn watch<F>(connection: F) -> tokio::task::JoinHandle<(Instant, F::Output)>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    tokio::spawn(async move {
        let ended = connection.await;
        (Instant::now(), ended)
    })
}

/// Waits for the [`watch`]ed `connections` to end, within [`DEADLINE`] of `start`: how long
/// after `start` the first and the last ended, and what ended them.
async fn ends<T>(
    start: Instant,
    connections: Vec<tokio::task::JoinHandle<(Instant, T)>>,
) -> (Duration, Duration, Vec<T>) {
    let mut times = Vec::new();
    let mut results = Vec::new();
    for connection in connections {
        let (at, result) = tokio::time::timeout_at(start + DEADLINE, connection)
            .await
            .expect("the connection ended in time")
            .unwrap();
        times.push(at.duration_since(start));
        results.push(result);
    }
    let first = times.iter().min().copied().unwrap_or_default();
    let last = times.iter().max().copied().unwrap_or_default();
    (first, last, results)
}

/// An HTTP/2 connection that only pings, never asking anything, is closed at the
/// header-read timeout: an answered ping is not activity.
#[tokio::test]
async fn http2_pings_without_a_request_close_at_the_header_timeout() {
    const CONNECTIONS: usize = 20;
    const TIMEOUT: Duration = Duration::from_millis(300);
    let serving = serve(|c| c.header_read_timeout = TIMEOUT).await;
    let addr = serving.local_addr();
    let start = Instant::now();
    let mut senders = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = h2::client::handshake(stream).await.unwrap();
        // Kept: an h2 client ends its connection once its last sender is dropped.
        senders.push(sender);
        connections.push(watch(ping_until_closed(connection)));
    }
    still_answers(addr).await;
    let (first, last, _) = ends(start, connections).await;
    assert!(first >= TIMEOUT, "closed after {first:?}");
    assert!(last < DEADLINE, "{last:?}");
    all_closed(&serving).await;
    still_answers(addr).await;
}

/// After a request, pings do not keep an HTTP/2 connection past the idle timeout either.
#[tokio::test]
async fn http2_pings_after_a_request_do_not_keep_an_idle_connection() {
    const IDLE: Duration = Duration::from_millis(300);
    let serving = serve(|c| c.idle_timeout = IDLE).await;
    let addr = serving.local_addr();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = h2::client::handshake(stream).await.unwrap();
    let connection = watch(ping_until_closed(connection));
    let mut sender = sender.ready().await.unwrap();
    let start = Instant::now();
    let (response, _) = sender.send_request(h2_get(addr, "/hello"), true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    // The sender is kept: the connection is the server's to end.
    let (_, last, _) = ends(start, vec![connection]).await;
    assert!(last >= IDLE, "closed after {last:?}");
    all_closed(&serving).await;
}

/// HTTP/2 peers that grant no flow-control window: hundreds of answers wait for one, on
/// several connections. No byte goes out, so each connection is reset at the send
/// timeout, however many answers it holds in flight, and the server holds none after.
#[tokio::test]
async fn http2_answers_granted_no_window_are_reset_at_the_send_timeout() {
    const CONNECTIONS: usize = 4;
    const STREAMS: usize = 200;
    const SEND_TIMEOUT: Duration = Duration::from_millis(500);
    let serving = serve(|c| {
        c.header_read_timeout = ms(300);
        c.send_timeout = SEND_TIMEOUT;
    })
    .await;
    let addr = serving.local_addr();
    let start = Instant::now();
    let mut held = Vec::new();
    let mut senders = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, Bytes>(stream)
            .await
            .unwrap();
        connections.push(watch(connection));
        let mut responses = Vec::new();
        for _ in 0..STREAMS {
            sender = sender.ready().await.unwrap();
            let (response, _) = sender.send_request(h2_get(addr, "/hello"), true).unwrap();
            responses.push(response);
        }
        // Each answer's head comes (headers are not flow-controlled); its body cannot.
        for response in responses {
            let response = response.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            held.push(response);
        }
        senders.push(sender);
    }
    still_answers(addr).await;
    let (first, last, results) = ends(start, connections).await;
    assert!(first >= SEND_TIMEOUT, "cut after {first:?}");
    for result in results {
        let error = result.expect_err("the server resets the connection");
        assert!(error.is_io(), "{error:?}");
    }
    assert!(last < DEADLINE);
    all_closed(&serving).await;
    still_answers(addr).await;
}

/// The state and send queue (bytes unsent or unacknowledged) of the server's end of the
/// connection between `server` and `client`, as `/proc/net/tcp` shows it; `None` once the
/// kernel has forgotten it.
fn server_end(server: SocketAddr, client: SocketAddr) -> Option<(u8, u64)> {
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => unreachable!("the tests bind 127.0.0.1"),
    };
    let (local, remote) = (hex(server), hex(client));
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields[1] != local || fields[2] != remote {
            return None;
        }
        let state = u8::from_str_radix(fields[3], 16).unwrap();
        let queue = fields[4].split(':').next().unwrap();
        Some((state, u64::from_str_radix(queue, 16).unwrap()))
    })
}

/// Connects with a small receive buffer, asks for `kib` KiB and reads nothing.
async fn ask_and_read_nothing(addr: SocketAddr, kib: usize) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let head = format!("GET /big/{kib} HTTP/1.1\r\nhost: x\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// The client preface of HTTP/2 and an empty `SETTINGS` frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
/// A `PING` frame.
const H2_PING: &[u8] = b"\0\0\x08\x06\0\0\0\0\0pingping";

/// Pings over a raw HTTP/2 connection until the server says `GOAWAY`, answering none of
/// its frames, then reads until the connection ends; how it ended.
async fn ping_ignoring_goaway(mut stream: TcpStream) -> std::io::Result<()> {
    stream.write_all(H2_PREFACE).await?;
    let mut pings = tokio::time::interval(ms(20));
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    let mut going_away = false;
    loop {
        tokio::select! {
            // Reads first: a ping written once the reset came would take its error.
            biased;
            n = stream.read(&mut buf) => match n? {
                0 => return Ok(()),
                n => {
                    read.extend_from_slice(&buf[..n]);
                    going_away |= has_goaway(&read);
                }
            },
            _ = pings.tick(), if !going_away => stream.write_all(H2_PING).await?,
        }
    }
}

/// Whether the frames in `read` include a `GOAWAY`.
fn has_goaway(mut read: &[u8]) -> bool {
    const GOAWAY: u8 = 7;
    while read.len() >= 9 {
        if read[3] == GOAWAY {
            return true;
        }
        let len = usize::from(read[0]) << 16 | usize::from(read[1]) << 8 | usize::from(read[2]);
        read = read.get(9 + len..).unwrap_or_default();
    }
    false
}

/// An HTTP/2 connection that ignores the server's `GOAWAY`, never answering its ping,
/// stays open when asked to close: it is cut at the next look, with a reset, not a polite
/// close that could linger.
#[tokio::test]
async fn a_connection_that_stays_when_asked_to_close_is_reset() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let serving = serve(|c| c.header_read_timeout = TIMEOUT).await;
    let addr = serving.local_addr();
    let stream = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let end = tokio::time::timeout(DEADLINE, ping_ignoring_goaway(stream))
        .await
        .expect("the connection ended in time");
    let error = end.expect_err("a reset, not an end of stream");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(start.elapsed() >= TIMEOUT, "{:?}", start.elapsed());
    all_closed(&serving).await;
    still_answers(addr).await;
}

/// The `tcp_states` of Linux's `include/net/tcp_states.h` that the tests look for.
const TCP_FIN_WAIT1: u8 = 4;

/// A peer that reads nothing of answers that fit in the server's socket buffer: no write
/// waits, so only the kernel sees that they do not go out. It aborts the connection once
/// the peer's window has stayed shut past the send timeout, long before the idle timeout.
#[tokio::test]
async fn a_peer_that_reads_nothing_of_answers_that_fit_is_aborted() {
    const SEND_TIMEOUT: Duration = Duration::from_millis(500);
    let serving = serve(|c| {
        c.header_read_timeout = ms(300);
        c.send_timeout = SEND_TIMEOUT;
        c.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = serving.local_addr();
    let mut stream = ask_and_read_nothing(addr, 256).await;
    let client = stream.local_addr().unwrap();
    let start = Instant::now();
    eventually(
        DEADLINE,
        "the answer to wait in the server's socket",
        || std::future::ready(server_end(addr, client).is_some_and(|(_, queued)| queued > 0)),
    )
    .await;
    still_answers(addr).await;
    eventually(DEADLINE, "the server's end to be gone", || {
        std::future::ready(server_end(addr, client).is_none())
    })
    .await;
    assert!(start.elapsed() >= SEND_TIMEOUT, "{:?}", start.elapsed());
    all_closed(&serving).await;
    // The kernel told the peer nothing; what it sends now is refused.
    let _ = stream.write_all(b"x").await;
    assert_reset(&stream).await;
    still_answers(addr).await;
}

/// A connection closed while its peer reads nothing leaves no orphan holding the unsent
/// answer (in `FIN-WAIT-1`, for minutes of zero-window probes): the kernel aborts it once
/// the window has stayed shut past the send timeout.
#[tokio::test]
async fn a_closed_connection_leaves_no_orphan_holding_its_unsent_answer() {
    let serving = serve(|c| {
        c.header_read_timeout = ms(300);
        c.idle_timeout = ms(300);
        c.send_timeout = ms(500);
    })
    .await;
    let addr = serving.local_addr();
    let stream = ask_and_read_nothing(addr, 256).await;
    let client = stream.local_addr().unwrap();
    // Idle once the answer is in the socket: closed, the answer still queued.
    eventually(
        DEADLINE,
        "the server's end to close with data queued",
        || {
            std::future::ready(
                server_end(addr, client)
                    .is_some_and(|(state, queued)| state == TCP_FIN_WAIT1 && queued > 0),
            )
        },
    )
    .await;
    all_closed(&serving).await;
    eventually(DEADLINE, "the orphan to be gone", || {
        std::future::ready(server_end(addr, client).is_none())
    })
    .await;
}

/// Polls until the socket of `stream` reports a reset.
async fn assert_reset(stream: &TcpStream) {
    eventually(DEADLINE, "the connection reset", || {
        std::future::ready(match stream.take_error() {
            Ok(Some(error)) => {
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
                true
            }
            Ok(None) => false,
            Err(error) => panic!("{error}"),
        })
    })
    .await;
}

/// The status of an HTTP/2 `GET /hello` with `count` headers (the pseudo-headers aside).
async fn h2_status_with_headers(addr: SocketAddr, count: usize) -> StatusCode {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = h2::client::handshake(stream).await.unwrap();
    tokio::spawn(connection);
    let mut request = h2_get(addr, "/hello");
    for i in 0..count {
        let name = http::HeaderName::try_from(format!("x-h{i}")).unwrap();
        request
            .headers_mut()
            .insert(name, http::HeaderValue::from(i));
    }
    let mut sender = sender.ready().await.unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    response.await.unwrap().status()
}

/// `server.max_headers` holds over HTTP/2 too, where hyper counts no headers.
#[tokio::test]
async fn too_many_headers_over_http2_get_431() {
    let service = common::spawn(&[]).await;
    let addr = service.addr();
    assert_eq!(h2_status_with_headers(addr, 100).await, StatusCode::OK);
    assert_eq!(
        h2_status_with_headers(addr, 101).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        h2_status_with_headers(addr, 300).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    still_answers(addr).await;
    service.shutdown().await;
}

/// Reads `stream` until what came ends with `end` (or the server closed it); what came.
async fn read_until(stream: &mut TcpStream, end: &str) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(end.as_bytes()) {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A kept-alive connection to `addr` that has had one request answered.
async fn kept_alive(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(HELLO).await.unwrap();
    let answer = read_until(&mut stream, "hello").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stream
}

const HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n";

/// How many times accepting paused at `server.max_connections`, from the service's
/// metrics.
async fn pauses(client: &common::HttpClient, admin: SocketAddr) -> u64 {
    let request = Request::get(format!("http://{admin}/metrics"))
        .body(http_body_util::Full::default())
        .unwrap();
    let metrics = common::send(client, request).await.unwrap().text();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("chassis_server_connections_limited_total "))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// At `server.max_connections`, idle connections held open make accepting pause: a further
/// connection waits, unserved, until one of them closes, and the pause is counted. (The
/// metrics are read on the admin port, which has slots of its own: without one, probes
/// and metrics share the service port's slots, and wait too.)
#[tokio::test]
async fn at_the_connection_limit_a_further_connection_waits_for_a_slot() {
    const LIMIT: usize = 3;
    let limit = LIMIT.to_string();
    let service = common::spawn(&[
        ("server.max_connections", &limit),
        ("server.admin_port", "0"),
    ])
    .await;
    let addr = service.addr();
    let admin = service.admin_addr().unwrap();
    // One kept-alive connection for every look at the metrics.
    let metrics = common::client();
    let before = pauses(&metrics, admin).await;
    let mut held = Vec::new();
    for _ in 0..LIMIT {
        held.push(kept_alive(addr).await);
    }
    eventually(DEADLINE, "accepting to pause", || async {
        pauses(&metrics, admin).await > before
    })
    .await;
    // The kernel completes the handshake; the server does not take the connection.
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting.write_all(HELLO).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(ms(300), waiting.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the limit: {early:?}");
    drop(held.pop());
    let answer = read_until(&mut waiting, "hello").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    service.shutdown().await;
}
