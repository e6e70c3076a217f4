//! `spar completions bash|zsh|fish`: shell completion scripts for every command, subcommand
//! and flag. The command tree is read from argh's own help output, so the scripts cannot drift
//! from the commands they complete.

use std::process::ExitCode;

use argh::FromArgs;

/// Print a shell completion script (bash, zsh or fish).
#[derive(FromArgs)]
#[argh(subcommand, name = "completions")]
pub struct CompletionsArgs {
    /// the shell: bash, zsh or fish
    #[argh(positional)]
    shell: String,
}

/// One command: its words from `spar` (`["deliveries", "list"]`), its flags, its subcommands.
struct Node {
    path: Vec<String>,
    flags: Vec<String>,
    children: Vec<String>,
}

pub fn run(args: CompletionsArgs) -> ExitCode {
    let tree = tree();
    let script = match args.shell.as_str() {
        "bash" => bash(&tree),
        // zsh runs bash completion functions through bashcompinit.
        "zsh" => format!("autoload -U +X bashcompinit && bashcompinit\n{}", bash(&tree)),
        "fish" => fish(&tree),
        other => {
            eprintln!("spar completions: no completions for {other:?}: use bash, zsh or fish");
            return ExitCode::FAILURE;
        }
    };
    print!("{script}");
    ExitCode::SUCCESS
}

/// Every command reachable from `spar`, depth first.
fn tree() -> Vec<Node> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let help = super::help_text(&path);
        let (flags, children) = parse_help(&help);
        for child in children.iter().rev() {
            let mut next = path.clone();
            next.push(child.clone());
            todo.push(next);
        }
        out.push(Node { path, flags, children });
    }
    out
}

/// The flags (`--status`, `-n`) and subcommands argh's help lists.
fn parse_help(help: &str) -> (Vec<String>, Vec<String>) {
    let (mut flags, mut children) = (Vec::new(), Vec::new());
    let mut section = "";
    for line in help.lines() {
        if !line.starts_with(' ') {
            section = line.trim_end_matches(':');
            continue;
        }
        // An entry starts two spaces in; continuation lines start further.
        let Some(entry) = line.strip_prefix("  ").filter(|e| !e.starts_with(' ')) else {
            continue;
        };
        let mut words = entry.split_whitespace();
        match section {
            // `-n, --limit  how many…`, `--help, help  display…`
            "Options" => flags.extend(
                words
                    .map(|w| w.trim_end_matches(','))
                    .take_while(|w| w.starts_with('-'))
                    .map(str::to_owned),
            ),
            "Commands" => children.extend(words.next().map(str::to_owned)),
            _ => {}
        }
    }
    (flags, children)
}

fn bash(tree: &[Node]) -> String {
    let known: Vec<String> = tree
        .iter()
        .filter(|n| !n.path.is_empty())
        .map(|n| format!("\" {}\"", n.path.join(" ")))
        .collect();
    let mut cases = String::new();
    for node in tree {
        let words: Vec<&str> =
            node.children.iter().chain(&node.flags).map(String::as_str).collect();
        let path =
            if node.path.is_empty() { String::new() } else { format!(" {}", node.path.join(" ")) };
        cases.push_str(&format!("        \"{path}\") words=\"{}\" ;;\n", words.join(" ")));
    }
    format!(
        r#"# bash completion for spar (spar completions bash)
_spar() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$path $word" in
            {}) path="$path $word" ;;
        esac
    done
    case "$path" in
{cases}        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _spar spar
"#,
        known.join("|")
    )
}

fn fish(tree: &[Node]) -> String {
    let mut out =
        String::from("# fish completion for spar (spar completions fish)\ncomplete -c spar -f\n");
    for node in tree {
        // Fish's condition: every word of this node's path has been seen (so `deliveries list`
        // and `tasks list` keep their own flags), or none yet, for the top.
        let condition = if node.path.is_empty() {
            "__fish_use_subcommand".to_owned()
        } else {
            let seen: Vec<String> =
                node.path.iter().map(|w| format!("__fish_seen_subcommand_from {w}")).collect();
            seen.join("; and ")
        };
        for child in &node.children {
            out.push_str(&format!("complete -c spar -n '{condition}' -a {child}\n"));
        }
        for flag in &node.flags {
            match flag.strip_prefix("--") {
                Some(long) => {
                    out.push_str(&format!("complete -c spar -n '{condition}' -l {long}\n"))
                }
                None => {
                    let short = flag.trim_start_matches('-');
                    out.push_str(&format!("complete -c spar -n '{condition}' -s {short}\n"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_has_every_command_and_its_flags() {
        let tree = tree();
        let find =
            |path: &[&str]| tree.iter().find(|n| n.path == path).map(|n| (&n.flags, &n.children));
        let (flags, children) = find(&[]).expect("top");
        assert!(
            children.iter().any(|c| c == "serve") && children.iter().any(|c| c == "deliveries")
        );
        assert!(flags.iter().any(|f| f == "--help"));
        let (flags, _) = find(&["deliveries", "list"]).expect("deliveries list");
        assert!(flags.iter().any(|f| f == "--status") && flags.iter().any(|f| f == "--json"));
        let (flags, _) = find(&["serve"]).expect("serve");
        assert!(flags.iter().any(|f| f == "--rate-limit-webhooks"), "{flags:?}");
        let (flags, _) = find(&["audit", "tail"]).expect("audit tail");
        assert!(flags.iter().any(|f| f == "-n"), "{flags:?}");
    }
}
