#!/bin/sh
# Install secsh on a host without dpkg: the same files the Debian package
# holds, from a release build (cargo build --release). Idempotent: files
# already identical are left alone; an existing configuration is never
# touched (the example goes beside it).
#
#   deploy/install.sh [--prefix DIR] [--dry-run]
#
# --prefix DIR   install under DIR instead of / (binaries in DIR/usr/bin;
#                the units' ExecStart= is rewritten to match)
# --dry-run      print every file that would be installed, change nothing
set -eu

prefix=""
dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
prefix="${prefix%/}"
src="$(cd "$(dirname "$0")/.." && pwd)"
bin="$src/target/release"
if [ "$dry" = 0 ] && { [ ! -x "$bin/secsh" ] || [ ! -x "$bin/secshd" ]; }; then
    echo "install.sh: no release build in $bin: run cargo build --release first" >&2
    exit 1
fi

# install_file SOURCE DEST MODE
install_file() {
    dest="$prefix$2"
    if [ "$dry" = 1 ]; then
        echo "install -m $3 $1 $dest"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    if [ -f "$dest" ] && cmp -s "$1" "$dest"; then
        chmod "$3" "$dest"
        return
    fi
    tmp="$dest.secsh-install.$$"
    cp "$1" "$tmp"
    chmod "$3" "$tmp"
    mv -f "$tmp" "$dest"
    echo "installed $dest"
}

# The units, with ExecStart= pointing at the installed binary.
unit() {
    name="$1"
    if [ "$dry" = 1 ]; then
        echo "install -m 644 $src/deploy/$name $prefix/lib/systemd/system/$name"
        return
    fi
    tmp="$(mktemp)"
    sed "s|/usr/bin/secshd|$prefix/usr/bin/secshd|" "$src/deploy/$name" >"$tmp"
    install_file "$tmp" "/lib/systemd/system/$name" 644
    rm -f "$tmp"
}

install_file "$bin/secsh" /usr/bin/secsh 755
install_file "$bin/secshd" /usr/bin/secshd 755
unit secshd.service
unit secshd-confined.service
install_file "$src/deploy/sysusers.d/secsh.conf" /usr/lib/sysusers.d/secsh.conf 644
install_file "$src/deploy/tmpfiles.d/secsh.conf" /usr/lib/tmpfiles.d/secsh.conf 644
install_file "$src/deploy/man/secsh.1" /usr/share/man/man1/secsh.1 644
install_file "$src/deploy/man/secshd.8" /usr/share/man/man8/secshd.8 644
install_file "$src/deploy/man/secshd.toml.5" /usr/share/man/man5/secshd.toml.5 644
for b in secsh secshd; do
    install_file "$src/deploy/completions/$b.bash" "/usr/share/bash-completion/completions/$b" 644
    install_file "$src/deploy/completions/$b.zsh" "/usr/share/zsh/vendor-completions/_$b" 644
    install_file "$src/deploy/completions/$b.fish" "/usr/share/fish/vendor_completions.d/$b.fish" 644
done
install_file "$src/config/secshd.toml" /etc/secsh/secshd.toml.example 600

if [ "$dry" = 1 ]; then
    echo "(dry run: nothing changed under ${prefix:-/})"
    exit 0
fi
# Account and directories, and the units, only on a real root.
if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then
    systemd-sysusers secsh.conf
    systemd-tmpfiles --create secsh.conf
    systemctl daemon-reload
    echo "done: write /etc/secsh/secshd.toml (see secshd.toml.example and secshd check), then systemctl enable --now secshd"
fi
