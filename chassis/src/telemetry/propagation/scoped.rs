//! The current [`TraceContext`]: set by reference while a request's future is polled.
//!
//! tokio's `task_local!` moves the value into its slot and back out on every poll (the
//! context is about a hundred bytes) and needs a clone to be set around a synchronous call
//! too. A scoped thread-local (`scoped-tls`) only points at the context where it already
//! lives, in the pinned future or on the stack, for exactly as long as the poll or call runs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::TraceContext;

scoped_tls::scoped_thread_local!(static CURRENT: TraceContext);

/// Runs `f` with `ctx` as the current context.
pub(super) fn enter<R>(ctx: &TraceContext, f: impl FnOnce() -> R) -> R {
    CURRENT.set(ctx, f)
}

/// `f` of the current context, if one is set.
pub(super) fn with_current<R>(f: impl FnOnce(&TraceContext) -> R) -> Option<R> {
    CURRENT.is_set().then(|| CURRENT.with(f))
}

pin_project! {
    /// A future that runs with its [`TraceContext`] as the current one, made by
    /// [`TraceContext::scope`]. Its future is also dropped in the context, so what its drop
    /// logs carries the ids.
    pub struct Scoped<F> {
        ctx: TraceContext,
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.future.is_some() {
                enter(this.ctx, || this.future.set(None));
            }
        }
    }
}

impl<F> Scoped<F> {
    pub(super) fn new(ctx: TraceContext, future: F) -> Self {
        Self {
            ctx,
            future: Some(future),
        }
    }

    /// The context this future runs with.
    pub fn context(&self) -> &TraceContext {
        &self.ctx
    }
}

impl<F> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let ctx: &TraceContext = this.ctx;
        let Some(future) = this.future.as_pin_mut() else {
            // Polled after completion: the inner future is gone.
            return Poll::Pending;
        };
        enter(ctx, || future.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Notes the current trace id when dropped.
    struct NoteOnDrop(Arc<Mutex<Option<String>>>);

    impl Drop for NoteOnDrop {
        fn drop(&mut self) {
            let seen = TraceContext::with_current(|ctx| ctx.trace_id().to_string());
            if let Ok(mut note) = self.0.lock() {
                *note = seen;
            }
        }
    }

    #[tokio::test]
    async fn current_while_polled_nested_restored_and_dropped_inside() {
        let outer = TraceContext::new_root();
        let inner = TraceContext::new_root();
        let (outer_id, inner_id) = (outer.trace_id(), inner.trace_id());
        let seen = outer
            .scope(async move {
                let before = TraceContext::with_current(TraceContext::trace_id);
                let nested = inner
                    .scope(async { TraceContext::with_current(TraceContext::trace_id) })
                    .await;
                let after = TraceContext::with_current(TraceContext::trace_id);
                (before, nested, after)
            })
            .await;
        assert_eq!(seen, (Some(outer_id), Some(inner_id), Some(outer_id)));
        assert!(TraceContext::current().is_none(), "nothing outside a scope");

        let note = Arc::new(Mutex::new(None));
        let guard = NoteOnDrop(Arc::clone(&note));
        let never = TraceContext::new_root().scope(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let mut never = Box::pin(never);
        let id = never.context().trace_id().to_string();
        assert!(futures_util::poll!(never.as_mut()).is_pending());
        drop(never);
        assert_eq!(note.lock().ok().and_then(|n| n.clone()), Some(id));
    }
}
