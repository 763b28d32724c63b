//! The tower layer.

use tower::Layer;

use super::{Breaker, CircuitBreaker, HttpClassifier};

/// Wraps services in a [`Breaker`] sharing one [`CircuitBreaker`].
#[derive(Debug, Clone)]
pub struct BreakerLayer<C = HttpClassifier> {
    breaker: CircuitBreaker,
    classifier: C,
}

impl BreakerLayer {
    /// A layer with the [`HttpClassifier`] (5xx except 501 and errors are failures).
    pub fn new(breaker: CircuitBreaker) -> Self {
        Self {
            breaker,
            classifier: HttpClassifier,
        }
    }
}

impl<C> BreakerLayer<C> {
    /// Swaps the classifier, e.g. for [`super::ErrorClassifier`] or a closure.
    #[must_use]
    pub fn with_classifier<C2>(self, classifier: C2) -> BreakerLayer<C2> {
        BreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for BreakerLayer<C> {
    type Service = Breaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Breaker::new(inner, self.breaker.clone(), self.classifier.clone())
    }
}
