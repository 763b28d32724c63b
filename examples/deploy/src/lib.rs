//! Kubernetes manifests of the example services (`catalog`, `orders`, `gateway`), and the test
//! that keeps them honest.
//!
//! This package has no code: the YAML files beside it are what it ships, and
//! `tests/manifests.rs` checks them (`cargo test -p deploy-check`). For each service it loads
//! the configuration the pod will run with (the chassis defaults, the example's
//! `config/default.toml`, the ConfigMap and the Deployment's environment variables, through
//! the chassis' own loader) and checks that ports, probes, the termination grace period,
//! discovery, the security settings, the admin token (from a Secret) and the NetworkPolicies
//! agree with it. `README.md` explains each invariant.
