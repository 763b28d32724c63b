//! Configuration loading: precedence of every source and every kind of error, with the key
//! and the source named. Tests inject files and variables; they never touch the process
//! environment.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use chassis::config::{ConfigError, ConfigLoader, Origin, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Shop {
    greeting: String,
    #[serde(default)]
    max_items: u32,
    #[serde(default)]
    api_token: Option<Secret<String>>,
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const EMBEDDED: &str = "greeting = \"embedded\"\n[server]\nport = 1111\n";

#[test]
fn defaults_apply_when_nothing_is_set() {
    let loaded = ConfigLoader::new("shop").unwrap().load::<()>().unwrap();
    assert_eq!(loaded.settings.server.port, 8080);
    assert_eq!(loaded.settings.shutdown.drain_delay, Duration::from_secs(5));
    assert!(!loaded.settings.faults.is_active());
}

#[test]
fn each_source_overrides_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default.toml",
        "greeting = \"file\"\n[server]\nport = 2222\nhost = \"127.0.0.1\"\n",
    );
    write(
        dir.path(),
        "staging.toml",
        "[server]\nport = 3333\n[shutdown]\ngrace_period = \"7s\"\n",
    );
    let base = || {
        ConfigLoader::new("shop")
            .unwrap()
            .embedded_defaults(EMBEDDED)
            .dir(dir.path())
    };

    let embedded = ConfigLoader::new("shop")
        .unwrap()
        .embedded_defaults(EMBEDDED);
    let loaded = embedded.load::<Shop>().unwrap();
    assert_eq!(
        (loaded.app.greeting.as_str(), loaded.settings.server.port),
        ("embedded", 1111)
    );

    let loaded = base().load::<Shop>().unwrap();
    assert_eq!(
        (loaded.app.greeting.as_str(), loaded.settings.server.port),
        ("file", 2222)
    );

    let loaded = base()
        .profile(Some("staging".into()))
        .load::<Shop>()
        .unwrap();
    assert_eq!(loaded.settings.server.port, 3333);
    assert_eq!(
        loaded.settings.server.host, "127.0.0.1",
        "profile layers on top"
    );
    assert_eq!(
        loaded.settings.shutdown.grace_period,
        Duration::from_secs(7)
    );

    let loaded = base()
        .profile(Some("staging".into()))
        .env(env(&[
            ("SHOP__SERVER__PORT", "4444"),
            ("SHOP__GREETING", "env"),
        ]))
        .load::<Shop>()
        .unwrap();
    assert_eq!(
        (loaded.app.greeting.as_str(), loaded.settings.server.port),
        ("env", 4444)
    );

    let loaded = base()
        .env(env(&[("SHOP__SERVER__PORT", "4444")]))
        .set("server.port", 5555)
        .load::<Shop>()
        .unwrap();
    assert_eq!(loaded.settings.server.port, 5555);
}

#[test]
fn code_defaults_sit_below_files_and_environment() {
    let loaded = ConfigLoader::new("shop")
        .unwrap()
        .set_default("shutdown.drain_delay", "250ms")
        .load::<()>()
        .unwrap();
    assert_eq!(
        loaded.settings.shutdown.drain_delay,
        Duration::from_millis(250)
    );
    let loaded = ConfigLoader::new("shop")
        .unwrap()
        .set_default("shutdown.drain_delay", "250ms")
        .env(env(&[("SHOP__SHUTDOWN__DRAIN_DELAY", "2s")]))
        .load::<()>()
        .unwrap();
    assert_eq!(loaded.settings.shutdown.drain_delay, Duration::from_secs(2));
}

#[test]
fn env_vars_of_other_services_are_ignored_and_dashes_become_underscores() {
    let loaded = ConfigLoader::new("order-history")
        .unwrap()
        .env(env(&[
            ("ORDER_HISTORY__SERVER__PORT", "9000"),
            ("CATALOG__SERVER__PORT", "abc"),
            ("ORDER_HISTORY_SERVER_PORT", "1"),
        ]))
        .load::<()>()
        .unwrap();
    assert_eq!(loaded.settings.server.port, 9000);
}

