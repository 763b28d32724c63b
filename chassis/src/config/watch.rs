//! [`ConfigWatch`]: a service's own settings as they change while it runs.

use std::sync::Arc;

use tokio::sync::watch;

/// The service's own settings, live: the value in force now, and each new one as the
/// configuration changes (a reload that changed one of the service's keys). What to do
/// with a new value is the service's decision: swap a pool size, re-read a feature flag,
/// or ignore it.
///
/// Get it with [`Context::watch_config`](crate::service::Context::watch_config);
/// [`Context::config`](crate::service::Context::config) stays the value at start.
///
/// ```
/// use chassis::config::ConfigWatch;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (watch, tx) = ConfigWatch::channel(String::from("hello"));
/// let mut greeting = watch.clone();
/// tx.send(std::sync::Arc::new(String::from("bonjour"))).unwrap();
/// assert_eq!(*greeting.changed().await.unwrap(), "bonjour");
/// assert_eq!(*watch.current(), "bonjour");
/// # }
/// ```
#[derive(Debug)]
pub struct ConfigWatch<C> {
    receiver: watch::Receiver<Arc<C>>,
}

impl<C> Clone for ConfigWatch<C> {
    fn clone(&self) -> Self {
        Self {
            receiver: self.receiver.clone(),
        }
    }
}

impl<C> ConfigWatch<C> {
    /// A watch of `initial` and the sender that changes it (tests, embedding).
    pub fn channel(initial: C) -> (Self, watch::Sender<Arc<C>>) {
        let (sender, receiver) = watch::channel(Arc::new(initial));
        (Self { receiver }, sender)
    }

    pub(crate) fn new(receiver: watch::Receiver<Arc<C>>) -> Self {
        Self { receiver }
    }

    /// The settings in force now.
    pub fn current(&self) -> Arc<C> {
        Arc::clone(&self.receiver.borrow())
    }

    /// Waits for new settings (newer than this handle last saw) and returns them; `None`
    /// once they can no longer change (the service stopped).
    pub async fn changed(&mut self) -> Option<Arc<C>> {
        self.receiver.changed().await.ok()?;
        Some(Arc::clone(&self.receiver.borrow_and_update()))
    }

    /// The underlying `tokio::sync::watch` receiver.
    pub fn receiver(&self) -> watch::Receiver<Arc<C>> {
        self.receiver.clone()
    }
}
