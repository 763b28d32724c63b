//! Any HTTP API over TLS: a base URL instead of discovery, rustls with a CA the test makes
//! (rcgen), mutual TLS, a discovered service over TLS, and the configuration errors. The
//! server is hyper behind tokio-rustls on 127.0.0.1; it records the first byte of every
//! connection (a TLS ClientHello starts with 0x16, a cleartext request with a letter) and
//! every request it serves.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chassis::client::{ClientBuildError, ClientErrorKind, HttpClient, Reply};
use chassis::config::ConfigLoader;
use chassis::discovery::{Endpoint, Endpoints, Registry};
use chassis::health::HealthRegistry;
use chassis::resilience::config::ClientResilienceConfig;
use chassis::service::{Context, Identity};
use chassis::shutdown::Shutdown;
use http::{Request, Response, StatusCode, header::HOST};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The first byte of a TLS record carrying a handshake message (the ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// A throwaway CA, its files in a temporary folder.
struct Pki {
    dir: tempfile::TempDir,
    ca: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "chassis throwaway test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca,
            issuer: Issuer::new(params, key),
        };
        pki.write("ca.pem", &pki.ca.pem());
        pki
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by the CA, and its key.
    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (Certificate, KeyPair) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "chassis test");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert, key)
    }

    /// A client certificate and key signed by the CA, written as PEM files.
    fn client_files(&self) -> (PathBuf, PathBuf) {
        let (cert, key) = self.leaf(
            &["chassis-test-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        (
            self.write("client.pem", &cert.pem()),
            self.write("client-key.pem", &key.serialize_pem()),
        )
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A server configuration with a certificate for `names`; requiring a client
    /// certificate signed by the CA when `mutual`.
    fn server(&self, names: &[&str], mutual: bool) -> ServerConfig {
        let (cert, key) = self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth);
        let chain = vec![cert.der().clone()];
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let builder = ServerConfig::builder();
        let builder = if mutual {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from(self.ca.der().to_vec()))
                .unwrap();
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        builder.with_single_cert(chain, key).unwrap()
    }
}

/// A request the server served.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    path: String,
    host: String,
    /// Whether the caller presented a certificate.
    client_certificate: bool,
}

/// An HTTP/1.1 server behind TLS on 127.0.0.1.
struct Server {
    addr: SocketAddr,
    /// The first byte of every connection accepted.
    first_bytes: Arc<Mutex<Vec<u8>>>,
    served: Arc<Mutex<Vec<Served>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let first_bytes = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::new(Mutex::new(Vec::new()));
        let (bytes, seen) = (Arc::clone(&first_bytes), Arc::clone(&served));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, bytes, seen) = (acceptor.clone(), bytes.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut first = [0_u8; 1];
                    if stream.peek(&mut first).await.unwrap_or(0) == 1 {
                        bytes.lock().unwrap().push(first[0]);
                    }
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let client_certificate = tls.get_ref().1.peer_certificates().is_some();
                    let service = service_fn(move |request: Request<Incoming>| {
                        let path = request.uri().path_and_query().unwrap().to_string();
                        let host = request.headers()[HOST].to_str().unwrap().to_owned();
                        seen.lock().unwrap().push(Served {
                            path: path.clone(),
                            host,
                            client_certificate,
                        });
                        async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(path)))) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            first_bytes,
            served,
            task,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn first_bytes(&self) -> Vec<u8> {
        self.first_bytes.lock().unwrap().clone()
    }

    fn served(&self) -> Vec<Served> {
        self.served.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A service context loaded from `toml` (as `config/default.toml`).
fn context(toml: &str) -> Context<()> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("default.toml"), toml).unwrap();
    let settings = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .load::<()>()
        .unwrap()
        .settings;
    let registry = Registry::from_config(&settings.discovery).unwrap();
    Context::new(
        Identity::new("shop", "0.1.0"),
        (),
        settings,
        HealthRegistry::new(),
        Shutdown::new(),
        registry,
    )
}

fn quoted(path: &Path) -> String {
    format!("\"{}\"", path.display())
}

/// The error and every error under it, one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause} {cause:?}");
        source = cause.source();
    }
    text
}

