//! The load generator: a hyper HTTP/1.1 client over keep-alive loopback connections, run on
//! the caller's (current-thread) runtime. Closed loop for throughput; a constant request rate
//! for latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::fixtures;

type Sender = SendRequest<Empty<Bytes>>;

/// What a closed-loop run achieved.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClosedLoop {
    /// Responses received (status 200, body read).
    pub requests: u64,
    /// Failed requests or non-200 answers.
    pub errors: u64,
    /// From the first send to the last response.
    pub elapsed: Duration,
}

/// What a constant-rate run achieved.
#[derive(Debug, Clone, Default)]
pub struct Paced {
    /// Responses received (status 200, body read).
    pub requests: u64,
    /// Failed requests or non-200 answers.
    pub errors: u64,
    /// Sends that started more than 1 ms after their slot (the previous answer was late).
    pub late: u64,
    /// From the first slot to the last response.
    pub elapsed: Duration,
    /// Latency of each request from its send to the end of its body, sorted, in ns.
    pub latencies_ns: Vec<u64>,
}

impl Paced {
    /// The `q` quantile (0.0..=1.0) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies_ns.is_empty() {
            return Duration::ZERO;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((self.latencies_ns.len() - 1) as f64 * q).round() as usize;
        Duration::from_nanos(self.latencies_ns[index])
    }
}

/// Opens `n` keep-alive connections to `addr`.
pub async fn connect(addr: SocketAddr, n: usize) -> std::io::Result<Vec<Sender>> {
    let mut senders = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        senders.push(sender);
    }
    Ok(senders)
}

fn request(addr: SocketAddr) -> Request<Empty<Bytes>> {
    Request::get(fixtures::PATH)
        .header("host", addr.to_string())
        .header("user-agent", "chassis-bench/1.0")
        .header("accept", "*/*")
        .body(Empty::new())
        .unwrap_or_default()
}

/// Sends one request and reads the whole answer; `true` for a 200.
async fn exchange(sender: &mut Sender, addr: SocketAddr) -> bool {
    if sender.ready().await.is_err() {
        return false;
    }
    match sender.send_request(request(addr)).await {
        Ok(response) => {
            let ok = response.status() == http::StatusCode::OK;
            ok && response.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

/// Each connection sends its next request as soon as the previous answer is in, for
/// `duration`.
pub async fn closed_loop(addr: SocketAddr, senders: Vec<Sender>, duration: Duration) -> ClosedLoop {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|mut sender| {
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < deadline {
                    if exchange(&mut sender, addr).await {
                        ok += 1;
                    } else {
                        failed += 1;
                        if sender.is_closed() {
                            break;
                        }
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    gather(tasks, start).await
}

/// The totals of closed-loop tasks that each return (successes, failures), timed from
/// `start`; a task that panicked counts as one failure.
pub(crate) async fn gather(
    tasks: Vec<tokio::task::JoinHandle<(u64, u64)>>,
    start: Instant,
) -> ClosedLoop {
    let mut result = ClosedLoop::default();
    for task in tasks {
        let (ok, failed) = task.await.unwrap_or((0, 1));
        result.requests += ok;
        result.errors += failed;
    }
    result.elapsed = start.elapsed();
    result
}

/// `rate` requests per second in total, spread evenly over the connections, for `duration`.
///
/// Slots are kept with tokio timers (1 ms resolution), so arrivals come in small per-ms
/// batches; latency runs from the actual send to the end of the body.
pub async fn constant_rate(
    addr: SocketAddr,
    senders: Vec<Sender>,
    rate: f64,
    duration: Duration,
) -> Paced {
    #[allow(clippy::cast_precision_loss)]
    let connections = senders.len().max(1) as f64;
    let interval = Duration::from_secs_f64(connections / rate.max(1.0));
    let start = tokio::time::Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut sender)| {
            #[allow(clippy::cast_precision_loss)]
            let offset = interval.mul_f64(i as f64 / connections);
            tokio::spawn(async move {
                let mut out = Paced::default();
                let mut slot = start + offset;
                while slot < end {
                    let now = tokio::time::Instant::now();
                    if now < slot {
                        tokio::time::sleep_until(slot).await;
                    } else if now - slot > Duration::from_millis(1) {
                        out.late += 1;
                    }
                    let sent = Instant::now();
                    if exchange(&mut sender, addr).await {
                        out.requests += 1;
                        let nanos = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        out.latencies_ns.push(nanos);
                    } else {
                        out.errors += 1;
                        if sender.is_closed() {
                            break;
                        }
                    }
                    slot += interval;
                }
                out
            })
        })
        .collect();
    let mut result = Paced::default();
    for task in tasks {
        let part = task.await.unwrap_or_default();
        result.requests += part.requests;
        result.errors += part.errors;
        result.late += part.late;
        result.latencies_ns.extend(part.latencies_ns);
    }
    result.elapsed = start.elapsed();
    result.latencies_ns.sort_unstable();
    result
}
