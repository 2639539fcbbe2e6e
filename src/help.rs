//! `--help` and the shell completions, both rendered from [`cli::COMMANDS`] and
//! [`config::ENV_VARS`], so neither can forget a command, an option or a variable. The
//! help is laid out for help2man (Usage line, then `Commands:`, `Options:`,
//! `Environment:` and `Files:` sections), which makes the man page from it.

use crate::cli::{COMMANDS, CommandSpec, Shell};
use crate::config::ENV_VARS;
use crate::report::PROGRAM;
use std::fmt::Write;

const ABOUT: &str = "A Docker credential helper for Amazon ECR: docker, skopeo, podman and buildah call it \
with a registry host and get a token from the AWS credentials you already have, cached until \
half its life is gone. It also answers as docker-credential-ecr-login.";

const GLOBAL_OPTIONS: [(&str, &str); 3] = [
    (
        "-v, --verbose",
        "log to stderr: -v info, -vv debug, -vvv trace (see AWS_ECR_LOG); a lone -v prints the version",
    ),
    (
        "-h, --help",
        "print this help (COMMAND --help: the command's)",
    ),
    ("--version", "print the version"),
];

const FILES: [(&str, &str); 5] = [
    (
        "~/.docker/config.json",
        "docker's config; `credHelpers` maps a registry host to \"ecr\" ($DOCKER_CONFIG/config.json)",
    ),
    (
        "~/.config/docker-credential-ecr/config.toml",
        "settings: a profile or role per registry, host aliases ($AWS_ECR_CONFIG)",
    ),
    (
        "~/.cache/docker-credential-ecr/",
        "token cache, one 0600 file per registry and identity ($AWS_ECR_CACHE_DIR)",
    ),
    (
        "~/.aws/config, ~/.aws/credentials",
        "AWS profiles ($AWS_CONFIG_FILE, $AWS_SHARED_CREDENTIALS_FILE)",
    ),
    (
        "~/.aws/sso/cache/",
        "SSO sessions from `aws sso login`, read through the AWS SDK",
    ),
];

const WIDTH: usize = 80;

/// The help for the program, or for one command.
pub fn help(command: Option<&str>) -> String {
    let mut out = String::new();
    match command.and_then(|name| COMMANDS.iter().find(|c| c.name == name)) {
        Some(spec) => command_help(&mut out, spec),
        None => program_help(&mut out),
    }
    section(
        &mut out,
        "Environment",
        ENV_VARS.iter().map(|v| (v.name, v.help)),
    );
    section(&mut out, "Files", FILES.iter().copied());
    let _ = writeln!(
        out,
        "\nRun `{PROGRAM} doctor` when a pull or push fails; README.md lists every error message."
    );
    out
}

fn program_help(out: &mut String) {
    let _ = writeln!(out, "Usage: {PROGRAM} [-v...] COMMAND [OPTIONS] [ARGS]\n");
    wrap(out, ABOUT, "");
    let rows: Vec<(String, &str)> = COMMANDS
        .iter()
        .map(|c| {
            (
                format!("{} {}", c.name, c.synopsis).trim_end().to_owned(),
                c.summary,
            )
        })
        .collect();
    section(out, "Commands", rows.iter().map(|(n, h)| (n.as_str(), *h)));
    section(out, "Options", GLOBAL_OPTIONS.iter().copied());
    let _ = writeln!(
        out,
        "\nSetup:\n  {PROGRAM} configure --registry 123456789012.dkr.ecr.us-east-1.amazonaws.com"
    );
}

fn command_help(out: &mut String, spec: &CommandSpec) {
    let _ = writeln!(out, "Usage: {PROGRAM} {} {}\n", spec.name, spec.synopsis);
    wrap(out, spec.summary, "");
    if !spec.details.is_empty() {
        out.push('\n');
        for paragraph in spec.details.lines() {
            wrap(out, paragraph, "");
        }
    }
    let rows: Vec<(String, &str)> = spec
        .options
        .iter()
        .map(|o| {
            let name = match o.value {
                Some(value) => format!("--{} {value}", o.long),
                None => format!("--{}", o.long),
            };
            (name, o.help)
        })
        .chain(std::iter::once((
            "-h, --help".to_owned(),
            "print this help",
        )))
        .collect();
    section(out, "Options", rows.iter().map(|(n, h)| (n.as_str(), *h)));
}

/// A help2man section: a header line, then `  name  help` rows, help wrapped under a
/// common column.
fn section<'a>(out: &mut String, title: &str, rows: impl Iterator<Item = (&'a str, &'a str)>) {
    let rows: Vec<_> = rows.collect();
    let column = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0).min(28) + 4;
    let _ = writeln!(out, "\n{title}:");
    for (name, help) in rows {
        let name = format!("  {name}");
        let indent = " ".repeat(column);
        if name.len() + 2 > column {
            let _ = writeln!(out, "{name}");
            wrap(out, help, &indent);
        } else {
            let mut first = String::new();
            wrap(&mut first, help, &indent);
            let _ = write!(out, "{name}{}", &first[name.len()..]);
        }
    }
}

fn wrap(out: &mut String, text: &str, indent: &str) {
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{line}");
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{line}");
}

/// The values a command's positional argument can take, where there is a fixed set.
fn positional_values(spec: &CommandSpec) -> Vec<&'static str> {
    match spec.name {
        "completions" => vec!["bash", "zsh", "fish"],
        "help" => COMMANDS.iter().map(|c| c.name).collect(),
        _ => Vec::new(),
    }
}

