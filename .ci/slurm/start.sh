#!/usr/bin/env bash
# Start a one-node SLURM cluster on 127.0.0.1 (munged, slurmctld, slurmd) without systemd, so the
# cluster tests submit real sbatch jobs. Records the daemons' PIDs for stop.sh and waits until the
# node is idle. Rerunning restarts the daemons with a freshly written config.
#
# Why these settings:
# - /etc/slurm/slurm.conf is the only config path: the executor plugin's job step strips SLURM_*
#   variables, so a SLURM_CONF elsewhere would break every job.
# - No slurmdbd, so sacct cannot answer; the profile's test run uses `slurm-status-command: squeue`,
#   which needs finished jobs to stay visible to squeue for at least 3x the plugin's
#   init-seconds-before-status-checks (default 40 s): MinJobAge=300 covers that with margin.
# - proctrack/linuxproc + task/none: no cgroups needed inside a container.
# - jobcomp/filetxt keeps one line per finished job, the record the tests check sbatch use against.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
conf=/etc/slurm/slurm.conf
marker="# written by filterdb .ci/slurm/start.sh"
partition="${FILTERDB_SLURM_TEST_PARTITION:-ci}"
pidfile="${FILTERDB_SLURM_PIDFILE:-/run/filterdb-slurm.pids}"
logdir=/var/log/slurm

if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
    echo "start.sh: $conf exists and was not written by this script; refusing to overwrite" >&2
    exit 1
fi

# A previous start of ours may still be running: stop it so the new config takes effect.
if [ -s "$pidfile" ]; then
    bash "$here/stop.sh"
fi

host="$(hostname -s)"
node_line="$(slurmd -C | grep '^NodeName=')"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$logdir" /run/munge
cat >"$conf" <<EOF
$marker
ClusterName=filterdb-ci
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
KillWait=5
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=${logdir}/slurmctld.log
SlurmdLogFile=${logdir}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=${logdir}/jobcomp.log
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=${partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# munge: the key is made by the Debian package; make one if it is missing.
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        create-munge-key -f
    fi
fi
chown -R munge:munge /etc/munge /run/munge
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
mkdir -p /var/lib/munge /var/log/munge
chown munge:munge /var/lib/munge /var/log/munge

wait_for_file() {  # $1 = file, $2 = what; daemons write their pid file once they have forked
    for _ in $(seq 1 100); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    echo "start.sh: $2 did not write $1" >&2
    return 1
}

rm -f /run/munge/munged.pid /run/slurmctld.pid /run/slurmd.pid
: >"$pidfile"
runuser -u munge -- /usr/sbin/munged
wait_for_file /run/munge/munged.pid munged
echo "munged $(cat /run/munge/munged.pid)" >>"$pidfile"

slurmctld
wait_for_file /run/slurmctld.pid slurmctld
echo "slurmctld $(cat /run/slurmctld.pid)" >>"$pidfile"

slurmd
wait_for_file /run/slurmd.pid slurmd
echo "slurmd $(cat /run/slurmd.pid)" >>"$pidfile"

for _ in $(seq 1 60); do
    state="$(sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)"
    if [ "$state" = "idle" ]; then
        echo "slurm up: partition ${partition}, node ${host} idle (pids in ${pidfile})"
        exit 0
    fi
    # A node that went down in an earlier run comes back once told to.
    if [ "${state%%[*~#]*}" = "down" ] || [ "$state" = "drained" ]; then
        scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 1
done
echo "start.sh: node did not become idle; sinfo says: $(sinfo -N 2>&1)" >&2
tail -n 20 "$logdir/slurmctld.log" "$logdir/slurmd.log" >&2 || true
exit 1
