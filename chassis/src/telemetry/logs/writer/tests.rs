//! The writer's promises: whole lines in order, flushed when asked and when the last hold
//! goes, and a thread that logs never waits for a slow sink.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

use super::NonBlocking;

/// Long enough never to be reached by a working writer; the tests assert no timing.
const PATIENCE: Duration = Duration::from_secs(20);

/// A sink recording what it is given; while its gate is shut, a write waits (a stalled log
/// collector), and says that it started.
#[derive(Clone)]
struct Sink {
    out: Arc<Mutex<Vec<u8>>>,
    gate: Arc<(Mutex<bool>, Condvar)>,
    entered: mpsc::SyncSender<()>,
}

impl Sink {
    /// An open sink, and a receiver told of every write that starts.
    fn new() -> (Self, mpsc::Receiver<()>) {
        let (entered, started) = mpsc::sync_channel(1024);
        let sink = Self {
            out: Arc::default(),
            gate: Arc::new((Mutex::new(true), Condvar::new())),
            entered,
        };
        (sink, started)
    }

    fn set_open(&self, open: bool) {
        let (lock, condvar) = &*self.gate;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = open;
        condvar.notify_all();
    }

    fn text(&self) -> String {
        let bytes = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8(bytes.clone()).expect("utf-8")
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.entered.try_send(());
        let (lock, condvar) = &*self.gate;
        let open = lock.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            condvar
                .wait_while(open, |open| !*open)
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log(writer: &NonBlocking, line: &str) {
    writer
        .make_writer()
        .write_all(line.as_bytes())
        .expect("never fails");
}

#[test]
fn lines_arrive_whole_and_in_order_when_flushed() {
    let (sink, _started) = Sink::new();
    let writer = NonBlocking::new(sink.clone());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let writer = writer.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    log(&writer, &format!("thread {t} line {i}\n"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("logged");
    }
    writer.flush(PATIENCE).expect("flushed");
    let text = sink.text();
    let mut next = [0; 4];
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let [_, t, _, i] = words[..] else {
            panic!("a torn line: {line:?}");
        };
        let (t, i): (usize, usize) = (t.parse().expect("thread"), i.parse().expect("line"));
        assert_eq!(i, next[t], "thread {t}'s lines in order");
        next[t] += 1;
    }
    assert_eq!(next, [2_000; 4], "every line arrived");
    assert_eq!(writer.dropped_lines(), 0);
}

#[test]
fn a_thread_that_logs_never_waits_for_a_stalled_sink() {
    let (sink, started) = Sink::new();
    sink.set_open(false);
    let writer = NonBlocking::with_capacity(sink.clone(), 4096);
    // Flushing hands `first` to the sink, which stalls in the writer thread.
    let flushing = writer.clone();
    std::thread::spawn(move || {
        log(&flushing, "first\n");
        flushing.flush(PATIENCE)
    });
    started
        .recv_timeout(PATIENCE)
        .expect("the sink took a write");

    let (done, finished) = mpsc::channel();
    let logging = writer.clone();
    std::thread::spawn(move || {
        for i in 0..1_000 {
            log(&logging, &format!("line {i:04}\n"));
        }
        let _ = done.send(());
    });
    finished
        .recv_timeout(PATIENCE)
        .expect("logging finished while the sink was stalled");
    // 4096 bytes of 10-byte lines were queued; the rest were dropped and counted.
    assert_eq!(writer.dropped_lines(), 1_000 - 409);

    sink.set_open(true);
    writer.flush(PATIENCE).expect("flushed once open");
    let text = sink.text();
    let expected: String = std::iter::once("first\n".to_owned())
        .chain((0..409).map(|i| format!("line {i:04}\n")))
        .collect();
    assert_eq!(
        text, expected,
        "whole lines, in order, the dropped ones absent"
    );
}

#[test]
fn the_last_release_writes_the_queue_and_later_lines_go_straight_out() {
    let (sink, _started) = Sink::new();
    let writer = NonBlocking::new(sink.clone());
    let (first, second) = (writer.hold(), writer.hold());
    log(&writer, "one\n");
    first.release(PATIENCE).expect("flushed");
    assert_eq!(sink.text(), "one\n", "a release writes what is queued");

    log(&writer, "two\n");
    second.release(PATIENCE).expect("flushed");
    // No hold left: a line is written before `write` returns, as the process may exit next.
    log(&writer, "three\n");
    assert_eq!(sink.text(), "one\ntwo\nthree\n");

    // A service started later queues again, and is flushed like the first.
    let again = writer.hold();
    log(&writer, "four\n");
    again.release(PATIENCE).expect("flushed");
    assert_eq!(sink.text(), "one\ntwo\nthree\nfour\n");
}

#[test]
fn dropping_the_writer_writes_what_is_left() {
    let (sink, started) = Sink::new();
    let writer = NonBlocking::new(sink.clone());
    log(&writer, "last words\n");
    drop(writer);
    // The writer thread writes the queue before it ends.
    started.recv_timeout(PATIENCE).expect("written");
    while sink.text().is_empty() {
        std::thread::yield_now();
    }
    assert_eq!(sink.text(), "last words\n");
}

/// A service shutting down with its output stalled (stdout to a pipe nobody reads): the
/// last hold's release times out, and neither ending the hold nor the lines logged after
/// it wait for the stuck writer thread; they are written once the output moves again.
#[test]
fn the_last_release_with_a_stalled_output_does_not_wait_for_it() {
    let (sink, started) = Sink::new();
    sink.set_open(false);
    let writer = NonBlocking::new(sink.clone());
    let hold = writer.hold();
    log(&writer, "stuck\n");
    started
        .recv_timeout(PATIENCE)
        .expect("the writer thread took the line, and is stuck writing it");
    let (done, finished) = mpsc::channel();
    let ending = writer.clone();
    std::thread::spawn(move || {
        let flushed = hold.release(Duration::from_millis(1));
        log(&ending, "shutdown complete\n");
        let _ = done.send(flushed);
    });
    let flushed = finished
        .recv_timeout(PATIENCE)
        .expect("the release and the next line did not wait for the stalled output");
    assert!(flushed.is_err(), "the flush timed out");

    sink.set_open(true);
    writer
        .flush(PATIENCE)
        .expect("written once the output moves");
    assert_eq!(sink.text(), "stuck\nshutdown complete\n");
}
