#!/usr/bin/env bash
# Install a single-node SLURM (controller + compute daemon + client tools) and munge from Debian.
# Idempotent: skips apt when every tool is already present, so CI reruns cost nothing.
set -euo pipefail

need=(slurmctld slurmd sinfo sbatch squeue scontrol munged)
missing=0
for tool in "${need[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
done
if [ "$missing" -eq 0 ]; then
    echo "slurm and munge already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -q
# The Debian packages try to start their services through systemd; there is none here, and
# start.sh runs the daemons itself, so refuse service starts during the install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
if [ "$created_policy" -eq 1 ]; then
    rm -f "$policy"
fi
for tool in "${need[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "install.sh: $tool still missing" >&2; exit 1; }
done
echo "slurm and munge installed: $(dpkg-query -W -f='${Version}' slurmctld)"