#[test]
fn lists_durations_and_sizes_read_from_env_strings() {
    let loaded = ConfigLoader::new("shop")
        .unwrap()
        .env(env(&[
            (
                "SHOP__DISCOVERY__STATIC__CATALOG",
                "127.0.0.1:8081, 127.0.0.1:9081",
            ),
            (
                "SHOP__DISCOVERY__ETCD__ENDPOINTS",
                "http://a:2379,http://b:2379",
            ),
            ("SHOP__SHUTDOWN__GRACE_PERIOD", "1m 30s"),
            ("SHOP__SERVER__MAX_BODY_SIZE", "64KiB"),
            ("SHOP__SERVER__ADMIN_PORT", "9090"),
            ("SHOP__FAULTS__ENABLED", "true"),
            ("SHOP__FAULTS__ERROR_RATE", "0.25"),
            ("SHOP__SERVER__HTTP2", "false"),
        ]))
        .load::<()>()
        .unwrap();
    let s = loaded.settings;
    assert_eq!(
        s.discovery.static_endpoints["catalog"].0,
        ["127.0.0.1:8081", "127.0.0.1:9081"]
    );
    assert_eq!(
        s.discovery.etcd.endpoints,
        ["http://a:2379", "http://b:2379"]
    );
    assert_eq!(s.shutdown.grace_period, Duration::from_secs(90));
    assert_eq!(s.server.max_body_size.bytes(), 65_536);
    assert_eq!(s.server.admin_port, Some(9090));
    assert!((s.faults.error_rate - 0.25).abs() < f64::EPSILON);
    assert!(!s.server.http2);
}

#[test]
fn bad_type_in_env_names_the_variable() {
    let err = ConfigLoader::new("catalog")
        .unwrap()
        .env(env(&[("CATALOG__SERVER__PORT", "abc")]))
        .load::<()>()
        .unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "server.port");
    assert_eq!(problem.origin, Origin::Env("CATALOG__SERVER__PORT".into()));
    assert!(problem.message.contains("integer"), "{}", problem.message);
    assert!(err.to_string().contains("CATALOG__SERVER__PORT"));
}

#[test]
fn bad_type_in_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default.toml",
        "[shutdown]\ndrain_delay = \"soon\"\n",
    );
    let err = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .load::<()>()
        .unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "shutdown.drain_delay");
    let Origin::File(path) = &problem.origin else {
        panic!("expected a file origin, got {:?}", problem.origin)
    };
    assert!(path.ends_with("default.toml"));
    assert!(
        problem.message.contains("250ms"),
        "says what is expected: {}",
        problem.message
    );
}

#[test]
fn out_of_range_number_is_reported() {
    let err = ConfigLoader::new("shop")
        .unwrap()
        .set("server.port", 70_000)
        .load::<()>()
        .unwrap_err();
    assert_eq!(err.problems()[0].key, "server.port");
    assert_eq!(
        err.problems()[0].origin,
        Origin::Override("server.port".into())
    );
}

#[test]
fn unknown_profile_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .profile(Some("prod".into()))
        .load::<()>()
        .unwrap_err();
    assert!(matches!(err, ConfigError::UnknownProfile { ref profile, .. } if profile == "prod"));
    assert!(err.to_string().contains("prod.toml"));
}

#[test]
fn unparsable_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "default.toml", "[server\nport = 1\n");
    let err = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .load::<()>()
        .unwrap_err();
    assert!(matches!(err, ConfigError::File { .. }), "{err}");
    assert!(err.to_string().contains("default.toml"));
}

#[test]
fn missing_required_key_is_reported() {
    let err = ConfigLoader::new("shop")
        .unwrap()
        .load::<Shop>()
        .unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "greeting");
    assert_eq!(problem.origin, Origin::Unset);
    assert!(problem.message.contains("missing"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default.toml",
        "greeting = \"hi\"\nmax_items = \"many\"\n[server]\nprot = 80\n",
    );
    let err = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .env(env(&[
            ("SHOP__SERVER__PORT", "abc"),
            ("SHOP__SHUTDOWN__GRACE_PERIOD", "forever"),
            ("SHOP__FAULTS__ENABLED", "true"),
            ("SHOP__FAULTS__ERROR_RATE", "2.5"),
        ]))
        .load::<Shop>()
        .unwrap_err();
    let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "faults.error_rate",
            "max_items",
            "server.port",
            "server.prot",
            "shutdown.grace_period"
        ]
    );
    let rate = &err.problems()[0];
    assert_eq!(rate.origin, Origin::Env("SHOP__FAULTS__ERROR_RATE".into()));
}

