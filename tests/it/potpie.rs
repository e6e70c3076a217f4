//! The Potpie dialect (docs/API.md §6): save exactly as Potpie documents it, FastAPI's error
//! shapes, the v1 integration routes, masking, and one store with the CodeSpar API (9.3).

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Resp, Server};

fn key(s: &Server, org: &str, name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["api-key", "create", "--org", org, "--name", name, "--data-dir"])
        .arg(s.data_dir())
        .output()
        .expect("spar api-key");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().expect("key").to_owned()
}

fn call(s: &Server, method: &str, path: &str, key: &str, body: Option<&Value>) -> Resp {
    s.call(method, path, &[("x-api-key", key)], body)
}

fn seed_body() -> Value {
    json!({
        "name": "Production Sentry",
        "integration_type": "sentry",
        "status": "active",
        "auth_data": { "access_token": "sentry_access_token_here", "token_type": "Bearer" },
        "scope_data": { "org_slug": "my-company" },
        "metadata": {
            "instance_name": "Production Sentry", "created_via": "manual",
            "description": "Error monitoring for production", "tags": ["production", "monitoring"]
        }
    })
}

#[test]
fn save_answers_exactly_as_the_seed_says() {
    let s = Server::with(&[], &[("ENGINE_API_TOKEN", "codespar-bearer")]);
    let k = key(&s, "default", "user_abc123");
    let r = call(&s, "POST", "/api/v2/integrations/save", &k, Some(&seed_body()));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!((body["success"].clone(), body["error"].clone()), (json!(true), Value::Null));
    let data = &body["data"];
    let keys: Vec<&str> = data.as_object().expect("data").keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "integration_id",
            "name",
            "integration_type",
            "status",
            "active",
            "unique_identifier",
            "created_by",
            "created_at",
            "has_auth_data",
            "has_scope_data",
            "metadata"
        ]
    );
    let id = data["integration_id"].as_str().expect("id");
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a UUIDv4");
    assert_eq!(data["unique_identifier"], format!("sentry-{id}").as_str());
    assert_eq!((data["status"].clone(), data["active"].clone()), (json!("active"), json!(true)));
    assert_eq!(data["created_by"], "user_abc123");
    let created = data["created_at"].as_str().expect("created_at");
    assert_eq!(created.len(), 26, "{created}");
    assert!(!created.ends_with('Z') && created.as_bytes()[19] == b'.', "{created}");
    assert_eq!(
        (data["has_auth_data"].clone(), data["has_scope_data"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        data["metadata"],
        json!({ "instance_name": "Production Sentry", "created_via": "manual", "version": null,
                "description": "Error monitoring for production", "tags": ["production", "monitoring"] })
    );
    assert!(!r.body.windows(8).any(|w| w == b"sentry_a"), "no token in the answer");

    // The minimal body; and the v1 path; the bearer token of the CodeSpar API is not needed.
    let minimal = call(
        &s,
        "POST",
        "/api/v1/integrations/save",
        &k,
        Some(&json!({ "name": "My Integration", "integration_type": "github" })),
    )
    .json();
    let d = &minimal["data"];
    assert_eq!(
        (d["has_auth_data"].clone(), d["has_scope_data"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(d["metadata"]["instance_name"], "My Integration");
    assert_eq!(d["metadata"]["created_via"], "manual");
    let named = call(&s, "POST", "/api/v2/integrations/save", &k, Some(&json!({ "name": "X", "integration_type": "slack", "unique_identifier": "mine", "scope_data": { "workspace_id": "T1" }, "metadata": { "instance_name": "" } }))).json();
    assert_eq!(named["data"]["unique_identifier"], "mine");
    assert_eq!(named["data"]["has_scope_data"], true);
    assert_eq!(
        named["data"]["metadata"]["instance_name"], "X",
        "an empty instance_name becomes the name"
    );
    assert_eq!(named["data"]["metadata"]["created_via"], "oauth_callback");
}

#[test]
fn errors_are_fastapis() {
    let s = Server::start();
    let k = key(&s, "default", "u1");
    let missing = s.call("POST", "/api/v2/integrations/save", &[], Some(&seed_body()));
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json(), json!({ "detail": "API key is required" }));
    assert_eq!(missing.header("www-authenticate"), Some("ApiKey"));
    let wrong = call(&s, "POST", "/api/v2/integrations/save", "spar_nope", Some(&seed_body()));
    assert_eq!((wrong.status, wrong.json()), (401, json!({ "detail": "Invalid API key" })));

    let r = call(
        &s,
        "POST",
        "/api/v2/integrations/save",
        &k,
        Some(&json!({
            "integration_type": "trello", "active": "maybe", "auth_data": "tok",
            "metadata": { "tags": "x" }, "name": ""
        })),
    );
    assert_eq!(r.status, 422);
    let detail = r.json()["detail"].clone();
    let locs: Vec<Value> =
        detail.as_array().expect("list").iter().map(|d| d["loc"].clone()).collect();
    assert_eq!(
        locs,
        [
            json!(["body", "name"]),
            json!(["body", "integration_type"]),
            json!(["body", "active"]),
            json!(["body", "auth_data"]),
            json!(["body", "metadata", "instance_name"]),
            json!(["body", "metadata", "tags"]),
        ]
    );
    assert_eq!(detail[0]["msg"], "ensure this value has at least 1 characters");
    assert_eq!(detail[0]["type"], "value_error.any_str.min_length");
    assert!(
        detail[1]["msg"]
            .as_str()
            .expect("msg")
            .starts_with("value is not a valid enumeration member")
    );
    assert_eq!(detail[1]["type"], "type_error.enum");
    assert_eq!(detail[2]["msg"], "value could not be parsed to a boolean");
    assert_eq!(detail[3]["type"], "type_error.dict");
    assert_eq!(
        detail[4],
        json!({ "loc": ["body", "metadata", "instance_name"], "msg": "field required", "type": "value_error.missing" })
    );
    let r = call(&s, "POST", "/api/v2/integrations/save", &k, Some(&json!({})));
    let detail = r.json()["detail"].clone();
    assert_eq!(
        detail[0],
        json!({ "loc": ["body", "name"], "msg": "field required", "type": "value_error.missing" })
    );
    assert_eq!(detail[1]["loc"], json!(["body", "integration_type"]));
    let long = call(
        &s,
        "POST",
        "/api/v2/integrations/save",
        &k,
        Some(
            &json!({ "name": "x".repeat(256), "integration_type": "jira", "auth_data": { "expires_at": "soon" } }),
        ),
    );
    let detail = long.json()["detail"].clone();
    assert_eq!(detail[0]["type"], "value_error.any_str.max_length");
    assert_eq!(
        detail[1],
        json!({ "loc": ["body", "auth_data", "expires_at"], "msg": "invalid datetime format", "type": "value_error.datetime" })
    );
    assert!(s.audit_entries("potpie.integration.save").is_empty(), "nothing stored");
}

#[test]
fn the_v1_routes_mask_tokens_and_keep_orgs_apart() {
    let s = Server::start();
    let k = key(&s, "default", "user-a");
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Other" })).status, 201);
    let other = key(&s, "org-other", "user-b");
    let saved = call(&s, "POST", "/api/v2/integrations/save", &k, Some(&seed_body())).json();
    let id = saved["data"]["integration_id"].as_str().expect("id").to_owned();
    call(
        &s,
        "POST",
        "/api/v1/integrations/save",
        &k,
        Some(&json!({ "name": "Lin", "integration_type": "linear", "active": false })),
    );

    let one = call(&s, "GET", &format!("/api/v1/integrations/{id}"), &k, None).json();
    assert_eq!(one["status"], "success");
    let i = &one["integration"];
    assert_eq!(i["auth_data"]["access_token"], "••••here");
    assert_eq!(i["auth_data"]["token_type"], "Bearer");
    assert_eq!(i["scope_data"]["org_slug"], "my-company");
    assert_eq!(
        (i["has_auth_data"].clone(), i["created_by"].clone()),
        (json!(true), json!("user-a"))
    );
    let nope = call(&s, "GET", &format!("/api/v1/integrations/{id}"), &other, None);
    assert_eq!(
        (nope.status, nope.json()),
        (404, json!({ "detail": format!("Integration not found: {id}") }))
    );

    let list = call(&s, "GET", "/api/v1/integrations/list", &k, None).json();
    assert_eq!(list["count"], 2);
    assert!(list["integrations"].get(&id).is_some(), "a map keyed by id");
    assert_eq!(
        call(&s, "GET", "/api/v1/integrations/list?integration_type=linear", &k, None).json()["count"],
        1
    );
    assert_eq!(
        call(&s, "GET", "/api/v1/integrations/list?org_slug=my-company", &k, None).json()["count"],
        1
    );
    let connected = call(&s, "GET", "/api/v1/integrations/connected", &k, None).json();
    assert_eq!(connected["count"], 1, "only active ones");
    assert!(connected["connected_integrations"].get(&id).is_some());
    assert_eq!(call(&s, "GET", "/api/v1/integrations/list", &other, None).json()["count"], 0);

    let patched =
        call(&s, "PATCH", &format!("/api/v1/integrations/{id}/status?active=false"), &k, None)
            .json();
    assert_eq!(
        patched["message"],
        format!("Integration status updated: {id} -> active: false").as_str()
    );
    assert_eq!(call(&s, "GET", "/api/v1/integrations/connected", &k, None).json()["count"], 0);
    assert_eq!(
        call(&s, "PATCH", &format!("/api/v1/integrations/{id}/status"), &k, None).status,
        422
    );

    // The schema routes, `list` routed as a list.
    let schema =
        call(&s, "GET", "/api/v1/integrations/schema/list?integration_type=sentry", &k, None)
            .json();
    assert_eq!((schema["success"].clone(), schema["count"].clone()), (json!(true), json!(1)));
    let renamed = call(
        &s,
        "PUT",
        &format!("/api/v1/integrations/schema/{id}"),
        &k,
        Some(&json!({ "name": "Renamed" })),
    )
    .json();
    assert_eq!(
        (renamed["success"].clone(), renamed["data"]["name"].clone()),
        (json!(true), json!("Renamed"))
    );
    assert_eq!(renamed["data"]["auth_data"]["access_token"], "••••here");
    let missing = call(&s, "GET", "/api/v1/integrations/schema/not-a-real-id-123", &k, None);
    assert_eq!(missing.status, 200);
    assert_eq!(
        missing.json(),
        json!({ "success": false, "data": null, "error": "Integration not found: not-a-real-id-123" })
    );
    let created = call(
        &s,
        "POST",
        "/api/v1/integrations/create",
        &k,
        Some(&json!({
        "name": "Docs", "integration_type": "confluence", "auth_data": { "access_token": "conf-token-9999" },
        "scope_data": { "workspace_id": "acme.atlassian.net" }, "metadata": { "instance_name": "Docs" },
        "unique_identifier": "docs-1" })),
    );
    assert_eq!(created.status, 200, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.json()["data"]["auth_data"]["access_token"], "••••9999");
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/v1/integrations/create",
            &k,
            Some(&json!({ "name": "x", "integration_type": "jira" }))
        )
        .status,
        422
    );

    assert_eq!(
        call(&s, "DELETE", "/api/v1/integrations/short", &k, None).json(),
        json!({ "detail": "Invalid integration ID format" })
    );
    let deleted = call(&s, "DELETE", &format!("/api/v1/integrations/{id}"), &k, None).json();
    assert_eq!(
        deleted["deleted_integration"],
        json!({ "integration_id": id, "name": "Renamed", "type": "sentry" })
    );
    assert_eq!(call(&s, "DELETE", &format!("/api/v1/integrations/{id}"), &k, None).status, 404);
    let everything =
        String::from_utf8_lossy(&s.get("/api/audit?limit=100").body).into_owned() + &s.log();
    assert!(
        !everything.contains("sentry_access_token_here") && !everything.contains("conf-token-9999")
    );
}

#[test]
fn a_potpie_sentry_integration_is_the_orgs_sentry_configuration() {
    let s = Server::start();
    let k = key(&s, "default", "u1");
    let status = |s: &Server| -> Value {
        let all =
            s.call("GET", "/api/integrations/status", &[("x-org-id", "default")], None).json();
        all["integrations"]
            .as_array()
            .expect("list")
            .iter()
            .find(|i| i["id"] == "sentry")
            .cloned()
            .expect("sentry")
    };
    assert_eq!(status(&s)["configured"], false);
    call(&s, "POST", "/api/v2/integrations/save", &k, Some(&seed_body()));
    assert_eq!(status(&s)["configured"], true);
    assert_eq!(status(&s)["status"], "active");
    // Deactivated in Potpie, it no longer configures Sentry.
    let id = call(&s, "GET", "/api/v1/integrations/list", &k, None).json()["integrations"]
        .as_object()
        .expect("map")
        .keys()
        .next()
        .cloned()
        .expect("id");
    call(&s, "PATCH", &format!("/api/v1/integrations/{id}/status?active=false"), &k, None);
    assert_eq!(status(&s)["configured"], false);
    // The store never holds a plaintext API key.
    let store = std::fs::read(s.data_dir().join("spar.redb")).expect("store");
    assert!(!store.windows(k.len() - 5).any(|w| w == &k.as_bytes()[5..]));
}
