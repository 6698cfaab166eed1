# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_secsh_global_optspecs
    string join \n cert= config= i= l= p= batch password-file= passphrase-file= certificate= connect-timeout= keepalive= v H/hosts-file= x/exclude= inventory= list-hosts parallel= deadline= max-errors= batch-size= group json out-dir= script= keep-going n timeout= list detach jobs attach= cancel= resume-on-drop no-resume-on-drop h/help V/version
end

function __fish_secsh_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_secsh_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_secsh_using_subcommand
    set -l cmd (__fish_secsh_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c secsh -n "__fish_secsh_needs_command" -l cert -d 'CA bundle (PEM) that must have issued the server\'s certificate (default: the client configuration\'s)' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l config -d 'Client configuration file (default: ~/.config/secsh/config.toml when it exists; see docs/CLIENT.md)' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -s i -d 'OpenSSH private key (default: ssh-agent, then ~/.ssh/id_ed25519)' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -s l -d 'User to log in as (default: USER@ in the target, then $USER)' -r
complete -c secsh -n "__fish_secsh_needs_command" -s p -d 'Port (default: :PORT in the target, then 7022)' -r
complete -c secsh -n "__fish_secsh_needs_command" -l password-file -d 'Read the password from the first line of FILE (mode 0600) when the server asks for one. Weaker than a key: prefer keys for automation' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l passphrase-file -d 'Read the private key\'s passphrase from the first line of FILE (mode 0600) instead of asking: for scripts and --batch' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l certificate -d 'OpenSSH user certificate to offer with the key (default: KEY-cert.pub beside -i KEY, or one ssh-agent holds for its key)' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l connect-timeout -d 'Seconds allowed for TCP connect plus TLS handshake, and again for the server\'s answer to authentication. [default: 10]' -r
complete -c secsh -n "__fish_secsh_needs_command" -l keepalive -d 'Ping a silent server after SECS seconds; give up (exit 255) after 3 unanswered pings. 0 turns keepalives off' -r
complete -c secsh -n "__fish_secsh_needs_command" -s H -l hosts-file -d 'Hosts file: one target (or list or range) per line, `#` comments. Repeatable' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -s x -l exclude -d 'Leave these targets out (a comma list with ranges; repeatable)' -r
complete -c secsh -n "__fish_secsh_needs_command" -l inventory -d 'Ansible inventory (INI or YAML) for `@group` and host addresses' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l parallel -d 'Hosts at once [default: 32]' -r
complete -c secsh -n "__fish_secsh_needs_command" -l deadline -d 'Cancel every unfinished host after this long for the whole run (`90`, `90s`, `5m`, `500ms`)' -r
complete -c secsh -n "__fish_secsh_needs_command" -l max-errors -d 'Stop starting hosts once more than N (or P% of them) failed; the rest end as not_started' -r
complete -c secsh -n "__fish_secsh_needs_command" -l batch-size -d 'Rolling batches of N hosts: the next batch starts when one ends' -r
complete -c secsh -n "__fish_secsh_needs_command" -l out-dir -d 'Write HOST.stdout, HOST.stderr, HOST.status, hosts.ok and hosts.failed into DIR instead of printing the output' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l script -d 'Run one argv per line of FILE (shell-like quoting, no expansion) on one connection per host, stopping at the first failure' -r -F
complete -c secsh -n "__fish_secsh_needs_command" -l timeout -d 'Ask the server to kill the command after SECS seconds (exit 252; with several hosts, status timed_out)' -r
complete -c secsh -n "__fish_secsh_needs_command" -l attach -d 'Print job ID\'s output from its first byte, then live, and exit with its exit status (Ctrl-C stops following; the job runs on). With several hosts: the --out-dir DIR of a `--detach` run, each host\'s job followed, with the usual summary and exit status' -r
complete -c secsh -n "__fish_secsh_needs_command" -l cancel -d 'Stop job ID (its whole process group: TERM, grace, KILL)' -r
complete -c secsh -n "__fish_secsh_needs_command" -l batch -d 'Never prompt (for a key passphrase or a password)'
complete -c secsh -n "__fish_secsh_needs_command" -s v -d 'Log connection details to stderr (repeat for more)'
complete -c secsh -n "__fish_secsh_needs_command" -l list-hosts -d 'Print the resolved hosts and exit (with --json: one JSON object per host with its name, address, port, user and inventory groups)'
complete -c secsh -n "__fish_secsh_needs_command" -l group -d 'Gather the output and print each distinct one once, under the hosts that produced it'
complete -c secsh -n "__fish_secsh_needs_command" -l json -d 'JSON Lines on stdout: one object per host, then a summary'
complete -c secsh -n "__fish_secsh_needs_command" -l keep-going -d 'With --script: run the rest after a command fails'
complete -c secsh -n "__fish_secsh_needs_command" -s n -d 'Send no stdin; the command reads /dev/null (always so with several hosts)'
complete -c secsh -n "__fish_secsh_needs_command" -l list -d 'List the commands you may run on HOST (templates and what each slot accepts) instead of running one'
complete -c secsh -n "__fish_secsh_needs_command" -l detach -d 'Start the command as a job on the server and print its id at once; it runs on without this connection (the server\'s allowlist must allow detaching it). With several hosts and --out-dir DIR, each host\'s id goes to DIR/HOST.job'
complete -c secsh -n "__fish_secsh_needs_command" -l jobs -d 'List your jobs on HOST: id, state, exit, start, end, output, argv (with --json: a JSON array)'
complete -c secsh -n "__fish_secsh_needs_command" -l resume-on-drop -d 'Keep the command running on the server if the connection drops; reconnect and continue its output and stdin exactly where they stopped (default from the client configuration\'s `resume_on_drop`)'
complete -c secsh -n "__fish_secsh_needs_command" -l no-resume-on-drop -d 'Do not resume after a drop, whatever the client configuration says'
complete -c secsh -n "__fish_secsh_needs_command" -s h -l help -d 'Print help'
complete -c secsh -n "__fish_secsh_needs_command" -s V -l version -d 'Print version'
complete -c secsh -n "__fish_secsh_needs_command" -a "put" -d 'Copy files to a host (see secsh put --help)'
complete -c secsh -n "__fish_secsh_needs_command" -a "get" -d 'Copy files from a host (see secsh get --help)'
complete -c secsh -n "__fish_secsh_needs_command" -a "completions" -d 'Print a shell completion script (bash, zsh or fish)'
complete -c secsh -n "__fish_secsh_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secsh -n "__fish_secsh_using_subcommand put" -l cert -d 'CA bundle (PEM) that must have issued the server\'s certificate (default: the client configuration\'s)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand put" -l config -d 'Client configuration file (default: ~/.config/secsh/config.toml when it exists; see docs/CLIENT.md)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand put" -s i -d 'OpenSSH private key (default: ssh-agent, then ~/.ssh/id_ed25519)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand put" -s l -d 'User to log in as (default: USER@ in the target, then $USER)' -r
complete -c secsh -n "__fish_secsh_using_subcommand put" -s p -d 'Port (default: :PORT in the target, then 7022)' -r
complete -c secsh -n "__fish_secsh_using_subcommand put" -l password-file -d 'Read the password from the first line of FILE (mode 0600) when the server asks for one. Weaker than a key: prefer keys for automation' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand put" -l passphrase-file -d 'Read the private key\'s passphrase from the first line of FILE (mode 0600) instead of asking: for scripts and --batch' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand put" -l certificate -d 'OpenSSH user certificate to offer with the key (default: KEY-cert.pub beside -i KEY, or one ssh-agent holds for its key)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand put" -l connect-timeout -d 'Seconds allowed for TCP connect plus TLS handshake, and again for the server\'s answer to authentication. [default: 10]' -r
complete -c secsh -n "__fish_secsh_using_subcommand put" -l keepalive -d 'Ping a silent server after SECS seconds; give up (exit 255) after 3 unanswered pings. 0 turns keepalives off' -r
complete -c secsh -n "__fish_secsh_using_subcommand put" -l mode -d 'Permission bits of the stored files, in octal (default: each local file\'s)' -r
complete -c secsh -n "__fish_secsh_using_subcommand put" -l batch -d 'Never prompt (for a key passphrase or a password)'
complete -c secsh -n "__fish_secsh_using_subcommand put" -s v -d 'Log connection details to stderr (repeat for more)'
complete -c secsh -n "__fish_secsh_using_subcommand put" -l resume -d 'Continue interrupted transfers from the bytes already at the receiving end (checked by BLAKE3 first)'
complete -c secsh -n "__fish_secsh_using_subcommand put" -l no-progress -d 'No progress bar, even on a terminal'
complete -c secsh -n "__fish_secsh_using_subcommand put" -s h -l help -d 'Print help'
complete -c secsh -n "__fish_secsh_using_subcommand put" -s V -l version -d 'Print version'
complete -c secsh -n "__fish_secsh_using_subcommand get" -l cert -d 'CA bundle (PEM) that must have issued the server\'s certificate (default: the client configuration\'s)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand get" -l config -d 'Client configuration file (default: ~/.config/secsh/config.toml when it exists; see docs/CLIENT.md)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand get" -s i -d 'OpenSSH private key (default: ssh-agent, then ~/.ssh/id_ed25519)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand get" -s l -d 'User to log in as (default: USER@ in the target, then $USER)' -r
complete -c secsh -n "__fish_secsh_using_subcommand get" -s p -d 'Port (default: :PORT in the target, then 7022)' -r
complete -c secsh -n "__fish_secsh_using_subcommand get" -l password-file -d 'Read the password from the first line of FILE (mode 0600) when the server asks for one. Weaker than a key: prefer keys for automation' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand get" -l passphrase-file -d 'Read the private key\'s passphrase from the first line of FILE (mode 0600) instead of asking: for scripts and --batch' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand get" -l certificate -d 'OpenSSH user certificate to offer with the key (default: KEY-cert.pub beside -i KEY, or one ssh-agent holds for its key)' -r -F
complete -c secsh -n "__fish_secsh_using_subcommand get" -l connect-timeout -d 'Seconds allowed for TCP connect plus TLS handshake, and again for the server\'s answer to authentication. [default: 10]' -r
complete -c secsh -n "__fish_secsh_using_subcommand get" -l keepalive -d 'Ping a silent server after SECS seconds; give up (exit 255) after 3 unanswered pings. 0 turns keepalives off' -r
complete -c secsh -n "__fish_secsh_using_subcommand get" -l batch -d 'Never prompt (for a key passphrase or a password)'
complete -c secsh -n "__fish_secsh_using_subcommand get" -s v -d 'Log connection details to stderr (repeat for more)'
complete -c secsh -n "__fish_secsh_using_subcommand get" -l resume -d 'Continue interrupted transfers from the bytes already at the receiving end (checked by BLAKE3 first)'
complete -c secsh -n "__fish_secsh_using_subcommand get" -l no-progress -d 'No progress bar, even on a terminal'
complete -c secsh -n "__fish_secsh_using_subcommand get" -s h -l help -d 'Print help'
complete -c secsh -n "__fish_secsh_using_subcommand get" -s V -l version -d 'Print version'
complete -c secsh -n "__fish_secsh_using_subcommand completions" -s h -l help -d 'Print help'
complete -c secsh -n "__fish_secsh_using_subcommand help; and not __fish_seen_subcommand_from put get completions help" -f -a "put" -d 'Copy files to a host (see secsh put --help)'
complete -c secsh -n "__fish_secsh_using_subcommand help; and not __fish_seen_subcommand_from put get completions help" -f -a "get" -d 'Copy files from a host (see secsh get --help)'
complete -c secsh -n "__fish_secsh_using_subcommand help; and not __fish_seen_subcommand_from put get completions help" -f -a "completions" -d 'Print a shell completion script (bash, zsh or fish)'
complete -c secsh -n "__fish_secsh_using_subcommand help; and not __fish_seen_subcommand_from put get completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
