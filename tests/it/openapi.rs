//! `GET /openapi.json` (docs/API.md §2.1): a valid OpenAPI 3.1 document naming every endpoint of the
//! router, whose every path the server really serves with exactly the documented methods.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::common::Server;
use spar::api::Endpoint;

fn document(s: &Server) -> (String, Value) {
    let r = s.get("/openapi.json");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or("").starts_with("application/json"));
    let text = String::from_utf8(r.body.clone()).expect("utf-8");
    let value = serde_json::from_str(&text).expect("json");
    (text, value)
}

/// A path template with its parameters filled in.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => format!("sample-{name}"),
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_document_is_openapi_3_1_and_names_every_endpoint() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    let (text, doc) = document(&s);
    let spec = oas3::from_json(&text).expect("parses as an OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));
    assert_eq!(s.get("/v1/openapi.json").body, s.get("/openapi.json").body);

    let documented: BTreeSet<String> =
        spec.operations().filter_map(|(_, _, op)| op.operation_id.clone()).collect();
    // Every route of the router, except the admin listener's (never served publicly).
    let public: BTreeSet<String> = Endpoint::public_names().map(str::to_owned).collect();
    let missing: Vec<_> = public.difference(&documented).collect();
    assert!(missing.is_empty(), "endpoints missing from /openapi.json: {missing:?}");
    let unknown: Vec<_> = documented.difference(&public).collect();
    assert!(unknown.is_empty(), "operations the router does not know: {unknown:?}");
    assert!(doc["paths"].as_object().is_some_and(|p| !p.keys().any(|k| k.starts_with("/admin"))));

    // Every operation: parameters named in its path are declared, responses include an error.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let params = op["parameters"].as_array().expect("parameters");
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(['{', '}']);
                assert!(
                    params.iter().any(|p| p["in"] == "path" && p["name"] == name),
                    "{method} {path}: path parameter {name} not declared"
                );
            }
            assert!(op["responses"]["4XX"].is_object(), "{method} {path}");
        }
    }
}

#[test]
fn every_documented_path_is_served_with_exactly_its_methods() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    let (_, doc) = document(&s);
    let mut methods: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            methods.entry(path.clone()).or_default().insert(method.to_ascii_uppercase());
        }
    }
    assert!(methods.len() > 50, "only {} paths", methods.len());
    for (template, documented) in &methods {
        let path = concrete(template);
        // The router's own answer to "what may I do here": its Allow list.
        let r = s.call("OPTIONS", &path, &[("Origin", "http://x")], None);
        assert_eq!(r.status, 204, "OPTIONS {path}: the router does not know this path");
        let allowed: BTreeSet<String> = r
            .header("allow")
            .unwrap_or("")
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty() && m != "OPTIONS" && m != "HEAD")
            .collect();
        assert_eq!(&allowed, documented, "{path}: served methods differ from the document");
        for method in documented {
            // The event stream never ends; its OPTIONS answer above is its check.
            if template == "/api/events" {
                continue;
            }
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let r = s.call(method, &path, &[], body.as_ref());
            let answer: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            assert!(
                !(r.status == 404 && answer["code"] == "NOT_FOUND"),
                "{method} {path}: the router answered 404"
            );
            assert!(r.status < 500, "{method} {path}: {} {answer}", r.status);
        }
    }
}