const NAMES: [&str; 2] = [PROGRAM, "docker-credential-ecr-login"];

pub fn completions(shell: Shell) -> String {
    match shell {
        Shell::Bash => bash(),
        Shell::Zsh => zsh(),
        Shell::Fish => fish(),
    }
}

fn words(spec: &CommandSpec) -> String {
    let mut words: Vec<String> = spec
        .options
        .iter()
        .map(|o| format!("--{}", o.long))
        .collect();
    words.push("--help".into());
    words.extend(positional_values(spec).into_iter().map(str::to_owned));
    words.join(" ")
}

fn bash() -> String {
    let commands: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let mut out = format!(
        "# bash completion for {PROGRAM}\n_docker_credential_ecr() {{\n    local cur=\"${{COMP_WORDS[COMP_CWORD]}}\" command=\"\" i\n    \
         for ((i = 1; i < COMP_CWORD; i++)); do\n        case \"${{COMP_WORDS[i]}}\" in\n            -*) ;;\n            *) command=\"${{COMP_WORDS[i]}}\"; break ;;\n        esac\n    done\n    \
         local words\n    case \"$command\" in\n        \"\") words=\"{} --verbose --help --version\" ;;\n",
        commands.join(" ")
    );
    for spec in COMMANDS {
        let _ = writeln!(out, "        {}) words=\"{}\" ;;", spec.name, words(spec));
    }
    let _ = write!(
        out,
        "    esac\n    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}}\ncomplete -F _docker_credential_ecr {}\n",
        NAMES.join(" ")
    );
    out
}

fn zsh_quote(text: &str) -> String {
    text.replace('\'', "'\\''")
        .replace('[', "(")
        .replace(']', ")")
        .replace(':', "\\:")
}

fn zsh() -> String {
    let mut out = format!(
        "#compdef {}\n\n_docker-credential-ecr() {{\n    local -a commands\n    commands=(\n",
        NAMES.join(" ")
    );
    for spec in COMMANDS {
        let _ = writeln!(out, "        '{}:{}'", spec.name, zsh_quote(spec.summary));
    }
    out.push_str(
        "    )\n    if (( CURRENT == 2 )); then\n        _describe -t commands 'command' commands\n        return\n    fi\n    case $words[2] in\n",
    );
    for spec in COMMANDS {
        let mut specs: Vec<String> = spec
            .options
            .iter()
            .map(|o| match o.value {
                Some(value) => format!(
                    "'*--{}=[{}]:{}:'",
                    o.long,
                    zsh_quote(o.help),
                    value.to_lowercase()
                ),
                None => format!("'--{}[{}]'", o.long, zsh_quote(o.help)),
            })
            .collect();
        specs.push("'--help[print help]'".into());
        let values = positional_values(spec);
        if !values.is_empty() {
            specs.push(format!("'1:value:({})'", values.join(" ")));
        }
        let _ = writeln!(
            out,
            "        {}) _arguments {} ;;",
            spec.name,
            specs.join(" ")
        );
    }
    out.push_str("    esac\n}\n\n_docker-credential-ecr \"$@\"\n");
    out
}

fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn fish() -> String {
    let mut out = String::new();
    for name in NAMES {
        let _ = writeln!(out, "complete -c {name} -f");
        let _ = writeln!(
            out,
            "complete -c {name} -n __fish_use_subcommand -s v -l verbose -d {}",
            fish_quote("log more to stderr")
        );
        for spec in COMMANDS {
            let _ = writeln!(
                out,
                "complete -c {name} -n __fish_use_subcommand -a {} -d {}",
                spec.name,
                fish_quote(spec.summary)
            );
            let when = fish_quote(&format!("__fish_seen_subcommand_from {}", spec.name));
            for option in spec.options {
                let _ = writeln!(
                    out,
                    "complete -c {name} -n {when} -l {}{} -d {}",
                    option.long,
                    if option.value.is_some() { " -r" } else { "" },
                    fish_quote(option.help)
                );
            }
            let values = positional_values(spec);
            if !values.is_empty() {
                let _ = writeln!(
                    out,
                    "complete -c {name} -n {when} -a {}",
                    fish_quote(&values.join(" "))
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_every_command_option_variable_and_file() {
        let text = help(None);
        for spec in COMMANDS {
            assert!(
                text.contains(&format!("\n  {}", spec.name)),
                "{}",
                spec.name
            );
            let own = help(Some(spec.name));
            assert!(own.starts_with(&format!("Usage: {PROGRAM} {}", spec.name)));
            for option in spec.options {
                assert!(
                    own.contains(&format!("--{}", option.long)),
                    "{}",
                    option.long
                );
            }
        }
        for var in &ENV_VARS {
            assert!(text.contains(&format!("\n  {}", var.name)), "{}", var.name);
        }
        for (file, _) in FILES {
            assert!(text.contains(file), "{file}");
        }
        for header in [
            "\nCommands:\n",
            "\nOptions:\n",
            "\nEnvironment:\n",
            "\nFiles:\n",
        ] {
            assert!(text.contains(header), "{header}");
        }
        assert!(text.lines().all(|l| l.len() <= WIDTH + 30), "{text}");
    }

    #[test]
    fn completions_offer_every_command_and_option() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = completions(shell);
            for spec in COMMANDS {
                assert!(script.contains(spec.name), "{shell:?} {}", spec.name);
                for option in spec.options {
                    assert!(script.contains(option.long), "{shell:?} {}", option.long);
                }
            }
        }
    }
}
