#!/usr/bin/env bash
# The real systemd test (run by CI): boot a minimal Debian root under
# systemd-nspawn, install the secsh package in it, and check from inside,
# under the shipped secshd.service and its sandbox, that:
#   - the unit is Type=notify and active only once it accepts connections;
#   - secsh reaches it and an allowed command runs as the run_as account;
#   - systemctl reload applies a changed policy;
#   - systemctl stop drains: a running command finishes, then it stops.
# A self-test unit inside the container writes PASS/FAIL lines and powers
# the container off; this script prints them and fails on any FAIL.
#
#   deploy/nspawn-test.sh [PACKAGE.deb]     (default: build one with cargo deb)
#
# Needs root; installs debootstrap and systemd-container when missing. The
# Debian root is cached under target/nspawn/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "nspawn-test: needs root" >&2; exit 1; }
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

deb="${1:-}"
if [ -z "$deb" ]; then
  cargo deb --version >/dev/null 2>&1 || (cd /tmp && cargo install cargo-deb --locked --quiet)
  outdir="$(mktemp -d)"
  cargo deb --quiet -o "$outdir"
  deb="$(ls "$outdir"/*.deb)"
fi

work="target/nspawn"
mkdir -p "$work"
cache="$work/bookworm-rootfs.tar"
if [ ! -s "$cache" ]; then
  mirror="${MIRROR:-$(grep -rhE '^[[:space:]]*(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | grep -E '/debian/?$' | grep -v security | head -1 || true)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "nspawn-test: debootstrap bookworm from $mirror (cached in $cache)"
  tmp_root="$(mktemp -d)"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,openssh-client,procps \
    bookworm "$tmp_root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  tar -C "$tmp_root" -cf "$cache" .
  rm -rf "$tmp_root"
fi
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$cache"
# mktemp (and so the archive's top) is 0700; a real / is 0755, and run_as
# accounts must be able to traverse it.
chmod 755 "$root"

nspawn=(systemd-nspawn -q -D "$root" --register=no --keep-unit --private-network)
cp "$deb" "$root/var/tmp/secsh.deb"
"${nspawn[@]}" dpkg -i /var/tmp/secsh.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }

# Inside: a CA and server certificate, a user key, and a policy whose
# command runs as the `daemon` account.
"${nspawn[@]}" /bin/sh -ec '
  secshd pki init --dir /etc/secsh/pki --name localhost --ip 127.0.0.1 >/dev/null
  ssh-keygen -q -t ed25519 -N "" -f /root/id
  cat >/etc/secsh/secshd.toml <<EOF
listen = ["127.0.0.1:7022"]
[tls]
cert = "pki/server.pem"
key = "pki/server.key"
[audit]
path = "/var/log/secsh/audit.jsonl"
[users.alice]
keys = ["$(cat /root/id.pub)"]
commands = ["whoami", "sleep"]
run_as = "daemon"
[commands.whoami]
argv = ["/usr/bin/id", "-un"]
[commands.sleep]
argv = ["/bin/sleep", "{secs}"]
slots.secs = { int = [0, 60] }
[commands.hostname]
argv = ["/bin/hostname"]
EOF
  chmod 600 /etc/secsh/secshd.toml
  secshd check --config /etc/secsh/secshd.toml >/dev/null
'

cat >"$root/usr/local/bin/secsh-selftest" <<'EOF'
#!/bin/sh
# Runs inside the container after boot; writes /var/tmp/selftest.result.
out=/var/tmp/selftest.result
: >"$out"
pass() { echo "PASS $*" >>"$out"; }
fail() { echo "FAIL $*" >>"$out"; }
S="secsh --cert /etc/secsh/pki/ca.pem -i /root/id --batch alice@127.0.0.1"

i=0
while [ "$(systemctl is-active secshd.service)" != active ] && [ $i -lt 100 ]; do
  sleep 0.1; i=$((i + 1))
done
[ "$(systemctl show -p Type --value secshd.service)" = notify ] && pass "unit is Type=notify" || fail "unit is not Type=notify"
if [ "$(systemctl is-active secshd.service)" = active ]; then
  # Active means READY=1 was sent, which secshd does after binding: the
  # first connection must work at once, with no retry.
  r="$($S -- /usr/bin/id -un 2>&1)"
  [ "$r" = daemon ] && pass "active after READY=1; an allowed command runs as run_as (daemon)" \
    || fail "command as run_as: got [$r]"
else
  fail "secshd.service did not become active: $(systemctl status secshd.service --no-pager 2>&1 | tail -5)"
fi
$S -- /bin/hostname >/dev/null 2>&1; [ $? = 253 ] && pass "a command outside the policy is denied (253)" || fail "hostname was not denied"
sed -i 's/commands = \["whoami", "sleep"\]/commands = ["whoami", "sleep", "hostname"]/' /etc/secsh/secshd.toml
systemctl reload secshd.service
$S -- /bin/hostname >/dev/null 2>&1 && pass "systemctl reload applies a changed policy" || fail "reload did not apply"
[ -s /var/log/secsh/audit.jsonl ] && pass "audit records written under the sandbox" || fail "no audit log"
$S -- /bin/sleep 2 >/dev/null 2>&1 &
job=$!
sleep 0.7
t0=$(date +%s)
systemctl stop secshd.service
wait $job && pass "systemctl stop drains: the running command finished (exit 0)" || fail "stop killed the running command"
[ "$(systemctl is-active secshd.service)" != active ] && pass "stopped after $(( $(date +%s) - t0 )) s" || fail "still active"
if grep -q '^FAIL' "$out"; then
  journalctl -u secshd.service --no-pager -n 40 -o cat | sed 's/^/  journal: /' >>"$out"
fi
echo DONE >>"$out"
systemctl poweroff
EOF
chmod 755 "$root/usr/local/bin/secsh-selftest"
cat >"$root/etc/systemd/system/secsh-selftest.service" <<'EOF'
[Unit]
Description=secsh self-test
Wants=secshd.service
After=secshd.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/secsh-selftest
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/secsh-selftest.service "$root/etc/systemd/system/multi-user.target.wants/secsh-selftest.service"

echo "nspawn-test: booting the container"
timeout 300 "${nspawn[@]}" -b >"$work/boot.log" 2>&1 || true
result="$root/var/tmp/selftest.result"
if [ ! -s "$result" ]; then
  echo "nspawn-test: no result; the end of the boot log:"
  tail -30 "$work/boot.log"
  exit 1
fi
cat "$result"
grep -q '^DONE$' "$result" && ! grep -q '^FAIL' "$result"
