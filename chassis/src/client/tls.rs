//! The client's TLS: `clients.<name>.tls` made into a rustls `ClientConfig`, once per client.
//!
//! The roots trusted are the CA certificates of `tls.ca_file` when it is set (and only they:
//! a private CA is not mixed with the public ones), else the system's store, read through
//! `rustls-native-certs` (on Debian `/etc/ssl/certs`, kept by `ca-certificates`; also
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`), so the roots an operator installs are the ones
//! trusted. A client certificate (`tls.client_cert_file` with `tls.client_key_file`) is
//! presented for mutual TLS. The cryptography is the process's default rustls provider when
//! the application installed one (`CryptoProvider::install_default`, say aws-lc-rs for FIPS
//! or post-quantum key exchange), else rustls' `ring` provider, which builds without cmake or
//! a C toolchain. Files are read when the client is built: a missing or bad one fails the
//! build, naming the file; a private key's contents are never shown.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::resilience::config::TlsConfig;

/// `clients.<name>.tls` cannot be made into a TLS configuration. Files are named; the
/// contents of a private key never are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// TLS is not simulated: a client inside `chassis::testing::Simulation` must be
    /// cleartext.
    #[cfg(feature = "simulation")]
    #[cfg_attr(docsrs, doc(cfg(feature = "simulation")))]
    #[error("TLS is not simulated: a client in a simulation must use http://")]
    Simulated,
    /// A file could not be read.
    #[error("cannot read {key} {}: {source}", path.display())]
    Read {
        /// The setting naming the file, such as `tls.ca_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
    /// A file holds no PEM certificate, or one that does not parse.
    #[error("{key} {} holds no valid PEM certificate{}", path.display(), detail(.reason.as_deref()))]
    Certificate {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it, when something is more than absent.
        reason: Option<String>,
    },
    /// `tls.client_key_file` holds no PEM private key (PKCS#8, RSA or SEC1).
    #[error(
        "tls.client_key_file {} holds no PEM private key (PKCS#8, RSA or SEC1; its contents are not shown)",
        path.display()
    )]
    PrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The client certificate and key are not a pair rustls accepts.
    #[error(
        "tls.client_cert_file {} and tls.client_key_file {} are not a usable pair: {source}",
        cert.display(),
        key.display()
    )]
    ClientCertificate {
        /// The certificate chain's file.
        cert: PathBuf,
        /// The key's file.
        key: PathBuf,
        /// Why rustls refused them.
        source: rustls::Error,
    },
    /// Only one of `tls.client_cert_file` and `tls.client_key_file` is set.
    #[error("mutual TLS needs both tls.client_cert_file and tls.client_key_file")]
    HalfClientCertificate,
    /// The system's store holds no root certificate rustls can use.
    #[error("no trusted root certificates: the system's store has none{}; set tls.ca_file", detail(.errors.as_deref()))]
    NoSystemRoots {
        /// What went wrong reading the store, if anything did.
        errors: Option<String>,
    },
    /// `tls.server_name` is neither a DNS name nor an IP address.
    #[error("tls.server_name {0:?} is not a DNS name or an IP address")]
    ServerName(String),
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// ` (reason)`, or nothing.
fn detail(reason: Option<&str>) -> String {
    reason.map_or_else(String::new, |reason| format!(" ({reason})"))
}

/// The rustls configuration of a client with `tls` (ALPN is left to the connector).
pub(crate) fn client_config(tls: &TlsConfig) -> Result<ClientConfig, TlsConfigError> {
    let provider = CryptoProvider::get_default().map_or_else(|| Arc::new(ring()), Arc::clone);
    let roots = match &tls.ca_file {
        Some(path) => ca_bundle(path)?,
        None => system_roots()?,
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    match (&tls.client_cert_file, &tls.client_key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates("tls.client_cert_file", cert)?;
            builder
                .with_client_auth_cert(chain, private_key(key)?)
                .map_err(|source| TlsConfigError::ClientCertificate {
                    cert: cert.clone(),
                    key: key.clone(),
                    source,
                })
        }
        _ => Err(TlsConfigError::HalfClientCertificate),
    }
}

/// rustls' `ring` provider: the build needs no cmake or C toolchain (aws-lc-rs does).
#[allow(
    deprecated,
    reason = "ring has no post-quantum key exchange; an application wanting it installs a default provider"
)]
fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// `tls.server_name` as rustls takes it (an IPv6 address with or without brackets);
/// `None` when it is neither a DNS name nor an IP address.
pub(crate) fn server_name(text: &str) -> Option<ServerName<'static>> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    ServerName::try_from(bare.to_owned()).ok()
}

/// Every certificate of the CA bundle at `path`, as trust anchors.
fn ca_bundle(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    const KEY: &str = "tls.ca_file";
    let mut roots = RootCertStore::empty();
    for cert in certificates(KEY, path)? {
        roots
            .add(cert)
            .map_err(|error| TlsConfigError::Certificate {
                key: KEY,
                path: path.to_owned(),
                reason: Some(error.to_string()),
            })?;
    }
    Ok(roots)
}

/// The system's trusted roots; an error when there is none to use (every call would fail).
fn system_roots() -> Result<RootCertStore, TlsConfigError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    let errors = (!found.errors.is_empty()).then(|| {
        found
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    });
    if added == 0 {
        return Err(TlsConfigError::NoSystemRoots { errors });
    }
    if ignored > 0 || errors.is_some() {
        tracing::debug!(
            added,
            ignored,
            errors = errors.as_deref().unwrap_or(""),
            "some of the system's root certificates were not usable"
        );
    }
    Ok(roots)
}

/// Every PEM certificate in the file at `path`, at least one.
fn certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let pem = read(key, path)?;
    let invalid = |reason: Option<String>| TlsConfigError::Certificate {
        key,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(Some(error.to_string())))?;
    if certs.is_empty() {
        return Err(invalid(None));
    }
    Ok(certs)
}

/// The first PEM private key in the file at `path`. What is wrong with it is not said: a
/// parser's message could quote the file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let pem = read("tls.client_key_file", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsConfigError::PrivateKey {
        path: path.to_owned(),
    })
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        key,
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_dns_names_or_ip_addresses() {
        assert!(server_name("localhost").is_some());
        assert!(server_name("catalog.shop.svc").is_some());
        assert!(server_name("10.0.0.7").is_some());
        assert!(server_name("[::1]").is_some());
        assert!(server_name("").is_none());
        assert!(server_name("not a name").is_none());
    }

    #[test]
    fn a_key_file_that_is_no_key_is_refused_without_its_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        for text in [
            "-----BEGIN PRIVATE KEY-----\nhunter2-is-no-base64!\n-----END PRIVATE KEY-----\n",
            "hunter2, no PEM at all",
        ] {
            std::fs::write(&path, text).expect("write");
            let error = private_key(&path).map(|_| ()).expect_err("not a key");
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("key.pem"), "{shown}");
        }
        let missing = dir.path().join("absent.pem");
        let error = private_key(&missing).map(|_| ()).expect_err("no file");
        assert!(
            error
                .to_string()
                .starts_with("cannot read tls.client_key_file "),
            "{error}"
        );
        assert!(error.to_string().contains("absent.pem"), "{error}");
    }
}
