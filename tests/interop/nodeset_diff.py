#!/usr/bin/env python3
"""Property test: secsh's host ranges against ClusterShell's `nodeset -e`.

Generates N random expressions (seeded) from the grammar the two share
(docs/CLIENT.md, "Ranges"): names of letters, digits, '-' and '.', with
bracketed ranges (N, N-M, lists of them, zero padding of equal widths),
several brackets per name, comma lists of names. Each must expand to the
same set with `secsh --list-hosts EXPR`. Then expressions ClusterShell
refuses (stray or nested brackets, reversed or empty ranges, padding
mismatches, set operators), which secsh must refuse with exit 2, quoting
the item typed. ClusterShell is installed into a venv under target/.

Usage: tests/interop/nodeset_diff.py [--secsh BIN] [--venv DIR] [--n N] [--seed S]
"""
import argparse, os, random, subprocess, sys, tempfile

CLUSTERSHELL = "ClusterShell==1.10.1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def venv(path):
    exe = os.path.join(path, "bin", "nodeset")
    if not os.path.exists(exe):
        if not os.path.exists(os.path.join(path, "bin", "pip")):
            subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run([os.path.join(path, "bin", "pip"), "install", "-q", CLUSTERSHELL], check=True)
    return exe


def number(rng, width):
    n = rng.randrange(0, 10 ** width if width else 30)
    return f"{n:0{width}d}" if width else str(n)


def bracket(rng):
    parts = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        width = rng.choice([0, 0, 0, 2, 3])
        lo = number(rng, width)
        if rng.random() < 0.3:
            parts.append(lo)
            continue
        hi = int(lo) + rng.randrange(0, 12)
        parts.append(f"{lo}-{hi:0{width}d}" if width and len(f"{hi:0{width}d}") == width else f"{lo}-{hi}")
    return "[" + ",".join(parts) + "]"


def text(rng):
    return "".join(rng.choice("abcxyz019-.") for _ in range(rng.randrange(1, 4))).strip("-.") or "n"


def name(rng):
    out = rng.choice(["n", "web", "rack", "db-", "x"])
    if rng.random() < 0.15:
        # Digits right before one range: part of its numbers.
        out += rng.choice(["0", "1", "9", "12"]) + bracket(rng).split(",")[0].rstrip("]") + "]"
        return out
    for i in range(rng.choice([1, 1, 2])):
        out += bracket(rng)
        # Text after a range neither starts nor ends with a digit:
        # ClusterShell folds such digits into the range (web[0-10]11b is
        # refused there as a padding mismatch); secsh reads them as text.
        if i == 0 or rng.random() < 0.5:
            out += text(rng).strip("0123456789") or "z"
    return out


def expression(rng):
    return ",".join(name(rng) if rng.random() < 0.85 else text(rng) for _ in range(rng.choice([1, 1, 2, 3])))


REFUSED = ["n[1-2]]", "n]", "]n", "a,n]", "n[[1-2]]", "n[1-2", "r[1-2]n[3", "n[", "n[3-1]", "n[]",
           "n[1-]", "n[1--3]", "n[x]", "n[1,,2]", "n[1-010]", "n[001-10]", "n[01-3]", "n[1-2][3-4]",
           "n[1-2]0[3]", "n0[8-10]", "n1[05-7]"]
# ClusterShell's set operators: secsh has none, and refuses them.
OPERATORS = ["n[1-5]!n3", "n[1-5]&n[3-9]", "n[1-3]^n[2-4]", "a!b"]


def top_elements(expr):
    out, depth, cur = [], 0, ""
    for ch in expr:
        depth += (ch == "[") - (ch == "]" and depth > 0)
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secsh", default=os.path.join(ROOT, "target", "debug", "secsh"))
    ap.add_argument("--venv", default=os.path.join(ROOT, "target", "interop-venv"))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261206)
    a = ap.parse_args()
    exe = venv(a.venv)
    rng = random.Random(a.seed)
    bad = []
    with tempfile.TemporaryDirectory(prefix="secsh-nodeset-") as tmp:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
        def secsh(e):
            return subprocess.run([a.secsh, "--list-hosts", e], capture_output=True, text=True, env=env, timeout=30)
        def nodeset(e):
            r = subprocess.run([exe, "-e", e], capture_output=True, text=True, timeout=30)
            return set(r.stdout.split()) if r.returncode == 0 else None
        for i in range(a.n):
            e = expression(rng)
            want, r = nodeset(e), secsh(e)
            got = {l.split()[0] for l in r.stdout.splitlines() if l.strip()} if r.returncode == 0 else None
            if want is None:
                if r.returncode != 2:
                    bad.append(f"{e!r}: ClusterShell refuses, secsh rc={r.returncode}")
            elif got != want:
                bad.append(f"{e!r}: ClusterShell {sorted(want)[:8]}, secsh rc={r.returncode} {sorted(got or [])[:8]} {r.stderr.strip()[:100]}")
        for e in REFUSED + OPERATORS:
            if e in REFUSED and nodeset(e) is not None:
                bad.append(f"{e!r}: ClusterShell accepts it (list error)")
                continue
            r = secsh(e)
            pieces = [p for p in top_elements(e) if any(c in p for c in "[]!&^")]
            if r.returncode != 2 or not any(f'"{p}"' in r.stderr for p in pieces):
                bad.append(f"{e!r}: secsh should refuse it quoting it, rc={r.returncode} {r.stderr.strip()[:120]!r}")
    for b in bad:
        print("FAIL " + b)
    print(f"{len(bad)} differences in {a.n} random expressions and {len(REFUSED + OPERATORS)} refusals (seed {a.seed})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
