#!/usr/bin/env bash
# Stop the daemons that start.sh started, by the PIDs it recorded, and nothing else.
# Safe to call when nothing runs (CI calls it from a trap). A PID is only signalled while it
# still belongs to the daemon recorded with it: a stale pid file from an earlier machine session
# must not kill whatever process reuses that number now.
set -uo pipefail

pidfile="${FILTERDB_SLURM_PIDFILE:-/run/filterdb-slurm.pids}"
[ -s "$pidfile" ] || exit 0

is_ours() {  # $1 = pid, $2 = daemon name
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# Reverse start order: compute daemon, controller, then munge, which both need until then.
entries=()
while read -r name pid; do
    [ -n "${pid:-}" ] || continue
    entries=("$name:$pid" "${entries[@]}")
done <"$pidfile"

for entry in "${entries[@]}"; do
    name="${entry%%:*}"
    pid="${entry##*:}"
    is_ours "$pid" "$name" || continue
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        is_ours "$pid" "$name" || break
        sleep 0.1
    done
    if is_ours "$pid" "$name"; then
        kill -9 "$pid" 2>/dev/null || true
    fi
done
rm -f "$pidfile"
echo "slurm stopped"
