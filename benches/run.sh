#!/usr/bin/env bash
# secsh vs OpenSSH on loopback. Installs openssh-server (for its sshd
# binary) when missing, builds in release mode and prints a markdown report
# on stdout (progress on stderr).
#
#   benches/run.sh            full run (a few minutes)
#   benches/run.sh --quick    reduced set (under a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openssh-server openssh-client
fi
exec cargo bench --bench compare -- "$@"
