#!/usr/bin/env bash
# secsh side by side with the tools it replaces, on loopback: ssh (with and
# without ControlMaster), scp, sftp, rsync over ssh, pdsh, parallel-ssh and
# ansible. Installs what is missing (openssh-server for its sshd binary,
# rsync, pdsh, pssh from Debian; ansible-core from PyPI in a venv), builds
# in release mode and prints a markdown report on stdout (progress on
# stderr); SVG charts go to target/bench (or the directory after --svg).
#
#   benches/run.sh                      full run (about a quarter of an hour)
#   benches/run.sh --quick              reduced set (a few minutes)
#   benches/run.sh --svg docs/bench     charts for docs/BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v pdsh >/dev/null 2>&1 || need+=(pdsh)
command -v parallel-ssh >/dev/null 2>&1 || need+=(pssh)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Ansible ad-hoc, from PyPI, in a venv of its own.
if [ ! -x target/ansible-venv/bin/ansible ]; then
  python3 -m venv target/ansible-venv 2>/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq python3-venv
    python3 -m venv target/ansible-venv
  }
  target/ansible-venv/bin/pip install -q ansible-core || echo "bench: ansible-core not installed; its rows are left out" >&2
fi
exec cargo bench --bench compare -- "$@"
