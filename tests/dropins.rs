//! Configuration drop-ins (`include = ["DIR/*.toml"]`): users and
//! commands from them run, `secshd check` names the file a rule came
//! from, a reload with a broken drop-in keeps the whole old
//! configuration, a name defined twice is refused naming both files, and
//! a drop-in others may write is refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, Env};

fn put(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The test config with `include` in front (a top-level key).
fn config_with_include(env: &Env, dir: &Path) -> PathBuf {
    let path = env.config("");
    let text = std::fs::read_to_string(&path).unwrap();
    common::write_config(
        &path,
        &format!("include = [\"{}/*.toml\"]\n{text}", dir.display()),
    );
    path
}

fn check(config: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(common::SECSHD)
        .args(["check", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn team(env: &Env, extra_command: &str) -> String {
    format!(
        "[users.erin]\nkeys = [\"{}\"]\ncommands = [\"hello\"{}]\n\n[commands.hello]\nargv = [\"/bin/echo\", \"hello-from-dropin\"]\n{}",
        env.public_key(3),
        if extra_command.is_empty() { "" } else { ", \"hello2\"" },
        extra_command
    )
}

#[test]
fn drop_ins_merge_reload_atomically_and_are_checked() {
    let env = Env::new();
    let dir = env.path("secshd.d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let team_file = put(&dir, "10-team.toml", &team(&env, ""), 0o600);
    let config = config_with_include(&env, &dir);
    let d = env.start(&config);
    let erin = |words: &[&str]| {
        let mut cmd = common::secsh_to(
            &env.ca(),
            Some(&env.key_path("mallory")),
            &format!("erin@{}", d.addr),
        );
        let (code, out, _) = run(cmd.arg("--").args(words));
        (code, String::from_utf8_lossy(&out).into_owned())
    };
    assert_eq!(
        erin(&["/bin/echo", "hello-from-dropin"]),
        (Some(0), "hello-from-dropin\n".into())
    );
    // check names the file the rule came from.
    let (code, text) = check(
        &config,
        &["--user", "erin", "--", "/bin/echo", "hello-from-dropin"],
    );
    assert!(code == 0 && text.contains("10-team.toml:"), "{text}");

    // A reload with a broken drop-in keeps the whole old configuration.
    put(
        &dir,
        "10-team.toml",
        &team(
            &env,
            "\n[commands.hello2]\nargv = [\"/bin/echo\", \"hello2\"]\n",
        ),
        0o600,
    );
    let broken = put(&dir, "30-broken.toml", "this is not toml =\n", 0o600);
    let hup = || {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(d.pid() as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap()
    };
    hup();
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || d
            .log()
            .contains("30-broken.toml")),
        "{}",
        d.log()
    );
    assert_eq!(erin(&["/bin/echo", "hello2"]).0, Some(253));
    assert_eq!(erin(&["/bin/echo", "hello-from-dropin"]).0, Some(0));
    std::fs::remove_file(&broken).unwrap();
    hup();
    assert!(common::wait_until(
        std::time::Duration::from_secs(5),
        || erin(&["/bin/echo", "hello2"]).0 == Some(0)
    ));

    // The same user in two files: refused, naming both.
    let dup = put(
        &dir,
        "20-dup.toml",
        &format!(
            "[users.erin]\nkeys = [\"{}\"]\ncommands = []\n",
            env.public_key(3)
        ),
        0o600,
    );
    let (code, text) = check(&config, &[]);
    assert!(
        code != 0 && text.contains("10-team.toml:") && text.contains("20-dup.toml:"),
        "{text}"
    );
    std::fs::remove_file(&dup).unwrap();
    // A drop-in others may write: refused.
    let open = put(
        &dir,
        "20-open.toml",
        "[commands.open]\nargv = [\"/bin/true\"]\n",
        0o666,
    );
    let (code, text) = check(&config, &[]);
    assert!(
        code != 0 && text.contains("20-open.toml") && text.contains("writable"),
        "{text}"
    );
    std::fs::remove_file(&open).unwrap();
    assert_eq!(check(&config, &[]).0, 0);
    let _ = team_file;
}
