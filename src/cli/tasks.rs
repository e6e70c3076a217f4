//! `spar tasks list | run | pause | resume NAME`: the scheduler (docs/API.md §2.15).

use std::process::ExitCode;

use argh::FromArgs;

use super::remote::{finish, print_json, print_table, text};
use crate::upstream::path_segment;

/// List the scheduler's tasks, run one now, pause or resume one.
#[derive(FromArgs)]
#[argh(subcommand, name = "tasks")]
pub struct TasksArgs {
    #[argh(subcommand)]
    command: TasksCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum TasksCommand {
    List(ListArgs),
    Run(RunArgs),
    Pause(PauseArgs),
    Resume(ResumeArgs),
}

remote_command! {
    /// List the org's tasks with their next and last runs.
    ListArgs "list" {}
}

remote_command! {
    /// Run a task now (paused or not) and wait for its outcome.
    RunArgs "run" {
        /// the task's name
        #[argh(positional)]
        name: String,
    }
}

remote_command! {
    /// Pause a task: its runs are skipped until it is resumed.
    PauseArgs "pause" {
        /// the task's name
        #[argh(positional)]
        name: String,
    }
}

remote_command! {
    /// Resume a paused task.
    ResumeArgs "resume" {
        /// the task's name
        #[argh(positional)]
        name: String,
    }
}

pub fn run(args: TasksArgs) -> ExitCode {
    match args.command {
        TasksCommand::List(a) => finish("tasks list", list(&a)),
        TasksCommand::Run(a) => finish("tasks run", run_now(&a)),
        TasksCommand::Pause(a) => finish("tasks pause", act(a.remote(), &a.name, "pause", a.json)),
        TasksCommand::Resume(a) => {
            finish("tasks resume", act(a.remote(), &a.name, "resume", a.json))
        }
    }
}

fn list(args: &ListArgs) -> Result<bool, String> {
    let tasks = args.remote()?.get("/api/scheduler")?;
    if args.json {
        print_json(&tasks);
        return Ok(true);
    }
    let rows: Vec<Vec<String>> = tasks
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let schedule = match t["schedule"].as_str() {
                Some(cron) => cron.to_owned(),
                None => format!("every {} s", t["intervalMs"].as_u64().unwrap_or(0) / 1000),
            };
            let state = if t["running"] == true {
                "running"
            } else if t["enabled"] == true {
                "active"
            } else {
                "paused"
            };
            vec![
                text(&t["name"]),
                text(&t["action"]["type"]),
                schedule,
                state.to_owned(),
                text(&t["nextRun"]),
                text(&t["lastRun"]),
                format!("{}/{}", text(&t["runCount"]), text(&t["errors"])),
                text(&t["lastError"]),
            ]
        })
        .collect();
    let headings =
        ["NAME", "DOES", "SCHEDULE", "STATE", "NEXT RUN", "LAST RUN", "RUNS/ERRORS", "LAST ERROR"];
    print_table(&headings, &rows);
    Ok(true)
}

fn run_now(args: &RunArgs) -> Result<bool, String> {
    let path = format!("/api/scheduler/{}/run", path_segment(&args.name));
    let out = args.remote()?.post(&path, None)?;
    let ok = out["success"] == true;
    if args.json {
        print_json(&out);
    } else if ok {
        println!("{} ran", args.name);
    } else {
        println!("{} failed: {}", args.name, text(&out["error"]));
    }
    Ok(ok)
}

fn act(
    remote: Result<super::remote::Remote, String>,
    name: &str,
    verb: &str,
    json: bool,
) -> Result<bool, String> {
    let out = remote?.post(&format!("/api/scheduler/{}/{verb}", path_segment(name)), None)?;
    if json {
        print_json(&out);
    } else {
        println!("{name}: {}", text(&out["message"]));
    }
    Ok(true)
}
