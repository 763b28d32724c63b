//! `docs/grafana-dashboard.json` parses, uses the Prometheus datasource variable, and
//! queries the metric names of the public contract.
#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::Value;

fn dashboard() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/grafana-dashboard.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).expect("the dashboard is valid JSON")
}

#[test]
fn dashboard_queries_the_contract_metrics_through_the_datasource_variable() {
    let dashboard = dashboard();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables
            .iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "prometheus")
    );
    let panels: Vec<&Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .collect();
    let mut exprs = Vec::new();
    for panel in &panels {
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    let uses = |needle: &str| exprs.iter().any(|e| e.contains(needle));
    assert!(uses("rate(http_server_request_duration_seconds_count"));
    assert!(uses("http_response_status_code=~\"5..\""));
    for q in ["0.5", "0.95", "0.99"] {
        assert!(uses(&format!(
            "histogram_quantile({q}, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket"
        )));
    }
    assert!(uses("http_server_active_requests"));
    assert!(uses("chassis_breaker_state{") && uses("state=\"open\""));
    assert!(uses(
        "sum by (client, outcome) (rate(chassis_retry_attempts_total"
    ));
    // Unique panel ids, as Grafana requires.
    let mut ids: Vec<i64> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), dashboard["panels"].as_array().unwrap().len());
}
