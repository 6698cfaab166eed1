#!/usr/bin/env python3
"""Differential test: secsh's inventory reader against Ansible itself.

For every file in tests/interop/inventories/, runs `ansible-inventory -i F
--list` (ansible-core, installed into a venv under target/) and
`secsh --inventory F --list-hosts [--json] @GROUP`, and compares:

- every group's hosts (children included), as sets;
- each host's address (ansible_host, else its name), port (secsh_port,
  else 7022), user (secsh_user, else ansible_user, else none) and groups
  (the groups listing it and their ancestors, `all` included);
- files named refuse-LINE-*.ini: Ansible refuses them, and secsh must too,
  exit 2, naming FILE:LINE.

Usage: tests/interop/ansible_diff.py [--secsh BIN] [--venv DIR]
Exits 1 on any difference (one line per file, PASS or FAIL and why).
"""
import argparse, json, os, re, subprocess, sys, tempfile

ANSIBLE_CORE = "ansible-core==2.19.14"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "interop", "inventories")


def venv(path):
    exe = os.path.join(path, "bin", "ansible-inventory")
    if not os.path.exists(exe):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run([os.path.join(path, "bin", "pip"), "install", "-q", ANSIBLE_CORE], check=True)
    return exe


def ansible(exe, path, tmp):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "ANSIBLE_HOME": os.path.join(tmp, "ansible"),
        "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "ansible", "tmp"),
        "ANSIBLE_CONFIG": os.path.join(tmp, "none.cfg"),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        "ANSIBLE_INVENTORY_ENABLED": "yaml,ini",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "PYTHONWARNINGS": "ignore",
    }
    r = subprocess.run([exe, "-i", path, "--list"], capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        return None, r.stderr
    return json.loads(r.stdout), ""


def secsh(binary, args, tmp):
    # No client configuration, no $USER: only the inventory speaks.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=60)


def members(d, g, seen=None):
    seen = set() if seen is None else seen
    if g in seen:
        return set()
    seen.add(g)
    node = d.get(g) or {}
    out = set(node.get("hosts") or [])
    for c in node.get("children") or []:
        out |= members(d, c, seen)
    return out


def groups_of(d, host):
    parents = {}
    for g, node in d.items():
        if g != "_meta":
            for c in node.get("children") or []:
                parents.setdefault(c, set()).add(g)
    todo = [g for g, node in d.items() if g != "_meta" and host in (node.get("hosts") or [])]
    out = {"all"}
    while todo:
        g = todo.pop()
        if g not in out or g == "all":
            out.add(g)
            todo.extend(parents.get(g, ()))
    return out


def names(text):
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def compare(binary, exe, path, tmp):
    base = os.path.basename(path)
    d, err = ansible(exe, path, tmp)
    m = re.match(r"refuse-(\d+)-", base)
    if m:
        if d is not None:
            return ["Ansible accepts this file (corpus error)"]
        r = secsh(binary, ["--inventory", path, "--list-hosts", "@all"], tmp)
        want = f"{base}:{m.group(1)}:"
        if r.returncode != 2 or want not in r.stderr:
            return [f"secsh should refuse naming {want} with exit 2: rc={r.returncode} {r.stderr.strip()[-200:]!r}"]
        return []
    if d is None:
        return ["Ansible refuses it: " + err.strip()[-300:]]
    bad = []
    for g in sorted(k for k in d if k != "_meta"):
        want = members(d, g)
        r = secsh(binary, ["--inventory", path, "--list-hosts", f"@{g}"], tmp)
        got = names(r.stdout) if r.returncode == 0 else set()
        if not want and r.returncode == 2 and "no hosts" in r.stderr:
            continue
        if r.returncode != 0 or got != want:
            bad.append(f"@{g}: secsh rc={r.returncode} extra {sorted(got - want)} missing {sorted(want - got)} "
                       f"{r.stderr.strip()[-120:]}")
    hostvars = d.get("_meta", {}).get("hostvars", {})
    allh = members(d, "all")
    if not allh:
        return bad
    r = secsh(binary, ["--inventory", path, "--list-hosts", "--json", "@all"], tmp)
    if r.returncode != 0:
        return bad + [f"--json: rc={r.returncode} {r.stderr.strip()[-200:]}"]
    got = {o["name"]: o for o in map(json.loads, r.stdout.splitlines())}
    if set(got) != allh:
        bad.append(f"--json @all: extra {sorted(set(got) - allh)} missing {sorted(allh - set(got))}")
    for h in sorted(allh & set(got)):
        v, o = hostvars.get(h, {}), got[h]
        want = {
            "address": str(v.get("ansible_host", v.get("ansible_ssh_host", h))),
            "port": int(v.get("secsh_port", 7022)),
            "user": v.get("secsh_user", v.get("ansible_user", v.get("ansible_ssh_user"))),
            "groups": groups_of(d, h),
        }
        if want["user"] is not None:
            want["user"] = str(want["user"])
        have = {"address": o["address"], "port": o["port"], "user": o["user"], "groups": set(o["groups"])}
        for k in want:
            if want[k] != have[k]:
                bad.append(f"{h}: {k} {have[k]!r}, Ansible gives {want[k]!r}")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secsh", default=os.path.join(ROOT, "target", "debug", "secsh"))
    ap.add_argument("--venv", default=os.path.join(ROOT, "target", "interop-venv"))
    a = ap.parse_args()
    exe = venv(a.venv)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="secsh-interop-") as tmp:
        for f in sorted(os.listdir(CORPUS)):
            bad = compare(a.secsh, exe, os.path.join(CORPUS, f), tmp)
            print(("FAIL " if bad else "PASS ") + f + ("" if not bad else ": " + "; ".join(bad)[:1500]))
            failed += bool(bad)
    print(f"{failed} of {len(os.listdir(CORPUS))} inventories differ from Ansible")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