#[test]
fn unknown_key_in_a_chassis_section_lists_the_allowed_ones() {
    let err = ConfigLoader::new("shop")
        .unwrap()
        .set("server.prot", 80)
        .load::<()>()
        .unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "server.prot");
    assert!(problem.message.contains("`port`"), "{}", problem.message);
}

#[test]
fn secrets_never_print() {
    let loaded = ConfigLoader::new("shop")
        .unwrap()
        .set("greeting", "hi")
        .set("api_token", "s3cr3t-value")
        .load::<Shop>()
        .unwrap();
    let token = loaded.app.api_token.as_ref().unwrap();
    assert_eq!(token.expose(), "s3cr3t-value");
    let dumped = format!("{:?} {token}", loaded.app);
    assert!(!dumped.contains("s3cr3t"), "{dumped}");
    assert_eq!(serde_json::to_string(token).unwrap(), "\"***\"");
}

#[test]
fn invalid_service_names_are_refused() {
    for name in ["", "Orders", "orders_v2", "-orders", "orders-", "9lives"] {
        assert!(
            matches!(
                ConfigLoader::new(name),
                Err(ConfigError::InvalidServiceName(_))
            ),
            "{name:?} should be refused"
        );
    }
    assert!(ConfigLoader::new("order-history-2").is_ok());
}

#[test]
fn client_sections_are_typed_and_checked() {
    let loaded = ConfigLoader::new("orders")
        .unwrap()
        .env(env(&[
            ("ORDERS__CLIENTS__CATALOG__TIMEOUT", "750ms"),
            ("ORDERS__CLIENTS__CATALOG__RETRY__MAX_ATTEMPTS", "2"),
            ("ORDERS__CLIENTS__CATALOG__BREAKER__WAIT_IN_OPEN", "2s"),
        ]))
        .load::<()>()
        .unwrap();
    let catalog = &loaded.settings.clients["catalog"];
    assert_eq!(catalog.timeout, Some(Duration::from_millis(750)));
    assert_eq!(catalog.retry.max_attempts, 2);
    assert_eq!(catalog.breaker.wait_in_open, Duration::from_secs(2));

    let err = ConfigLoader::new("orders")
        .unwrap()
        .set("clients.catalog.retry.max_atempts", 2)
        .set("clients.catalog.retry.max_attempts", 50)
        .set("clients.catalog.breaker.failure_rate_threshold", 150)
        .load::<()>()
        .unwrap_err();
    let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "clients.catalog.breaker.failure_rate_threshold",
            "clients.catalog.retry.max_atempts",
            "clients.catalog.retry.max_attempts"
        ]
    );
    // A breaker's bad value is named by its own key, so its source is found.
    assert_eq!(
        err.problems()[0].origin,
        Origin::Override("clients.catalog.breaker.failure_rate_threshold".into())
    );
    assert_eq!(
        err.problems()[2].origin,
        Origin::Override("clients.catalog.retry.max_attempts".into())
    );
}

#[test]
fn zero_timeouts_are_refused() {
    let err = ConfigLoader::new("shop")
        .unwrap()
        .set("server.request_timeout", "0s")
        .set("server.header_read_timeout", "0ms")
        .set("server.send_timeout", "0s")
        .set("server.idle_timeout", "0s")
        .load::<()>()
        .unwrap_err();
    let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "server.header_read_timeout",
            "server.idle_timeout",
            "server.request_timeout",
            "server.send_timeout"
        ]
    );
    assert!(err.problems()[0].message.contains("from 1ms"));
}

// ---------------------------------------------------------------------------------------------
// Secrets and credentials never echo in a report.

/// A service with a secret, a setting named like a secret, and a plain one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Locker {
    #[serde(default)]
    pin: Option<Secret<u32>>,
    #[serde(default)]
    password_rounds: Option<u32>,
    #[serde(default)]
    retries: Option<u32>,
}

