//! The key layout and the JSON value of a registered instance.
//!
//! Key: `{prefix}/{name}/{instance_id}`. Value:
//! `{"address":"10.0.0.7","port":8080,"version":"1.2.0","metadata":{"zone":"eu-1"}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::discovery::{Address, Endpoint, Instance};

/// The JSON value stored under an instance's key.
#[derive(Debug, Serialize, Deserialize)]
struct Value {
    /// The host: an IP (IPv6 without brackets) or a DNS name.
    address: String,
    port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

/// The directory of a service: `{prefix}/{name}/`.
pub(super) fn service_prefix(prefix: &str, service: &str) -> String {
    format!("{}/{service}/", prefix.trim_end_matches('/'))
}

/// The key of an instance: `{prefix}/{name}/{instance_id}`.
pub(super) fn instance_key(prefix: &str, instance: &Instance) -> String {
    format!(
        "{}{}",
        service_prefix(prefix, &instance.name),
        instance.instance_id
    )
}

/// Whether a name can be one path segment of a key.
pub(super) fn is_segment(name: &str) -> bool {
    !name.is_empty() && !name.contains('/')
}

/// The instance's JSON value.
pub(super) fn encode(instance: &Instance) -> String {
    let value = Value {
        address: instance.address.host(),
        port: instance.address.port(),
        version: Some(instance.version.clone()),
        metadata: instance.metadata.clone(),
    };
    // A struct of strings and maps of strings always serializes.
    serde_json::to_string(&value).unwrap_or_default()
}

/// The endpoint of the key `{service_prefix}{instance_id}` holding `value`; `None` for a key
/// deeper than one segment below the service (not an instance).
///
/// # Errors
///
/// When the value is not the JSON of an instance, as text for the log.
pub(super) fn decode(
    service_prefix: &str,
    key: &[u8],
    value: &[u8],
) -> Option<Result<(String, Endpoint), String>> {
    let id = instance_id(service_prefix, key)?;
    let parsed = serde_json::from_slice::<Value>(value)
        .map_err(|e| e.to_string())
        .and_then(|v| {
            let address = Address::from_host_port(&v.address, v.port).map_err(|e| e.to_string())?;
            let mut endpoint = Endpoint::new(address).instance_id(&id);
            endpoint.version = v.version;
            endpoint.metadata = v.metadata;
            Ok(endpoint)
        });
    Some(
        parsed
            .map(|endpoint| (id, endpoint))
            .map_err(|e| format!("bad value at {}: {e}", String::from_utf8_lossy(key))),
    )
}

/// The instance id of a key under `service_prefix`.
pub(super) fn instance_id(service_prefix: &str, key: &[u8]) -> Option<String> {
    let key = std::str::from_utf8(key).ok()?;
    let id = key.strip_prefix(service_prefix)?;
    is_segment(id).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_round_trip_through_key_and_value() {
        let mut metadata = BTreeMap::new();
        metadata.insert("zone".to_owned(), "eu-1".to_owned());
        let instance = Instance::new(
            "orders",
            "orders-7f3a",
            "1.2.0",
            "10.0.0.7:8080".parse::<Address>().unwrap(),
        )
        .with_metadata(metadata);
        let key = instance_key("/services", &instance);
        assert_eq!(key, "/services/orders/orders-7f3a");
        let value = encode(&instance);
        assert_eq!(
            value,
            r#"{"address":"10.0.0.7","port":8080,"version":"1.2.0","metadata":{"zone":"eu-1"}}"#
        );

        let prefix = service_prefix("/services/", "orders");
        let (id, endpoint) = decode(&prefix, key.as_bytes(), value.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(id, "orders-7f3a");
        assert_eq!(endpoint.address.to_string(), "10.0.0.7:8080");
        assert_eq!(endpoint.instance_id.as_deref(), Some("orders-7f3a"));
        assert_eq!(endpoint.version.as_deref(), Some("1.2.0"));
        assert_eq!(endpoint.metadata["zone"], "eu-1");
    }

    #[test]
    fn values_from_other_writers_parse_leniently() {
        let prefix = "/services/orders/";
        let minimal = br#"{"address":"orders-0.orders.shop","port":80,"weight":3}"#;
        let (_, endpoint) = decode(prefix, b"/services/orders/a", minimal)
            .unwrap()
            .unwrap();
        assert_eq!(
            endpoint.address,
            Address::Name("orders-0.orders.shop".to_owned(), 80)
        );
        assert_eq!(endpoint.version, None);
        let v6 = br#"{"address":"fd00::7","port":80}"#;
        let (_, endpoint) = decode(prefix, b"/services/orders/b", v6).unwrap().unwrap();
        assert_eq!(endpoint.address.to_string(), "[fd00::7]:80");
    }

    #[test]
    fn bad_values_and_foreign_keys_are_told_apart() {
        let prefix = "/services/orders/";
        let err = decode(prefix, b"/services/orders/a", b"{\"address\":\"x\"}")
            .unwrap()
            .unwrap_err();
        assert!(
            err.starts_with("bad value at /services/orders/a: missing field `port`"),
            "{err}"
        );
        assert!(
            decode(
                prefix,
                b"/services/orders/a",
                b"{\"address\":\"a b\",\"port\":1}"
            )
            .unwrap()
            .is_err()
        );
        assert!(decode(prefix, b"/services/orders/a/b", b"{}").is_none());
        assert!(decode(prefix, b"/services/orders/", b"{}").is_none());
        assert!(decode(prefix, b"/services/orders-v2/a", b"{}").is_none());
    }
}
