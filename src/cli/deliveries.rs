//! `spar deliveries list | show ID | retry ID`: the outbox (docs/API.md §2.10).

use std::process::ExitCode;

use argh::FromArgs;
use serde_json::Value;

use super::remote::{finish, print_json, print_table, text};
use crate::upstream::path_segment;

/// List, inspect and re-queue deliveries (the outbox).
#[derive(FromArgs)]
#[argh(subcommand, name = "deliveries")]
pub struct DeliveriesArgs {
    #[argh(subcommand)]
    command: DeliveriesCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DeliveriesCommand {
    List(ListArgs),
    Show(ShowArgs),
    Retry(RetryArgs),
}

remote_command! {
    /// List deliveries, newest first.
    ListArgs "list" {
        /// only this status: pending, delivered or dead
        #[argh(option)]
        status: Option<String>,
        /// only this channel (slack, discord, telegram, whatsapp, linear, pagerduty)
        #[argh(option)]
        channel: Option<String>,
        /// at most this many [default 50]
        #[argh(option, default = "50")]
        limit: u32,
    }
}

remote_command! {
    /// Show one delivery with its attempts.
    ShowArgs "show" {
        /// the delivery's id (dlv-17)
        #[argh(positional)]
        id: String,
    }
}

remote_command! {
    /// Re-queue a dead delivery.
    RetryArgs "retry" {
        /// the delivery's id (dlv-17)
        #[argh(positional)]
        id: String,
    }
}

pub fn run(args: DeliveriesArgs) -> ExitCode {
    match args.command {
        DeliveriesCommand::List(a) => finish("deliveries list", list(&a)),
        DeliveriesCommand::Show(a) => finish("deliveries show", show(&a)),
        DeliveriesCommand::Retry(a) => finish("deliveries retry", retry(&a)),
    }
}

fn list(args: &ListArgs) -> Result<bool, String> {
    let mut query = vec![format!("limit={}", args.limit)];
    if let Some(s) = &args.status {
        query.push(format!("status={}", path_segment(s)));
    }
    if let Some(c) = &args.channel {
        query.push(format!("channel={}", path_segment(c)));
    }
    let answer = args.remote()?.get(&format!("/api/deliveries?{}", query.join("&")))?;
    if args.json {
        print_json(&answer);
        return Ok(true);
    }
    let rows: Vec<Vec<String>> = answer["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            vec![
                text(&d["id"]),
                text(&d["status"]),
                format!("{} {}", text(&d["channel"]), text(&d["channelId"])),
                text(&d["eventType"]),
                text(&d["attempts"]),
                text(&d["createdAt"]),
                text(&d["lastError"]),
            ]
        })
        .collect();
    print_table(&["ID", "STATUS", "TARGET", "EVENT", "ATTEMPTS", "CREATED", "LAST ERROR"], &rows);
    Ok(true)
}

fn show(args: &ShowArgs) -> Result<bool, String> {
    let d = args.remote()?.get(&format!("/api/deliveries/{}", path_segment(&args.id)))?;
    if args.json {
        print_json(&d);
        return Ok(true);
    }
    let facts: Vec<Vec<String>> = [
        ("id", "id"),
        ("status", "status"),
        ("channel", "channel"),
        ("target", "channelId"),
        ("event", "eventId"),
        ("type", "eventType"),
        ("attempts", "attempts"),
        ("last error", "lastError"),
        ("next attempt", "nextAttemptAt"),
        ("created", "createdAt"),
        ("delivered", "deliveredAt"),
    ]
    .iter()
    .map(|(name, key)| vec![(*name).to_owned(), text(&d[*key])])
    .collect();
    print_table(&["", ""], &facts);
    println!();
    let attempts: Vec<Vec<String>> =
        d["attemptLog"].as_array().into_iter().flatten().map(attempt_row).collect();
    print_table(&["STARTED", "TOOK", "OUTCOME", "ERROR", "HTTP"], &attempts);
    Ok(true)
}

fn attempt_row(a: &Value) -> Vec<String> {
    vec![
        text(&a["at"]),
        format!("{} ms", text(&a["durationMs"])),
        text(&a["outcome"]),
        text(&a["error"]),
        text(&a["httpStatus"]),
    ]
}

fn retry(args: &RetryArgs) -> Result<bool, String> {
    let path = format!("/api/deliveries/{}/retry", path_segment(&args.id));
    let d = args.remote()?.post(&path, None)?;
    if args.json {
        print_json(&d);
    } else {
        println!("{} queued again ({})", text(&d["id"]), text(&d["status"]));
    }
    Ok(true)
}