/// Loads `Locker` and asserts that `hunter2` shows nowhere in the error, in Display or Debug.
fn refused_without_hunter2(loader: &ConfigLoader) -> ConfigError {
    let err = loader.load::<Locker>().unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("hunter2"), "the value leaked: {shown}");
    }
    err
}

#[test]
fn a_bad_secret_names_its_key_and_source_never_its_value() {
    let loaded = ConfigLoader::new("shop")
        .unwrap()
        .env(env(&[
            ("SHOP__PIN", "1234"),
            ("SHOP__PASSWORD_ROUNDS", "3"),
            ("SHOP__RETRIES", "2"),
        ]))
        .load::<Locker>()
        .unwrap();
    let app = loaded.app;
    assert_eq!(app.pin.as_ref().map(Secret::expose), Some(&1234));
    assert_eq!((app.password_rounds, app.retries), (Some(3), Some(2)));

    let from_env = ConfigLoader::new("shop")
        .unwrap()
        .env(env(&[("SHOP__PIN", "hunter2")]));
    let err = refused_without_hunter2(&from_env);
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "pin");
    assert_eq!(problem.origin, Origin::Env("SHOP__PIN".into()));
    assert_eq!(
        problem.message,
        "expected a valid u32; the secret's value is not shown"
    );
    assert!(err.to_string().contains("SHOP__PIN"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "default.toml", "pin = \"hunter2\"\n");
    let from_file = ConfigLoader::new("shop").unwrap().dir(dir.path());
    let err = refused_without_hunter2(&from_file);
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "pin");
    let Origin::File(path) = &problem.origin else {
        panic!("expected a file origin, got {:?}", problem.origin)
    };
    assert!(path.ends_with("default.toml"), "{path}");
    assert!(problem.message.contains("not shown"), "{}", problem.message);
}

#[test]
fn a_rejected_value_of_a_key_named_like_a_secret_is_not_shown() {
    let loader = ConfigLoader::new("shop")
        .unwrap()
        .env(env(&[("SHOP__PASSWORD_ROUNDS", "hunter2")]));
    let err = refused_without_hunter2(&loader);
    let problem = &err.problems()[0];
    assert_eq!(problem.key, "password_rounds");
    assert_eq!(problem.origin, Origin::Env("SHOP__PASSWORD_ROUNDS".into()));
    assert!(
        problem
            .message
            .ends_with("the value is not shown: the key names a secret"),
        "{}",
        problem.message
    );
    assert!(
        problem.message.starts_with("expected "),
        "{}",
        problem.message
    );
}

#[test]
fn a_rejected_value_that_looks_like_a_credential_is_not_shown() {
    let retries = |value: &str| {
        ConfigLoader::new("shop")
            .unwrap()
            .env(env(&[("SHOP__RETRIES", value)]))
    };
    for value in ["Bearer hunter2", "hunter2Xk9Q2mV9pL4rT7wY1bN3"] {
        let err = refused_without_hunter2(&retries(value));
        let problem = &err.problems()[0];
        assert_eq!(problem.key, "retries", "{value}");
        assert_eq!(problem.origin, Origin::Env("SHOP__RETRIES".into()));
        assert!(
            problem
                .message
                .ends_with("the value is not shown: it looks like a credential"),
            "{value}: {}",
            problem.message
        );
    }
    // A URL keeps its scheme, host, port and path: only the userinfo goes.
    let err = refused_without_hunter2(&retries("http://admin:hunter2@db:5432/shop"));
    assert!(
        err.problems()[0]
            .message
            .contains("\"http://***@db:5432/shop\""),
        "{}",
        err.problems()[0].message
    );
    // An ordinary mistake still shows the value: it is what the operator needs to see.
    let err = retries("many").load::<Locker>().unwrap_err();
    assert!(
        err.problems()[0].message.contains("\"many\""),
        "{}",
        err.problems()[0].message
    );
}

