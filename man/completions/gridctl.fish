# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gridctl_global_optspecs
    string join \n f/file= q/quiet no-progress h/help V/version
end

function __fish_gridctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gridctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gridctl_using_subcommand
    set -l cmd (__fish_gridctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gridctl -n "__fish_gridctl_needs_command" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_needs_command" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_needs_command" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_needs_command" -s V -l version -d 'Print version'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "init" -d 'Write a commented grid.toml with a sensible split (core + asset + inventory copies)'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "check" -d 'Validate grid.toml and the configuration it renders; print diagnostics'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "plan" -d 'Show every instance: role, services, ports, hostnames (and the exact command line with --json)'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "render" -d 'Write every instance\'s config tree into the state directory'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "render-nginx" -d 'Print the nginx config of the whole grid (or write it atomically with -o)'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "render-simulator" -d 'Print the GridCommon.ini-style snippet simulators use to reach this grid'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "up" -d 'Start what is missing, leave healthy instances alone, restart copies whose config changed'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "down" -d 'Stop instances gracefully (console `shutdown`, then signals), dependants first'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "status" -d 'Every instance: state, pid, ports, operator restarts and crashes, uptime, CPU%, RSS, what it is doing'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "attach" -d 'The live console of an instance; detach with the detach key, the instance keeps running'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "send" -d 'Type a line into a console and print what it answered'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "restart" -d 'Graceful stop + start of instances (re-reading their rendered config)'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "scale" -d 'Set how many copies roles run (written into grid.toml, comments kept); start or stop only those copies'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "top" -d 'Live dashboard: every instance by role, its console, keys to restart, stop, start, scale'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "pod" -d 'Inside a container: run one copy as the container\'s main process'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "probe" -d 'Readiness probe: exit 0 when the instance\'s holder says `ready`, 1 otherwise (one line why)'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "export" -d 'Write the grid as Kubernetes objects (and a Containerfile) for `kubectl apply`'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "nginx" -d 'Drive the nginx front'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "logs" -d 'Print an instance\'s console log (ANSI stripped); -f follows it'
complete -c gridctl -n "__fish_gridctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l bin-dir -d 'The Robust bin/ directory of your OpenSim install' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l name -d 'The grid\'s name' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l domain -d 'Public base domain: services answer on <service>.<domain>' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l simulators -d 'Also declare this many region simulators, one region each (ports 9000, 9010, ...)' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l estate-owner -d 'The simulators\' estate owner, "First Last": an existing user of the grid' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l force -d 'Overwrite an existing manifest'
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand init" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand check" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand check" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand check" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand check" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand plan" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand plan" -l json -d 'Machine-readable output, including each instance\'s command line and environment (secrets redacted)'
complete -c gridctl -n "__fish_gridctl_using_subcommand plan" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand plan" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand plan" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand render" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand render" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand render" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand render" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand render-nginx" -s o -l output -d 'Write to this file instead of stdout' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand render-nginx" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand render-nginx" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand render-nginx" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand render-nginx" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand render-simulator" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand render-simulator" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand render-simulator" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand render-simulator" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -l wait -d 'Wait until every started instance is ready; exit 1 naming those that are not'
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -l dry-run -d 'Print the steps (each with its reason) without acting: nothing starts, stops or is written'
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -l json -d 'Steps (with --dry-run) or events as JSON lines instead of progress lines'
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand down" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand down" -l dry-run -d 'Print the steps (each with its reason) without acting'
complete -c gridctl -n "__fish_gridctl_using_subcommand down" -l json -d 'Steps (with --dry-run) or events as JSON lines instead of progress lines'
complete -c gridctl -n "__fish_gridctl_using_subcommand down" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand down" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand down" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand status" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand status" -l json -d 'Machine-readable output'
complete -c gridctl -n "__fish_gridctl_using_subcommand status" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand status" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -l detach-key -d 'Detach sequence: `ctrl-]` (default), `ctrl-a d`, `ctrl-X`; press it twice to send it' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -l read-only -d 'Watch only: typed keys are not sent to the console'
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -l allow-terminal-queries -d 'Pass the console\'s clipboard writes (OSC 52) and terminal queries (an OSC ending in `?`, DCS) to this terminal; by default they are dropped, as are C1 controls always'
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand attach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -s a -l answer -d 'An answer to type when the console asks a question; repeat it for each question, in order ("" answers with just Enter)' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -l role -d 'Send to every copy of this role (then every positional word is the line)' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -l timeout -d 'Give up waiting for the answer after this long' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -l notify -d 'Before restarting simulators, type OpenSim\'s `alert` into their consoles as a countdown of this length (e.g. "5m": at 5m, 2m, 1m, 30s and 10s left), so the users in their regions see it coming' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -l rolling -d 'One copy at a time: out of its upstream, drain, restart, ready, back in; the role keeps serving. A role\'s only serving copy gets a temporary second copy first (surge); a role that must run as one copy (presence, griduser caches) restarts in place, and says so before acting'
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -l dry-run -d 'Print the steps (each with its reason) without acting'
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -l json -d 'Steps (with --dry-run) or events as JSON lines instead of progress lines'
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand restart" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand scale" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand scale" -l dry-run -d 'Print the steps (each with its reason) without acting; grid.toml is not written'
complete -c gridctl -n "__fish_gridctl_using_subcommand scale" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand scale" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand scale" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand top" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand top" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand top" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand top" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and not __fish_seen_subcommand_from run help" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and not __fish_seen_subcommand_from run help" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and not __fish_seen_subcommand_from run help" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and not __fish_seen_subcommand_from run help" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and not __fish_seen_subcommand_from run help" -f -a "run" -d 'Render only this instance\'s tree, then exec its holder in the foreground (PID 1)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and not __fish_seen_subcommand_from run help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and __fish_seen_subcommand_from run" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and __fish_seen_subcommand_from run" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and __fish_seen_subcommand_from help" -f -a "run" -d 'Render only this instance\'s tree, then exec its holder in the foreground (PID 1)'
complete -c gridctl -n "__fish_gridctl_using_subcommand pod; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand probe" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand probe" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand probe" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and not __fish_seen_subcommand_from kubernetes help" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and not __fish_seen_subcommand_from kubernetes help" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and not __fish_seen_subcommand_from kubernetes help" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and not __fish_seen_subcommand_from kubernetes help" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and not __fish_seen_subcommand_from kubernetes help" -f -a "kubernetes" -d 'Per role a StatefulSet (one pod per copy), a ClusterIP and a headless Service; one ConfigMap (grid.toml and templates); Ingresses; a Containerfile'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and not __fish_seen_subcommand_from kubernetes help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -s o -l output -d 'Output directory (created when missing)' -r -f -a "(__fish_complete_directories)"
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l namespace -d 'Namespace of every object (a DNS-1123 label); overrides [kubernetes] namespace' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l image -d 'Image the pods run; overrides [kubernetes] image' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l force -d 'Overwrite files of the same names that an export did not write (a Containerfile of your own, say); without it such a file stops the export'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "kubernetes" -d 'Per role a StatefulSet (one pod per copy), a ClusterIP and a headless Service; one ConfigMap (grid.toml and templates); Ingresses; a Containerfile'
complete -c gridctl -n "__fish_gridctl_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and not __fish_seen_subcommand_from reload help" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and not __fish_seen_subcommand_from reload help" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and not __fish_seen_subcommand_from reload help" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and not __fish_seen_subcommand_from reload help" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and not __fish_seen_subcommand_from reload help" -f -a "reload" -d 'Render the nginx config, test it, install it atomically (keeping the previous one) and reload'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and not __fish_seen_subcommand_from reload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and __fish_seen_subcommand_from reload" -s f -l file -d 'The grid manifest; before or after the command (`gridctl -f grid.toml up`, `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and __fish_seen_subcommand_from reload" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and __fish_seen_subcommand_from reload" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and __fish_seen_subcommand_from reload" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and __fish_seen_subcommand_from help" -f -a "reload" -d 'Render the nginx config, test it, install it atomically (keeping the previous one) and reload'
complete -c gridctl -n "__fish_gridctl_using_subcommand nginx; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand logs" -s n -l lines -d 'Lines from the end to show first' -r
complete -c gridctl -n "__fish_gridctl_using_subcommand logs" -l file -d 'The grid manifest (as gridctl -f; here -f is --follow)' -r -F
complete -c gridctl -n "__fish_gridctl_using_subcommand logs" -s f -l follow -d 'Keep printing new lines as they come'
complete -c gridctl -n "__fish_gridctl_using_subcommand logs" -s q -l quiet -d 'Print nothing but errors (failures and stop escalations still go to stderr)'
complete -c gridctl -n "__fish_gridctl_using_subcommand logs" -l no-progress -d 'Plain timestamped progress lines even on a terminal (no live display)'
complete -c gridctl -n "__fish_gridctl_using_subcommand logs" -s h -l help -d 'Print help'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "init" -d 'Write a commented grid.toml with a sensible split (core + asset + inventory copies)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "check" -d 'Validate grid.toml and the configuration it renders; print diagnostics'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "plan" -d 'Show every instance: role, services, ports, hostnames (and the exact command line with --json)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "render" -d 'Write every instance\'s config tree into the state directory'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "render-nginx" -d 'Print the nginx config of the whole grid (or write it atomically with -o)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "render-simulator" -d 'Print the GridCommon.ini-style snippet simulators use to reach this grid'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "up" -d 'Start what is missing, leave healthy instances alone, restart copies whose config changed'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "down" -d 'Stop instances gracefully (console `shutdown`, then signals), dependants first'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "status" -d 'Every instance: state, pid, ports, operator restarts and crashes, uptime, CPU%, RSS, what it is doing'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "attach" -d 'The live console of an instance; detach with the detach key, the instance keeps running'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "send" -d 'Type a line into a console and print what it answered'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "restart" -d 'Graceful stop + start of instances (re-reading their rendered config)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "scale" -d 'Set how many copies roles run (written into grid.toml, comments kept); start or stop only those copies'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "top" -d 'Live dashboard: every instance by role, its console, keys to restart, stop, start, scale'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "pod" -d 'Inside a container: run one copy as the container\'s main process'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "probe" -d 'Readiness probe: exit 0 when the instance\'s holder says `ready`, 1 otherwise (one line why)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "export" -d 'Write the grid as Kubernetes objects (and a Containerfile) for `kubectl apply`'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "nginx" -d 'Drive the nginx front'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "logs" -d 'Print an instance\'s console log (ANSI stripped); -f follows it'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and not __fish_seen_subcommand_from init check plan render render-nginx render-simulator up down status attach send restart scale top pod probe export nginx logs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and __fish_seen_subcommand_from pod" -f -a "run" -d 'Render only this instance\'s tree, then exec its holder in the foreground (PID 1)'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "kubernetes" -d 'Per role a StatefulSet (one pod per copy), a ClusterIP and a headless Service; one ConfigMap (grid.toml and templates); Ingresses; a Containerfile'
complete -c gridctl -n "__fish_gridctl_using_subcommand help; and __fish_seen_subcommand_from nginx" -f -a "reload" -d 'Render the nginx config, test it, install it atomically (keeping the previous one) and reload'
