# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_secshd_global_optspecs
    string join \n config= listen= dev state-dir= drain= h/help V/version
end

function __fish_secshd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_secshd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_secshd_using_subcommand
    set -l cmd (__fish_secshd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c secshd -n "__fish_secshd_needs_command" -l config -d 'Configuration file' -r -F
complete -c secshd -n "__fish_secshd_needs_command" -l listen -d 'Listen on ADDR instead of the configured addresses (repeatable)' -r
complete -c secshd -n "__fish_secshd_needs_command" -l state-dir -d 'Where --dev keeps its files' -r -F
complete -c secshd -n "__fish_secshd_needs_command" -l drain -d 'Seconds to let running commands finish after SIGTERM' -r
complete -c secshd -n "__fish_secshd_needs_command" -l dev -d 'Development mode: create a CA, server certificate, user key and demo config under --state-dir once, then serve them'
complete -c secshd -n "__fish_secshd_needs_command" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_needs_command" -s V -l version -d 'Print version'
complete -c secshd -n "__fish_secshd_needs_command" -f -a "pki" -d 'Certificates for secshd'
complete -c secshd -n "__fish_secshd_needs_command" -f -a "check" -d 'Validate a configuration as the daemon would (exit 0, or 1 with FILE:LINE:COLUMN), warn about risky rules; with --user, list what the user may run (--list) or decide on one argv (after --): exit 0 allowed, 3 denied'
complete -c secshd -n "__fish_secshd_needs_command" -f -a "hash-password" -d 'Print an argon2id hash (m=19456 KiB, t=2, p=1) of a password for `[users.NAME] password`. Asks twice on a terminal, without echo; reads one line from stdin when it is piped'
complete -c secshd -n "__fish_secshd_needs_command" -f -a "completions" -d 'Print a shell completion script for secshd (bash, zsh or fish)'
complete -c secshd -n "__fish_secshd_needs_command" -f -a "man" -d 'Write the man pages (secsh.1, secshd.8, secshd.toml.5) and the completion scripts of both binaries into DIR (packaging)'
complete -c secshd -n "__fish_secshd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -f -a "init" -d 'Create a CA (ca.pem, ca.key) and a server certificate (server.pem, server.key) in DIR'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -f -a "issue" -d 'Issue another server certificate from an existing CA'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from init" -l dir -d 'Directory to create the files in' -r -F
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from init" -l name -d 'DNS name for the server certificate (repeatable)' -r
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from init" -l ip -d 'IP address for the server certificate (repeatable)' -r
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from issue" -l ca-dir -d 'Directory holding ca.pem and ca.key' -r -F
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from issue" -l name -d 'DNS name (repeatable)' -r
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from issue" -l ip -d 'IP address (repeatable)' -r
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from issue" -l out -d 'Directory for server.pem and server.key' -r -F
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create a CA (ca.pem, ca.key) and a server certificate (server.pem, server.key) in DIR'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue another server certificate from an existing CA'
complete -c secshd -n "__fish_secshd_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secshd -n "__fish_secshd_using_subcommand check" -l config -d 'Configuration file' -r -F
complete -c secshd -n "__fish_secshd_using_subcommand check" -l user -d 'The user to list or explain for' -r
complete -c secshd -n "__fish_secshd_using_subcommand check" -l from -d 'Also apply the user\'s `from` restriction for this source address' -r
complete -c secshd -n "__fish_secshd_using_subcommand check" -l list -d 'List the commands the user may run (templates and slot constraints)'
complete -c secshd -n "__fish_secshd_using_subcommand check" -l json -d 'Machine-readable output'
complete -c secshd -n "__fish_secshd_using_subcommand check" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand hash-password" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand completions" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand man" -l dir -d 'Output directory' -r -F
complete -c secshd -n "__fish_secshd_using_subcommand man" -s h -l help -d 'Print help'
complete -c secshd -n "__fish_secshd_using_subcommand help; and not __fish_seen_subcommand_from pki check hash-password completions man help" -f -a "pki" -d 'Certificates for secshd'
complete -c secshd -n "__fish_secshd_using_subcommand help; and not __fish_seen_subcommand_from pki check hash-password completions man help" -f -a "check" -d 'Validate a configuration as the daemon would (exit 0, or 1 with FILE:LINE:COLUMN), warn about risky rules; with --user, list what the user may run (--list) or decide on one argv (after --): exit 0 allowed, 3 denied'
complete -c secshd -n "__fish_secshd_using_subcommand help; and not __fish_seen_subcommand_from pki check hash-password completions man help" -f -a "hash-password" -d 'Print an argon2id hash (m=19456 KiB, t=2, p=1) of a password for `[users.NAME] password`. Asks twice on a terminal, without echo; reads one line from stdin when it is piped'
complete -c secshd -n "__fish_secshd_using_subcommand help; and not __fish_seen_subcommand_from pki check hash-password completions man help" -f -a "completions" -d 'Print a shell completion script for secshd (bash, zsh or fish)'
complete -c secshd -n "__fish_secshd_using_subcommand help; and not __fish_seen_subcommand_from pki check hash-password completions man help" -f -a "man" -d 'Write the man pages (secsh.1, secshd.8, secshd.toml.5) and the completion scripts of both binaries into DIR (packaging)'
complete -c secshd -n "__fish_secshd_using_subcommand help; and not __fish_seen_subcommand_from pki check hash-password completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secshd -n "__fish_secshd_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "init" -d 'Create a CA (ca.pem, ca.key) and a server certificate (server.pem, server.key) in DIR'
complete -c secshd -n "__fish_secshd_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "issue" -d 'Issue another server certificate from an existing CA'
