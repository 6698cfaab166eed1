//! What the build promises about the code itself, checked from its source:
//! the engine modules (`proto`, `session`, `policy`, `gate`) stay free of
//! I/O (no runtime, sockets, files, processes, threads, environment or
//! clock; time only comes in as an argument), and nothing runs between
//! fork and exec that could allocate or take a lock.

use std::path::{Path, PathBuf};

/// The pure modules.
const PURE: [&str; 4] = ["src/proto", "src/session", "src/policy", "src/gate"];

/// What a pure module may not name. Plain address types (`std::net::IpAddr`)
/// are data and stay allowed.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "std::fs",
    "std::process",
    "std::thread",
    "std::env",
    "std::io::stdin",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "ToSocketAddrs",
    "Instant::now",
    "SystemTime::now",
    "nix::",
    "libc::",
    "socket2",
    "rustls",
    "crate::server",
    "crate::client",
    "crate::exec",
    "crate::transfer",
    "crate::auth",
    "crate::audit",
    "crate::config",
    "crate::tls",
    "crate::transport",
    "crate::metrics",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The non-test code of a file: test files are skipped, and a file's
/// `#[cfg(test)]` module (always last here) is cut off.
fn code_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return None;
    }
    let text = std::fs::read_to_string(path).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    // Comments may name anything.
    let lines: Vec<&str> = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    Some(lines.join("\n"))
}

#[test]
fn the_engine_modules_import_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in PURE {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has no sources");
        for f in files {
            let Some(code) = code_of(&f) else { continue };
            for (n, line) in code.lines().enumerate() {
                for bad in FORBIDDEN {
                    if line.contains(bad) {
                        found.push(format!("{}:{}: {bad}: {line}", f.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O in a pure module:\n{}",
        found.join("\n")
    );
}

/// What may not appear in a `pre_exec` closure: anything that allocates,
/// formats, logs or locks.
const NOT_AFTER_FORK: &[&str] = &[
    "format!",
    "to_string",
    "String",
    "Vec",
    "vec!",
    "Box",
    "collect",
    "Error::other",
    "Error::new",
    "tracing::",
    "println",
    "eprintln",
    "lock(",
    "Mutex",
    "clone(",
];

#[test]
fn nothing_between_fork_and_exec_allocates_or_locks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut closures = 0;
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (start, _) in text.match_indices(".pre_exec(") {
            closures += 1;
            // The closure runs to the first `});` after it.
            let body = &text[start..];
            let body = &body[..body.find("});").expect("closure end")];
            for bad in NOT_AFTER_FORK {
                if body.contains(bad) {
                    found.push(format!("{}: {bad}", f.display()));
                }
            }
        }
    }
    assert!(
        closures >= 1,
        "no pre_exec closure found: the check would prove nothing"
    );
    assert!(found.is_empty(), "after fork:\n{}", found.join("\n"));
}
