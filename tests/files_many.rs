//! Many files on one connection go several at once: with a per-user
//! budget of two running commands the client retries what the server
//! refuses as busy, so every file arrives intact and the exit status is 0.

mod common;

use common::files::{ok, remote, Roots};
use common::Env;

#[test]
fn many_small_files_in_flight_together_within_a_tight_budget() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, "\n[limits]\nmax_commands_per_user = 2\n"));
    let src = r.local.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut paths = Vec::new();
    for i in 0..120 {
        let p = src.join(format!("f{i:03}"));
        let body: Vec<u8> = (0..3000u32).map(|k| (k * 7 + i * 13) as u8).collect();
        std::fs::write(&p, body).unwrap();
        paths.push(p.display().to_string());
    }
    let dest = r.up.join("many");
    std::fs::create_dir_all(&dest).unwrap();
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let target = remote(&dest) + "/";
    args.push(&target);
    ok(&env, &d, "put", &args);
    for p in &paths {
        let name = std::path::Path::new(p).file_name().unwrap();
        assert_eq!(
            std::fs::read(dest.join(name)).unwrap(),
            std::fs::read(p).unwrap(),
            "{p}"
        );
    }
    let back = r.local.join("back");
    std::fs::create_dir_all(&back).unwrap();
    let remotes: Vec<String> = (0..120)
        .map(|i| remote(&dest.join(format!("f{i:03}"))))
        .collect();
    let mut args: Vec<&str> = remotes.iter().map(String::as_str).collect();
    let local = back.display().to_string();
    args.push(&local);
    ok(&env, &d, "get", &args);
    for i in 0..120 {
        let name = format!("f{i:03}");
        assert_eq!(
            std::fs::read(back.join(&name)).unwrap(),
            std::fs::read(src.join(&name)).unwrap(),
            "{name}"
        );
    }
}