#[test]
fn chassis_keys_hide_credentials_in_their_own_messages() {
    let loader = ConfigLoader::new("shop").unwrap().env(env(&[
        ("SHOP__SHUTDOWN__DRAIN_DELAY", "Bearer hunter2"),
        ("SHOP__SERVER__TRUST__PEERS", "10.0.0.0/8, Bearer hunter2"),
    ]));
    let err = refused_without_hunter2(&loader);
    let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["server.trust.peers", "shutdown.drain_delay"]);
    assert!(
        err.problems()[1]
            .message
            .starts_with("expected a duration such as"),
        "{}",
        err.problems()[1].message
    );
    for problem in err.problems() {
        assert!(problem.message.contains("not shown"), "{problem}");
    }
    // Of a list, only the element that looks like a credential is hidden.
    assert!(
        err.problems()[0].message.contains("such as 10.0.0.0/8"),
        "{}",
        err.problems()[0].message
    );
}

#[test]
fn a_file_that_does_not_parse_does_not_quote_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default.toml",
        "[server]\nadmin_token = \"hunter2hunter2hunter2\nport = 1\n",
    );
    let err = ConfigLoader::new("shop")
        .unwrap()
        .dir(dir.path())
        .load::<()>()
        .unwrap_err();
    assert!(matches!(err, ConfigError::File { .. }), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!(err.to_string().contains("admin_token = ***"), "{err}");
}

/// `-` and `_` in a client's name are one: the file's `[clients.order-history]` and the
/// environment's `ORDERS__CLIENTS__ORDER_HISTORY__...` configure the same client, which
/// `ctx.client("order-history")` finds; a section no client claims is reported.
#[tokio::test]
async fn client_names_match_whatever_their_separator() {
    use chassis::discovery::Registry;
    use chassis::health::HealthRegistry;
    use chassis::service::{Context, Identity};
    use chassis::shutdown::Shutdown;

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default.toml",
        "[clients.order-history]\ntimeout = \"1s\"\nattempt_timeout = \"300ms\"\n\
         [clients.catalgo]\ntimeout = \"2s\"\n\
         [discovery.static]\norder-history = [\"127.0.0.1:1\"]\n",
    );
    let loaded = ConfigLoader::new("orders")
        .unwrap()
        .dir(dir.path())
        .env(env(&[
            ("ORDERS__CLIENTS__ORDER_HISTORY__RETRY__MAX_ATTEMPTS", "2"),
            ("ORDERS__CLIENTS__ORDER_HISTORY__TIMEOUT", "4s"),
        ]))
        .load::<()>()
        .unwrap();
    let settings = loaded.settings;
    for spelling in ["order-history", "order_history"] {
        let client = settings.client(spelling).expect("one configuration");
        assert_eq!(
            client.timeout,
            Some(Duration::from_secs(4)),
            "the env var wins"
        );
        assert_eq!(client.attempt_timeout, Some(Duration::from_millis(300)));
        assert_eq!(client.retry.max_attempts, 2);
    }
    let registry = Registry::from_config(&settings.discovery).unwrap();
    let ctx = Context::new(
        Identity::new("orders", "0.1.0"),
        (),
        settings,
        HealthRegistry::new(),
        Shutdown::new(),
        registry,
    );
    ctx.client("order-history").unwrap();
    assert_eq!(ctx.unclaimed_client_sections(), ["catalgo"]);
}

/// Limits that make no sense are refused before binding, together, each with its range.
#[test]
fn server_limits_out_of_range_are_refused_together() {
    let err = ConfigLoader::new("shop")
        .unwrap()
        .set("server.body_read_timeout", "0s")
        .set("server.max_headers", "0")
        .set("server.max_header_size", "64MiB")
        .set("server.max_connections", "0")
        .set("server.max_concurrent_requests", "0")
        .set("server.deadline_floor", "1m")
        .set("server.grpc.health_watch_interval", "0s")
        .load::<()>()
        .unwrap_err();
    let found: Vec<_> = err
        .problems()
        .iter()
        .map(|p| (p.key.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "server.body_read_timeout",
                "expected a duration from 1ms to 24h"
            ),
            (
                "server.deadline_floor",
                "expected a duration below server.request_timeout"
            ),
            (
                "server.grpc.health_watch_interval",
                "expected a duration from 1ms to 24h"
            ),
            ("server.max_concurrent_requests", "expected 1 to 1000000"),
            ("server.max_connections", "expected 1 to 1000000"),
            ("server.max_header_size", "expected 8KiB to 1MiB"),
            ("server.max_headers", "expected 8 to 1000"),
        ]
    );
    let huge = ConfigLoader::new("shop")
        .unwrap()
        .set("server.max_headers", "5000000")
        .load::<()>()
        .unwrap_err();
    assert_eq!(huge.problems()[0].key, "server.max_headers");
}

