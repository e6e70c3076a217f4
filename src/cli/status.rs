//! `spar status` (what the server is doing, at a glance) and `spar health` (a probe: exit 0
//! only when `/health` answers `ok`).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::remote::{finish, print_json, print_table, text};

remote_command! {
    /// Show the server's health, outbox, incidents and next scheduled runs.
    StatusArgs "status" {}
}

remote_command! {
    /// Check the server's health: exit 0 when /health answers ok, 1 otherwise (for probes).
    HealthArgs "health" {}
}

pub fn status(args: StatusArgs) -> ExitCode {
    finish("status", show_status(&args))
}

fn show_status(args: &StatusArgs) -> Result<bool, String> {
    let remote = args.remote()?;
    // A degraded server answers 503 with the same body: shown, not taken for a refusal.
    let (_, health) = remote.call_any("GET", "/health", None)?;
    if health.is_null() {
        return Err("the server's /health answer is not Spar's".into());
    }
    let healthy = health["status"] == "ok";
    let incidents = remote.get("/api/observability/incidents?status=open&limit=1")?;
    let tasks = remote.get("/api/scheduler")?;
    let mut next: Vec<&Value> = tasks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["enabled"] == true && t["nextRun"].is_string())
        .collect();
    next.sort_by_key(|t| t["nextRun"].as_str().unwrap_or_default().to_owned());
    if args.json {
        print_json(
            &json!({ "health": health, "openIncidents": incidents["total"], "tasks": tasks }),
        );
        return Ok(true);
    }
    let size_mb = health["storage"]["sizeBytes"].as_f64().unwrap_or(0.0) / 1_048_576.0;
    let mut rows = vec![
        row("status", text(&health["status"])),
        row("version", text(&health["version"])),
        row("uptime", format!("{} s", text(&health["uptime"]))),
        row("store", format!("{size_mb:.1} MB")),
        row("index lag", format!("{} s", text(&health["index"]["lagSeconds"]))),
        row("agents", text(&health["agents"])),
        row(
            "deliveries",
            format!(
                "{} pending, {} dead",
                text(&health["deliveries"]["pending"]),
                text(&health["deliveries"]["dead"])
            ),
        ),
        row("incidents", format!("{} open", text(&incidents["total"]))),
    ];
    for task in next.iter().take(3) {
        rows.push(row(
            "next run",
            format!("{} at {}", text(&task["name"]), text(&task["nextRun"])),
        ));
    }
    print_table(&["", ""], &rows);
    Ok(healthy)
}

fn row(name: &str, value: String) -> Vec<String> {
    vec![name.to_owned(), value]
}

pub fn health(args: HealthArgs) -> ExitCode {
    let outcome = args.remote().and_then(|remote| remote.call_any("GET", "/health", None));
    match outcome {
        Ok((status, answer)) => {
            let ok = status == 200 && answer["status"] == "ok";
            if args.json {
                print_json(&answer);
            } else {
                println!(
                    "{}",
                    if ok {
                        "ok".to_owned()
                    } else {
                        format!("{} (HTTP {status})", text(&answer["status"]))
                    }
                );
            }
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => finish("health", Err(e)),
    }
}
