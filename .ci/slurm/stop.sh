#!/usr/bin/env bash
# Stop the daemons that start.sh started, by the PIDs it recorded, and nothing else.
# Safe to call when nothing runs (CI calls it from a trap).
set -uo pipefail

pidfile="${FILTERDB_SLURM_PIDFILE:-/run/filterdb-slurm.pids}"
[ -s "$pidfile" ] || exit 0

# Reverse start order: compute daemon, controller, then munge which both still need meanwhile.
pids=()
while read -r name pid; do
    [ -n "${pid:-}" ] || continue
    pids=("$pid" "${pids[@]}")
done <"$pidfile"

for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
done
rm -f "$pidfile"
echo "slurm stopped"