/// The service's own settings, as the first-day user's `pricing` service had them.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Pricing {
    currency: String,
    max_items: u32,
    discount: u32,
    name: String,
    owner: String,
    enabled: bool,
}

fn pricing_problems(file: &str, vars: &[(&str, &str)]) -> Vec<(String, String, Origin)> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "default.toml", file);
    let err = ConfigLoader::new("pricing")
        .unwrap()
        .dir(dir.path())
        .env(env(vars))
        .load::<Pricing>()
        .unwrap_err();
    err.problems()
        .iter()
        .map(|p| (p.key.clone(), p.message.clone(), p.origin.clone()))
        .collect()
}

#[test]
fn each_problem_of_the_services_settings_is_said_once_and_right() {
    let problems = pricing_problems(
        "currency = \"EUR\"\nmax_items = -5\nenabled = \"maybe\"\n",
        &[("PRICING__DISCOUNT", "lots")],
    );
    let keys: Vec<&str> = problems.iter().map(|(k, ..)| k.as_str()).collect();
    // Every missing key named, each bad value once (not again as "missing").
    assert_eq!(
        keys,
        ["discount", "enabled", "max_items", "name", "owner"],
        "{problems:#?}"
    );
    let message = |key: &str| {
        problems
            .iter()
            .find(|(k, ..)| k == key)
            .map(|(_, m, _)| m.clone())
            .unwrap()
    };
    assert_eq!(
        message("max_items"),
        "expected a whole number of at least 0, found -5"
    );
    assert!(
        message("discount").contains("found string \"lots\""),
        "{}",
        message("discount")
    );
    assert!(
        message("enabled").contains("expected a boolean"),
        "{}",
        message("enabled")
    );
    assert_eq!(message("name"), "missing field `name`");
    assert_eq!(message("owner"), "missing field `owner`");
}

#[test]
fn a_negative_number_for_an_unsigned_key_says_so_from_an_env_var_too() {
    let problems = pricing_problems(
        "currency = \"EUR\"\ndiscount = 1\nname = \"n\"\nowner = \"o\"\nenabled = true\n",
        &[("PRICING__MAX_ITEMS", "-5")],
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let (key, message, origin) = &problems[0];
    assert_eq!(key, "max_items");
    assert_eq!(message, "expected a whole number of at least 0, found -5");
    assert_eq!(*origin, Origin::Env("PRICING__MAX_ITEMS".into()));
}

/// A number where the service's type wants a string is accepted as its text: TOML's `3`
/// and an environment variable's `3` read the same (environment variables have no types).
#[test]
fn a_number_for_a_string_is_accepted_as_its_text() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default.toml",
        "currency = 3\nmax_items = 1\ndiscount = 1\nname = \"n\"\nowner = \"o\"\nenabled = true\n",
    );
    let loaded = ConfigLoader::new("pricing")
        .unwrap()
        .dir(dir.path())
        .load::<Pricing>()
        .unwrap();
    assert_eq!(loaded.app.currency, "3");
}

/// The chassis' own sections get the same treatment: a bad value said once, a negative
/// number for an unsigned key said as such.
#[test]
fn chassis_sections_say_each_problem_once_and_right() {
    let err = ConfigLoader::new("shop")
        .unwrap()
        .env(env(&[
            ("SHOP__SERVER__PORT", "-1"),
            ("SHOP__SERVER__MAX_HEADERS", "many"),
        ]))
        .load::<()>()
        .unwrap_err();
    let found: Vec<(&str, &str)> = err
        .problems()
        .iter()
        .map(|p| (p.key.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "server.max_headers",
                "expected an integer, found string \"many\""
            ),
            (
                "server.port",
                "expected a whole number of at least 0, found -1"
            ),
        ]
    );
}
