//! Shell completions and man pages, generated from the clap definitions
//! (clap_complete, clap_mangen): `secsh completions SHELL`, `secshd
//! completions SHELL`, and `secshd man --dir DIR` writing secsh(1),
//! secshd(8) and secshd.toml(5) (the last from docs/CONFIG.md). The
//! copies under deploy/ are checked against these by the test suite.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

/// `secsh`, with its `put`, `get` and `completions` subcommands.
pub fn secsh_command() -> clap::Command {
    super::secsh::Args::command()
        .subcommand(
            super::files::PutArgs::command()
                .name("put")
                .about("Copy files to a host (see secsh put --help)"),
        )
        .subcommand(
            super::files::GetArgs::command()
                .name("get")
                .about("Copy files from a host (see secsh get --help)"),
        )
        .subcommand(completions_command())
}

/// `secshd` and its subcommands.
pub fn secshd_command() -> clap::Command {
    super::secshd::Args::command()
}

fn completions_command() -> clap::Command {
    clap::Command::new("completions")
        .about("Print a shell completion script (bash, zsh or fish)")
        .arg(
            clap::Arg::new("shell")
                .value_parser(["bash", "zsh", "fish"])
                .required(true),
        )
}

/// The completion script for `shell` of `cmd`, or `None` for a shell not
/// supported.
pub fn completion(mut cmd: clap::Command, shell: &str) -> Option<Vec<u8>> {
    use clap_complete::Shell;
    let shell = match shell {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => return None,
    };
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    Some(out)
}

/// `BIN completions SHELL` on stdout; the exit status.
pub fn print_completion(cmd: clap::Command, shell: &str) -> i32 {
    match completion(cmd, shell) {
        Some(script) => {
            let _ = std::io::stdout().write_all(&script);
            0
        }
        None => {
            eprintln!("unknown shell {shell:?}: bash, zsh or fish");
            2
        }
    }
}

fn man(cmd: clap::Command, section: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .section(section)
        .render(&mut out)?;
    Ok(out)
}

/// Roff-escape one line of text.
fn roff(line: &str) -> String {
    let l = line.replace('\\', "\\e");
    match l.starts_with(['.', '\'']) {
        true => format!("\\&{l}"),
        false => l,
    }
}

/// secshd.toml(5) from the configuration reference (docs/CONFIG.md):
/// headings become sections, code and tables are kept as they are.
pub fn config_man() -> Vec<u8> {
    let src = include_str!("../../docs/CONFIG.md");
    let mut out = String::from(
        ".TH SECSHD.TOML 5 \"\" \"secsh\" \"File Formats\"\n.SH NAME\nsecshd.toml \\- secshd configuration file\n.SH DESCRIPTION\n",
    );
    let mut verbatim = false;
    for line in src.lines().skip_while(|l| l.starts_with("# ")) {
        let table = line.starts_with('|');
        if line.starts_with("```") {
            out.push_str(if verbatim { ".fi\n" } else { ".nf\n" });
            verbatim = !verbatim;
        } else if verbatim {
            out.push_str(&roff(line));
            out.push('\n');
        } else if let Some(h) = line
            .strip_prefix("## ")
            .or_else(|| line.strip_prefix("### "))
        {
            out.push_str(&format!(
                ".SH \"{}\"\n",
                roff(&h.replace('`', "")).to_uppercase()
            ));
        } else if table {
            out.push_str(&format!(".nf\n{}\n.fi\n", roff(line)));
        } else if line.is_empty() {
            out.push_str(".PP\n");
        } else {
            out.push_str(&roff(line));
            out.push('\n');
        }
    }
    out.push_str(".SH SEE ALSO\nsecshd(8), secsh(1)\n");
    out.into_bytes()
}

/// Every generated file: (path under deploy/, contents).
pub fn generated() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![
        ("man/secsh.1".to_string(), man(secsh_command(), "1")?),
        ("man/secshd.8".to_string(), man(secshd_command(), "8")?),
        ("man/secshd.toml.5".to_string(), config_man()),
    ];
    for shell in ["bash", "zsh", "fish"] {
        for (name, cmd) in [("secsh", secsh_command()), ("secshd", secshd_command())] {
            let script = completion(cmd, shell).unwrap_or_default();
            files.push((format!("completions/{name}.{shell}"), script));
        }
    }
    Ok(files)
}

/// `secshd man --dir DIR`: write the man pages and completions there
/// (as under deploy/).
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    for (rel, bytes) in generated()? {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, bytes)?;
    }
    Ok(())
}
