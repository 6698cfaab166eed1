#compdef secsh

autoload -U is-at-least

_secsh() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--cert=[CA bundle (PEM) that must have issued the server'\''s certificate (default\: the client configuration'\''s)]:FILE:_files' \
'--config=[Client configuration file (default\: ~/.config/secsh/config.toml when it exists; see docs/CLIENT.md)]:FILE:_files' \
'-i+[OpenSSH private key (default\: ssh-agent, then ~/.ssh/id_ed25519)]:FILE:_files' \
'-l+[User to log in as (default\: USER@ in the target, then \$USER)]:USER:_default' \
'-p+[Port (default\: \:PORT in the target, then 7022)]:PORT:_default' \
'--password-file=[Read the password from the first line of FILE (mode 0600) when the server asks for one. Weaker than a key\: prefer keys for automation]:FILE:_files' \
'--passphrase-file=[Read the private key'\''s passphrase from the first line of FILE (mode 0600) instead of asking\: for scripts and --batch]:FILE:_files' \
'--certificate=[OpenSSH user certificate to offer with the key (default\: KEY-cert.pub beside -i KEY, or one ssh-agent holds for its key)]:FILE:_files' \
'--connect-timeout=[Seconds allowed for TCP connect plus TLS handshake, and again for the server'\''s answer to authentication. \[default\: 10\]]:SECS:_default' \
'--keepalive=[Ping a silent server after SECS seconds; give up (exit 255) after 3 unanswered pings. 0 turns keepalives off]:SECS:_default' \
'*-H+[Hosts file\: one target (or list or range) per line, \`#\` comments. Repeatable]:FILE:_files' \
'*--hosts-file=[Hosts file\: one target (or list or range) per line, \`#\` comments. Repeatable]:FILE:_files' \
'*-x+[Leave these targets out (a comma list with ranges; repeatable)]:TARGETS:_default' \
'*--exclude=[Leave these targets out (a comma list with ranges; repeatable)]:TARGETS:_default' \
'--inventory=[Ansible inventory (INI or YAML) for \`@group\` and host addresses]:FILE:_files' \
'--parallel=[Hosts at once \[default\: 32\]]:N:_default' \
'--deadline=[Cancel every unfinished host after this long for the whole run (\`90\`, \`90s\`, \`5m\`, \`500ms\`)]:DURATION:_default' \
'--max-errors=[Stop starting hosts once more than N (or P% of them) failed; the rest end as not_started]:N|P%:_default' \
'--batch-size=[Rolling batches of N hosts\: the next batch starts when one ends]:N:_default' \
'--out-dir=[Write HOST.stdout, HOST.stderr, HOST.status, hosts.ok and hosts.failed into DIR instead of printing the output]:DIR:_files' \
'()--script=[Run one argv per line of FILE (shell-like quoting, no expansion) on one connection per host, stopping at the first failure]:FILE:_files' \
'--timeout=[Ask the server to kill the command after SECS seconds (exit 252; with several hosts, status timed_out)]:SECS:_default' \
'(--list --cancel)--attach=[Print job ID'\''s output from its first byte, then live, and exit with its exit status (Ctrl-C stops following; the job runs on). With several hosts\: the --out-dir DIR of a \`--detach\` run, each host'\''s job followed, with the usual summary and exit status]:ID|DIR:_default' \
'(--list)--cancel=[Stop job ID (its whole process group\: TERM, grace, KILL)]:ID:_default' \
'--batch[Never prompt (for a key passphrase or a password)]' \
'*-v[Log connection details to stderr (repeat for more)]' \
'--list-hosts[Print the resolved hosts and exit (with --json\: one JSON object per host with its name, address, port, user and inventory groups)]' \
'(--json --out-dir)--group[Gather the output and print each distinct one once, under the hosts that produced it]' \
'(--out-dir)--json[JSON Lines on stdout\: one object per host, then a summary]' \
'--keep-going[With --script\: run the rest after a command fails]' \
'-n[Send no stdin; the command reads /dev/null (always so with several hosts)]' \
'()--list[List the commands you may run on HOST (templates and what each slot accepts) instead of running one]' \
'(--list --jobs --attach --cancel)--detach[Start the command as a job on the server and print its id at once; it runs on without this connection (the server'\''s allowlist must allow detaching it). With several hosts and --out-dir DIR, each host'\''s id goes to DIR/HOST.job]' \
'(--list --attach --cancel)--jobs[List your jobs on HOST\: id, state, exit, start, end, output, argv (with --json\: a JSON array)]' \
'(--no-resume-on-drop)--resume-on-drop[Keep the command running on the server if the connection drops; reconnect and continue its output and stdin exactly where they stopped (default from the client configuration'\''s \`resume_on_drop\`)]' \
'--no-resume-on-drop[Do not resume after a drop, whatever the client configuration says]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::target -- \[USER@\]HOST\[\:PORT\], or several\: a comma list with ranges (`web\[01-20\]`, `db\[1-3,7\]`) and `@group`s:_default' \
'::command -- The command and its arguments, passed as an exact argv:_default' \
":: :_secsh_commands" \
"*::: :->secsh" \
&& ret=0
    case $state in
    (secsh)
        words=($line[3] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secsh-command-$line[3]:"
        case $line[3] in
            (put)
_arguments "${_arguments_options[@]}" : \
'--cert=[CA bundle (PEM) that must have issued the server'\''s certificate (default\: the client configuration'\''s)]:FILE:_files' \
'--config=[Client configuration file (default\: ~/.config/secsh/config.toml when it exists; see docs/CLIENT.md)]:FILE:_files' \
'-i+[OpenSSH private key (default\: ssh-agent, then ~/.ssh/id_ed25519)]:FILE:_files' \
'-l+[User to log in as (default\: USER@ in the target, then \$USER)]:USER:_default' \
'-p+[Port (default\: \:PORT in the target, then 7022)]:PORT:_default' \
'--password-file=[Read the password from the first line of FILE (mode 0600) when the server asks for one. Weaker than a key\: prefer keys for automation]:FILE:_files' \
'--passphrase-file=[Read the private key'\''s passphrase from the first line of FILE (mode 0600) instead of asking\: for scripts and --batch]:FILE:_files' \
'--certificate=[OpenSSH user certificate to offer with the key (default\: KEY-cert.pub beside -i KEY, or one ssh-agent holds for its key)]:FILE:_files' \
'--connect-timeout=[Seconds allowed for TCP connect plus TLS handshake, and again for the server'\''s answer to authentication. \[default\: 10\]]:SECS:_default' \
'--keepalive=[Ping a silent server after SECS seconds; give up (exit 255) after 3 unanswered pings. 0 turns keepalives off]:SECS:_default' \
'--mode=[Permission bits of the stored files, in octal (default\: each local file'\''s)]:OCTAL:_default' \
'--batch[Never prompt (for a key passphrase or a password)]' \
'*-v[Log connection details to stderr (repeat for more)]' \
'--resume[Continue interrupted transfers from the bytes already at the receiving end (checked by BLAKE3 first)]' \
'--no-progress[No progress bar, even on a terminal]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::paths -- LOCAL... (`-` for stdin) then \[USER@\]HOST\:REMOTE_PATH; with several files, REMOTE_PATH is a directory:_default' \
&& ret=0
;;
(get)
_arguments "${_arguments_options[@]}" : \
'--cert=[CA bundle (PEM) that must have issued the server'\''s certificate (default\: the client configuration'\''s)]:FILE:_files' \
'--config=[Client configuration file (default\: ~/.config/secsh/config.toml when it exists; see docs/CLIENT.md)]:FILE:_files' \
'-i+[OpenSSH private key (default\: ssh-agent, then ~/.ssh/id_ed25519)]:FILE:_files' \
'-l+[User to log in as (default\: USER@ in the target, then \$USER)]:USER:_default' \
'-p+[Port (default\: \:PORT in the target, then 7022)]:PORT:_default' \
'--password-file=[Read the password from the first line of FILE (mode 0600) when the server asks for one. Weaker than a key\: prefer keys for automation]:FILE:_files' \
'--passphrase-file=[Read the private key'\''s passphrase from the first line of FILE (mode 0600) instead of asking\: for scripts and --batch]:FILE:_files' \
'--certificate=[OpenSSH user certificate to offer with the key (default\: KEY-cert.pub beside -i KEY, or one ssh-agent holds for its key)]:FILE:_files' \
'--connect-timeout=[Seconds allowed for TCP connect plus TLS handshake, and again for the server'\''s answer to authentication. \[default\: 10\]]:SECS:_default' \
'--keepalive=[Ping a silent server after SECS seconds; give up (exit 255) after 3 unanswered pings. 0 turns keepalives off]:SECS:_default' \
'--batch[Never prompt (for a key passphrase or a password)]' \
'*-v[Log connection details to stderr (repeat for more)]' \
'--resume[Continue interrupted transfers from the bytes already at the receiving end (checked by BLAKE3 first)]' \
'--no-progress[No progress bar, even on a terminal]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::paths -- \[USER@\]HOST\:REMOTE_PATH... then LOCAL (`-` for stdout; a directory with several files):_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash zsh fish)' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_secsh__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secsh-help-command-$line[1]:"
        case $line[1] in
            (put)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(get)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_secsh_commands] )) ||
_secsh_commands() {
    local commands; commands=(
'put:Copy files to a host (see secsh put --help)' \
'get:Copy files from a host (see secsh get --help)' \
'completions:Print a shell completion script (bash, zsh or fish)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'secsh commands' commands "$@"
}
(( $+functions[_secsh__subcmd__completions_commands] )) ||
_secsh__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'secsh completions commands' commands "$@"
}
(( $+functions[_secsh__subcmd__get_commands] )) ||
_secsh__subcmd__get_commands() {
    local commands; commands=()
    _describe -t commands 'secsh get commands' commands "$@"
}
(( $+functions[_secsh__subcmd__help_commands] )) ||
_secsh__subcmd__help_commands() {
    local commands; commands=(
'put:Copy files to a host (see secsh put --help)' \
'get:Copy files from a host (see secsh get --help)' \
'completions:Print a shell completion script (bash, zsh or fish)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'secsh help commands' commands "$@"
}
(( $+functions[_secsh__subcmd__help__subcmd__completions_commands] )) ||
_secsh__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'secsh help completions commands' commands "$@"
}
(( $+functions[_secsh__subcmd__help__subcmd__get_commands] )) ||
_secsh__subcmd__help__subcmd__get_commands() {
    local commands; commands=()
    _describe -t commands 'secsh help get commands' commands "$@"
}
(( $+functions[_secsh__subcmd__help__subcmd__help_commands] )) ||
_secsh__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'secsh help help commands' commands "$@"
}
(( $+functions[_secsh__subcmd__help__subcmd__put_commands] )) ||
_secsh__subcmd__help__subcmd__put_commands() {
    local commands; commands=()
    _describe -t commands 'secsh help put commands' commands "$@"
}
(( $+functions[_secsh__subcmd__put_commands] )) ||
_secsh__subcmd__put_commands() {
    local commands; commands=()
    _describe -t commands 'secsh put commands' commands "$@"
}

if [ "$funcstack[1]" = "_secsh" ]; then
    _secsh "$@"
else
    compdef _secsh secsh
fi