/// (a) `url = "https://localhost:{port}/v1"` with the CA: `/items` arrives as `/v1/items`
/// over TLS, and the metric's route is the caller's `/items`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_over_tls_prefixes_the_path_and_keeps_the_route_label() {
    let pki = Pki::new();
    let server = Server::start(pki.server(&["localhost", "127.0.0.1"], false)).await;
    let ctx = context(&format!(
        "[clients.api]\nurl = \"https://localhost:{}/v1\"\n[clients.api.tls]\nca_file = {}\n",
        server.port(),
        quoted(&pki.ca_file()),
    ));
    let api = ctx.client("api").unwrap();
    assert_eq!(api.endpoints(), [format!("localhost:{}", server.port())]);

    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let body = metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            rt.block_on(async {
                api.get("/items")
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            })
        })
    });
    assert_eq!(body, "/v1/items");
    assert_eq!(
        server.served(),
        [Served {
            path: "/v1/items".to_owned(),
            host: format!("localhost:{}", server.port()),
            client_certificate: false,
        }]
    );
    assert_eq!(server.first_bytes(), [TLS_HANDSHAKE]);
    let labels: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "http_client_request_duration_seconds")
        .flat_map(|(key, ..)| {
            key.key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        labels.contains(&"http_route=/items".to_owned()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"http_response_status_code=200".to_owned()),
        "{labels:?}"
    );
}

/// (b) Without the CA (the system's roots), the certificate does not verify: the call fails
/// as `Tls` after one attempt, and the server only ever saw a ClientHello.
#[tokio::test]
async fn an_untrusted_certificate_fails_the_call_as_tls_once_and_never_in_cleartext() {
    let pki = Pki::new();
    let server = Server::start(pki.server(&["localhost", "127.0.0.1"], false)).await;
    let ctx = context(&format!(
        "[clients.api]\nurl = \"https://localhost:{}/v1\"\n",
        server.port()
    ));
    let api = ctx.client("api").unwrap();
    let error = api.get("/items").send().await.map(|_| ()).unwrap_err();
    // One connection, one ClientHello: not retried, and no byte of HTTP in cleartext.
    assert_eq!(server.first_bytes(), [TLS_HANDSHAKE]);
    assert_eq!(server.served(), []);
    assert_eq!(error.kind(), ClientErrorKind::Tls, "{}", chain(&error));
    assert_eq!(error.kind().as_str(), "tls");
    assert!(
        chain(&error).contains("UnknownIssuer"),
        "the system's roots do not know the test CA: {}",
        chain(&error)
    );
    assert!(error.verdict().is_failure(), "charged to the dependency");
    assert!(
        error.to_string().contains(&format!(
            "tls with localhost:{}: invalid peer certificate: UnknownIssuer",
            server.port()
        )),
        "the message names the endpoint and says why: {error}"
    );
}

/// (c) Mutual TLS: a server requiring a client certificate signed by the CA serves a client
/// presenting one, and refuses one that does not.
#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new();
    let server = Server::start(pki.server(&["localhost", "127.0.0.1"], true)).await;
    let (cert, key) = pki.client_files();
    let with = context(&format!(
        "[clients.api]\nurl = \"https://localhost:{}/v1\"\n[clients.api.tls]\n\
         ca_file = {}\nclient_cert_file = {}\nclient_key_file = {}\n",
        server.port(),
        quoted(&pki.ca_file()),
        quoted(&cert),
        quoted(&key),
    ));
    let reply = with
        .client("api")
        .unwrap()
        .get("/items")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.text().await.unwrap(), "/v1/items");
    assert!(server.served()[0].client_certificate);

    let without = context(&format!(
        "[clients.api]\nurl = \"https://localhost:{}/v1\"\n[clients.api.tls]\nca_file = {}\n",
        server.port(),
        quoted(&pki.ca_file()),
    ));
    let error = without
        .client("api")
        .unwrap()
        .get("/items")
        .send()
        .await
        .map(Reply::into_response)
        .unwrap_err();
    assert_eq!(error.kind(), ClientErrorKind::Tls, "{}", chain(&error));
    assert_eq!(
        server.served().len(),
        1,
        "the call without a certificate was not served"
    );
}

