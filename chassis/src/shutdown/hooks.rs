//! Shutdown hooks: run once, in reverse order, each bounded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

type BoxHook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The registered hooks of one service.
#[derive(Default)]
pub(crate) struct Hooks {
    hooks: Mutex<Vec<(String, BoxHook)>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .hooks
            .lock()
            .map(|hooks| hooks.iter().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default();
        f.debug_struct("Hooks").field("names", &names).finish()
    }
}

/// What happened to the hooks when they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookReport {
    /// Hooks that finished, in the order they ran.
    pub finished: Vec<String>,
    /// Hooks cut at their time bound.
    pub timed_out: Vec<String>,
    /// Hooks that panicked.
    pub panicked: Vec<String>,
    /// Hooks cancelled before they finished: the runtime itself was shutting down.
    pub cancelled: Vec<String>,
}

impl Hooks {
    pub(crate) fn push<F, Fut>(&self, name: String, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let boxed: BoxHook = Box::new(move || Box::pin(hook()));
        if let Ok(mut hooks) = self.hooks.lock() {
            hooks.push((name, boxed));
        }
    }

    /// Runs every hook once, last registered first, each bounded by `bound`.
    pub(crate) async fn run(&self, bound: Duration) -> HookReport {
        let hooks = self
            .hooks
            .lock()
            .map(|mut hooks| std::mem::take(&mut *hooks))
            .unwrap_or_default();
        let mut report = HookReport::default();
        for (name, hook) in hooks.into_iter().rev() {
            let task = tokio::spawn(hook());
            let abort = task.abort_handle();
            match tokio::time::timeout(bound, task).await {
                Ok(Ok(())) => report.finished.push(name),
                Ok(Err(error)) if error.is_panic() => {
                    tracing::error!(hook = %name, "shutdown hook panicked");
                    report.panicked.push(name);
                }
                Ok(Err(_)) => {
                    tracing::warn!(hook = %name, "shutdown hook cancelled: the runtime is shutting down");
                    report.cancelled.push(name);
                }
                Err(_) => {
                    abort.abort();
                    tracing::warn!(hook = %name, bound = ?bound, "shutdown hook cut at its time bound");
                    report.timed_out.push(name);
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_hook_is_reported_as_panicked() {
        let hooks = Hooks::default();
        hooks.push("fine".to_owned(), || async {});
        hooks.push("panics".to_owned(), || async { panic!("on purpose") });
        let report = hooks.run(Duration::from_secs(5)).await;
        assert_eq!(report.finished, ["fine"]);
        assert_eq!(report.panicked, ["panics"]);
        assert!(report.cancelled.is_empty());
    }
}
