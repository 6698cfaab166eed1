#compdef secshd

autoload -U is-at-least

_secshd() {
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
'--config=[Configuration file]:FILE:_files' \
'*--listen=[Listen on ADDR instead of the configured addresses (repeatable)]:ADDR:_default' \
'--state-dir=[Where --dev keeps its files]:DIR:_files' \
'--drain=[Seconds to let running commands finish after SIGTERM]:SECS:_default' \
'--dev[Development mode\: create a CA, server certificate, user key and demo config under --state-dir once, then serve them]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_secshd_commands" \
"*::: :->secshd" \
&& ret=0
    case $state in
    (secshd)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secshd-command-$line[1]:"
        case $line[1] in
            (pki)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
":: :_secshd__subcmd__pki_commands" \
"*::: :->pki" \
&& ret=0

    case $state in
    (pki)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secshd-pki-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
'--dir=[Directory to create the files in]:DIR:_files' \
'*--name=[DNS name for the server certificate (repeatable)]:NAME:_default' \
'*--ip=[IP address for the server certificate (repeatable)]:IP:_default' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(issue)
_arguments "${_arguments_options[@]}" : \
'--ca-dir=[Directory holding ca.pem and ca.key]:DIR:_files' \
'*--name=[DNS name (repeatable)]:NAME:_default' \
'*--ip=[IP address (repeatable)]:IP:_default' \
'--out=[Directory for server.pem and server.key]:DIR:_files' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_secshd__subcmd__pki__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secshd-pki-help-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(issue)
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
;;
(check)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file]:FILE:_files' \
'--user=[The user to list or explain for]:USER:_default' \
'--from=[Also apply the user'\''s \`from\` restriction for this source address]:IP:_default' \
'--list[List the commands the user may run (templates and slot constraints)]' \
'--json[Machine-readable output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::argv -- The exact argv to decide on (after `--`):_default' \
&& ret=0
;;
(hash-password)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
':shell -- The shell:(bash zsh fish)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--dir=[Output directory]:DIR:_files' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_secshd__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secshd-help-command-$line[1]:"
        case $line[1] in
            (pki)
_arguments "${_arguments_options[@]}" : \
":: :_secshd__subcmd__help__subcmd__pki_commands" \
"*::: :->pki" \
&& ret=0

    case $state in
    (pki)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:secshd-help-pki-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(issue)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(hash-password)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
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

(( $+functions[_secshd_commands] )) ||
_secshd_commands() {
    local commands; commands=(
'pki:Certificates for secshd' \
'check:Validate a configuration as the daemon would (exit 0, or 1 with FILE\:LINE\:COLUMN), warn about risky rules; with --user, list what the user may run (--list) or decide on one argv (after --)\: exit 0 allowed, 3 denied' \
'hash-password:Print an argon2id hash (m=19456 KiB, t=2, p=1) of a password for \`\[users.NAME\] password\`. Asks twice on a terminal, without echo; reads one line from stdin when it is piped' \
'completions:Print a shell completion script for secshd (bash, zsh or fish)' \
'man:Write the man pages (secsh.1, secshd.8, secshd.toml.5) and the completion scripts of both binaries into DIR (packaging)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'secshd commands' commands "$@"
}
(( $+functions[_secshd__subcmd__check_commands] )) ||
_secshd__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'secshd check commands' commands "$@"
}
(( $+functions[_secshd__subcmd__completions_commands] )) ||
_secshd__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'secshd completions commands' commands "$@"
}
(( $+functions[_secshd__subcmd__hash-password_commands] )) ||
_secshd__subcmd__hash-password_commands() {
    local commands; commands=()
    _describe -t commands 'secshd hash-password commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help_commands] )) ||
_secshd__subcmd__help_commands() {
    local commands; commands=(
'pki:Certificates for secshd' \
'check:Validate a configuration as the daemon would (exit 0, or 1 with FILE\:LINE\:COLUMN), warn about risky rules; with --user, list what the user may run (--list) or decide on one argv (after --)\: exit 0 allowed, 3 denied' \
'hash-password:Print an argon2id hash (m=19456 KiB, t=2, p=1) of a password for \`\[users.NAME\] password\`. Asks twice on a terminal, without echo; reads one line from stdin when it is piped' \
'completions:Print a shell completion script for secshd (bash, zsh or fish)' \
'man:Write the man pages (secsh.1, secshd.8, secshd.toml.5) and the completion scripts of both binaries into DIR (packaging)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'secshd help commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__check_commands] )) ||
_secshd__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help check commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__completions_commands] )) ||
_secshd__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help completions commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__hash-password_commands] )) ||
_secshd__subcmd__help__subcmd__hash-password_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help hash-password commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__help_commands] )) ||
_secshd__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help help commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__man_commands] )) ||
_secshd__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help man commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__pki_commands] )) ||
_secshd__subcmd__help__subcmd__pki_commands() {
    local commands; commands=(
'init:Create a CA (ca.pem, ca.key) and a server certificate (server.pem, server.key) in DIR' \
'issue:Issue another server certificate from an existing CA' \
    )
    _describe -t commands 'secshd help pki commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__pki__subcmd__init_commands] )) ||
_secshd__subcmd__help__subcmd__pki__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help pki init commands' commands "$@"
}
(( $+functions[_secshd__subcmd__help__subcmd__pki__subcmd__issue_commands] )) ||
_secshd__subcmd__help__subcmd__pki__subcmd__issue_commands() {
    local commands; commands=()
    _describe -t commands 'secshd help pki issue commands' commands "$@"
}
(( $+functions[_secshd__subcmd__man_commands] )) ||
_secshd__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'secshd man commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki_commands] )) ||
_secshd__subcmd__pki_commands() {
    local commands; commands=(
'init:Create a CA (ca.pem, ca.key) and a server certificate (server.pem, server.key) in DIR' \
'issue:Issue another server certificate from an existing CA' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'secshd pki commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki__subcmd__help_commands] )) ||
_secshd__subcmd__pki__subcmd__help_commands() {
    local commands; commands=(
'init:Create a CA (ca.pem, ca.key) and a server certificate (server.pem, server.key) in DIR' \
'issue:Issue another server certificate from an existing CA' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'secshd pki help commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki__subcmd__help__subcmd__help_commands] )) ||
_secshd__subcmd__pki__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'secshd pki help help commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki__subcmd__help__subcmd__init_commands] )) ||
_secshd__subcmd__pki__subcmd__help__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'secshd pki help init commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki__subcmd__help__subcmd__issue_commands] )) ||
_secshd__subcmd__pki__subcmd__help__subcmd__issue_commands() {
    local commands; commands=()
    _describe -t commands 'secshd pki help issue commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki__subcmd__init_commands] )) ||
_secshd__subcmd__pki__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'secshd pki init commands' commands "$@"
}
(( $+functions[_secshd__subcmd__pki__subcmd__issue_commands] )) ||
_secshd__subcmd__pki__subcmd__issue_commands() {
    local commands; commands=()
    _describe -t commands 'secshd pki issue commands' commands "$@"
}

if [ "$funcstack[1]" = "_secshd" ]; then
    _secshd "$@"
else
    compdef _secshd secshd
fi