/// (d) A discovered service over TLS: the endpoint is an IP address, the certificate is for
/// `localhost` only, and `tls.server_name` names what to verify.
#[tokio::test]
async fn a_discovered_service_over_tls_verifies_the_server_name() {
    let pki = Pki::new();
    let server = Server::start(pki.server(&["localhost"], false)).await;
    let ctx = context(&format!(
        "[discovery.static]\ncatalog = [\"127.0.0.1:{}\"]\n\
         [clients.catalog.tls]\nenabled = true\nserver_name = \"localhost\"\nca_file = {}\n",
        server.port(),
        quoted(&pki.ca_file()),
    ));
    let catalog = ctx.client("catalog").unwrap();
    let body = catalog
        .get("/items")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "/items", "no base URL, no prefix");
    assert_eq!(
        server.served()[0].host,
        format!("127.0.0.1:{}", server.port())
    );
    assert_eq!(server.first_bytes(), [TLS_HANDSHAKE]);

    // The same through `HttpClient::new` with a fixed endpoint set, without the name: the
    // certificate is not valid for 127.0.0.1.
    let mut config = ClientResilienceConfig::default();
    config.tls.enabled = true;
    config.tls.ca_file = Some(pki.ca_file());
    let fixed = Endpoints::fixed("catalog", [Endpoint::new(server.addr)]);
    let unnamed = HttpClient::new("catalog", &config, fixed).unwrap();
    let error = unnamed.get("/items").send().await.map(|_| ()).unwrap_err();
    assert_eq!(error.kind(), ClientErrorKind::Tls);
    assert!(
        chain(&error).contains("NotValidForName"),
        "{}",
        chain(&error)
    );
}

/// (e) Configuration errors: credentials in the URL (refused, the password never shown), a
/// scheme other than http(s), TLS files missing or not what they should be (named, a key's
/// contents never shown).
#[tokio::test]
async fn bad_urls_and_tls_files_are_refused_without_showing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("default.toml"),
        "[clients.api]\nurl = \"https://user:hunter2@api.example.com/v1\"\n\
         [clients.files]\nurl = \"ftp://files.example.com/pub\"\n",
    )
    .unwrap();
    let error = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .load::<()>()
        .map(|_| ())
        .unwrap_err();
    let report = format!("{error} {error:?}");
    assert!(!report.contains("hunter2"), "{report}");
    let problems: Vec<(&str, &str)> = error
        .problems()
        .iter()
        .map(|p| (p.key.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, "clients.api.url");
    assert!(
        problems[0].1.contains("without a user or password"),
        "{problems:?}"
    );
    assert_eq!(problems[1].0, "clients.files.url");
    assert!(
        problems[1].1.contains("scheme http or https"),
        "{problems:?}"
    );

    // The same refused by `HttpClient::new`, without the loader's own redaction.
    let with_password = ClientResilienceConfig {
        url: Some("https://user:hunter2@api.example.com/v1".to_owned()),
        ..ClientResilienceConfig::default()
    };
    let fixed = Endpoints::fixed(
        "api",
        [Endpoint::new(SocketAddr::from(([127, 0, 0, 1], 9)))],
    );
    let error = HttpClient::new("api", &with_password, fixed).unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(matches!(error, ClientBuildError::Config(_)), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("https://***@api.example.com/v1"), "{shown}");

    let pki = Pki::new();
    let mut config = ClientResilienceConfig {
        url: Some("https://api.example.com/v1".to_owned()),
        ..ClientResilienceConfig::default()
    };
    let missing = pki.dir.path().join("no-such-ca.pem");
    config.tls.ca_file = Some(missing.clone());
    let endpoints = || {
        Endpoints::fixed(
            "api",
            [Endpoint::new(SocketAddr::from(([127, 0, 0, 1], 9)))],
        )
    };
    let error = HttpClient::new("api", &config, endpoints()).unwrap_err();
    assert!(matches!(error, ClientBuildError::Tls(_)), "{error:?}");
    let shown = error.to_string();
    assert!(shown.contains("tls.ca_file"), "{shown}");
    assert!(shown.contains(&missing.display().to_string()), "{shown}");

    // A key that is not the certificate's: both files named, the key's PEM never shown.
    let (cert, _) = pki.client_files();
    let other = KeyPair::generate().unwrap().serialize_pem();
    let wrong_key = pki.write("wrong-key.pem", &other);
    config.tls.ca_file = Some(pki.ca_file());
    config.tls.client_cert_file = Some(cert);
    config.tls.client_key_file = Some(wrong_key.clone());
    let error = HttpClient::new("api", &config, endpoints()).unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&wrong_key.display().to_string()), "{shown}");
    let key_body: Vec<&str> = other.lines().filter(|l| !l.starts_with("-----")).collect();
    for line in key_body {
        assert!(!shown.contains(line), "the key's contents show: {shown}");
    }
}
