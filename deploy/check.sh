#!/usr/bin/env bash
# Deployment checks (run by .ci/run after the tests):
#  1. systemd-analyze verify on both units says nothing (it exits 0 even on
#     unknown keys), apart from the binary not being installed here;
#  2. systemd-analyze security --offline exposure at or below
#     deploy/thresholds for each unit;
#  3. install.sh --dry-run into a temp prefix lists every file, writes none;
#  4. cargo deb builds the package and dpkg-deb --contents lists every
#     expected file, with the example configuration 0600.
# Installs systemd (for systemd-analyze) and cargo-deb when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd
fi
fail=0
bad() { echo "FAIL: $*"; fail=1; }

echo "== systemd units"
while read -r unit limit; do
  case "$unit" in ''|'#'*) continue ;; esac
  out="$(SYSTEMD_COLORS=0 systemd-analyze verify --no-pager "deploy/$unit" 2>&1 \
    | grep -v 'Command /usr/bin/secshd is not executable: No such file or directory' || true)"
  [ -z "$out" ] || bad "systemd-analyze verify deploy/$unit: $out"
  score="$(SYSTEMD_COLORS=0 systemd-analyze security --offline=true --no-pager "deploy/$unit" 2>&1 \
    | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')"
  if [ -z "$score" ] || ! awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s <= l) }'; then
    bad "deploy/$unit exposure ${score:-?} above $limit"
  else
    echo "ok: deploy/$unit exposure $score <= $limit, verify silent"
  fi
done < deploy/thresholds

echo "== install.sh --dry-run"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
listing="$(deploy/install.sh --dry-run --prefix "$prefix")"
for f in usr/bin/secsh usr/bin/secshd lib/systemd/system/secshd.service \
         lib/systemd/system/secshd-confined.service usr/share/man/man1/secsh.1 \
         usr/share/man/man8/secshd.8 usr/share/man/man5/secshd.toml.5 \
         usr/lib/sysusers.d/secsh.conf usr/lib/tmpfiles.d/secsh.conf \
         etc/secsh/secshd.toml.example; do
  grep -q " $prefix/$f\$" <<<"$listing" || bad "install.sh --dry-run does not list /$f"
done
[ -z "$(find "$prefix" -mindepth 1)" ] || bad "install.sh --dry-run wrote files"
echo "ok: install.sh --dry-run"

echo "== cargo deb"
if ! cargo deb --version >/dev/null 2>&1; then
  (cd /tmp && cargo install cargo-deb --locked --quiet)
fi
outdir="$(mktemp -d)"
cargo deb --quiet -o "$outdir"
deb="$(ls "$outdir"/*.deb)"
contents="$(dpkg-deb --contents "$deb")"
for f in ./usr/bin/secsh ./usr/bin/secshd ./lib/systemd/system/secshd.service \
         ./lib/systemd/system/secshd-confined.service ./usr/share/man/man1/secsh.1 \
         ./usr/share/man/man8/secshd.8 ./usr/share/man/man5/secshd.toml.5 \
         ./usr/lib/sysusers.d/secsh.conf ./usr/lib/tmpfiles.d/secsh.conf \
         ./usr/share/bash-completion/completions/secsh; do
  grep -Eq " $f(\.gz)?\$" <<<"$contents" || bad "package lacks $f"
done
grep -Eq '^-rw------- .* \./etc/secsh/secshd\.toml\.example$' <<<"$contents" \
  || bad "package lacks etc/secsh/secshd.toml.example with mode 0600"
echo "ok: $(basename "$deb") ($(wc -l <<<"$contents") entries)"
rm -rf "$outdir"

exit "$fail"
