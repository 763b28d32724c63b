//! The HTTP/1 header-read timeout (the slowloris guard) with one tokio timer per connection.
//!
//! hyper arms `server.header_read_timeout` afresh for every request head. With hyper-util's
//! `TokioTimer` that is a tokio `Sleep` boxed, put in the timer wheel, taken out and dropped
//! per request: about 700 instructions. [`HeadTimer`] keeps the connection's one `Sleep` and
//! lends it to each request head instead. A later deadline only moves its expiry (a
//! compare-and-swap in tokio, which moves the wheel entry when the old expiry comes), so a
//! request costs a small box and no wheel work.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

type TokioSleep = Pin<Box<tokio::time::Sleep>>;

/// hyper's timer for one HTTP/1 connection: make a fresh one per connection.
#[derive(Debug, Default)]
pub(super) struct HeadTimer {
    spare: Arc<Spare>,
}

/// The connection's tokio `Sleep` while no request head is being timed.
#[derive(Debug, Default)]
struct Spare(Mutex<Option<TokioSleep>>);

impl Spare {
    fn take(&self) -> Option<TokioSleep> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, sleep: TokioSleep) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(sleep);
    }
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let sleep = match self.spare.take() {
            Some(mut sleep) => {
                sleep.as_mut().reset(deadline);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        Box::pin(HeadTimeout {
            sleep: Some(sleep),
            spare: Arc::clone(&self.spare),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeadTimeout>() {
            Some(mut timeout) => timeout.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// The deadline of one request head: the connection's `Sleep`, handed back when dropped.
struct HeadTimeout {
    /// `Some` until dropped.
    sleep: Option<TokioSleep>,
    spare: Arc<Spare>,
}

impl HeadTimeout {
    fn reset(&mut self, deadline: Instant) {
        if let Some(sleep) = &mut self.sleep {
            sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
        }
    }
}

impl Future for HeadTimeout {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Sleep for HeadTimeout {}

impl Drop for HeadTimeout {
    fn drop(&mut self) {
        if let Some(sleep) = self.sleep.take() {
            self.spare.put(sleep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(sleep: &mut Pin<Box<dyn Sleep>>) -> Poll<()> {
        sleep
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_its_deadline() {
        let timer = HeadTimer::default();
        let mut sleep = timer.sleep(Duration::from_secs(10));
        assert!(poll(&mut sleep).is_pending());
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert!(poll(&mut sleep).is_pending());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(poll(&mut sleep).is_ready());
    }

    /// The second head reuses the first one's `Sleep`: its later deadline holds, not the
    /// earlier one the wheel entry was made for.
    #[tokio::test(start_paused = true)]
    async fn a_reused_timer_keeps_the_later_deadline() {
        let timer = HeadTimer::default();
        let mut first = timer.sleep(Duration::from_secs(10));
        assert!(poll(&mut first).is_pending());
        drop(first);
        let spare = timer
            .spare
            .take()
            .expect("the dropped head hands its timer back");
        timer.spare.put(spare);
        tokio::time::advance(Duration::from_secs(5)).await;
        let mut second = timer.sleep(Duration::from_secs(10));
        assert!(timer.spare.take().is_none(), "the spare is in use");
        assert!(poll(&mut second).is_pending());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(
            poll(&mut second).is_pending(),
            "fired at the first deadline"
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(poll(&mut second).is_ready());
    }

    /// A fired timer is armed again for the next head.
    #[tokio::test(start_paused = true)]
    async fn a_fired_timer_can_be_reused() {
        let timer = HeadTimer::default();
        let mut first = timer.sleep(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(poll(&mut first).is_ready());
        drop(first);
        let mut second = timer.sleep(Duration::from_secs(1));
        assert!(poll(&mut second).is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(poll(&mut second).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn reset_moves_the_deadline_either_way() {
        let timer = HeadTimer::default();
        let mut sleep = timer.sleep(Duration::from_secs(10));
        assert!(poll(&mut sleep).is_pending());
        timer.reset(&mut sleep, timer.now() + Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(poll(&mut sleep).is_ready());
        timer.reset(&mut sleep, timer.now() + Duration::from_secs(20));
        tokio::time::advance(Duration::from_secs(19)).await;
        assert!(poll(&mut sleep).is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(poll(&mut sleep).is_ready());
    }
}
