#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for parx's --slurm tests (tests/it/cluster.rs).
#
#   .ci/slurm-up.sh [DIR]     install (apt-get) and start munged, slurmctld and slurmd
#   .ci/slurm-up.sh stop [DIR]  stop them (by pid) and remove DIR
#
# Everything (slurm.conf, munge key and socket, state, spool, logs, pid files) lives under DIR
# (default /tmp/parx-slurm); nothing is started through systemd. Needs root (apt-get, munge
# user, SlurmUser=root). Prints the variables the tests need; source DIR/env to use them:
#   SLURM_CONF=DIR/slurm.conf PARX_SLURM=1
set -euo pipefail

if [[ ${1:-} == stop ]]; then
    dir=${2:-${PARX_SLURM_DIR:-/tmp/parx-slurm}}
    for p in slurmd slurmctld munged; do
        f=$dir/run/$p.pid
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    # Job processes of a slurmd killed mid-job (proctrack/linuxproc) have no daemon left.
    rm -rf "$dir"
    exit 0
fi

dir=${1:-${PARX_SLURM_DIR:-/tmp/parx-slurm}}
start=$(date +%s)
if [[ $(id -u) != 0 ]]; then
    echo "slurm-up: needs root (apt-get, munge user, SlurmUser=root)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null; }
fi

# Left over from an earlier run: stop it first.
[[ -d $dir ]] && bash "$0" stop "$dir"
mkdir -p "$dir"/{run,log,state,spool} "$dir/munge"
chmod 755 "$dir"
chown munge:munge "$dir/munge"
chmod 700 "$dir/munge"

# cred_expire=10: a requeued job waits this long before it may start again (default 120 s),
# which tests/it/cluster.rs's requeue test would otherwise spend waiting.
# Munge: our own key and socket, so an installed munged (or none) does not matter.
mungekey -c -k "$dir/munge/munge.key" -f >/dev/null 2>&1 \
    || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
sock=$dir/munge/munge.socket
runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$sock" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" --force
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
cp "$dir/munge/munged.pid" "$dir/run/munged.pid"

host=$(hostname -s)
port=${PARX_SLURM_PORT_BASE:-16817}
node=$(slurmd -C | head -1 | sed -e "s/^NodeName=[^ ]*/NodeName=$host/" -e 's/ UpTime=.*//')
cat >"$dir/slurm.conf" <<CONF
ClusterName=parx
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
MinJobAge=60
MaxArraySize=100
SlurmctldTimeout=30
SlurmdTimeout=30
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$dir/slurm.conf
cat >"$dir/env" <<ENV
export SLURM_CONF=$dir/slurm.conf
export PARX_SLURM=1
ENV

slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"
for i in $(seq 120); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    [[ $state == idle ]] && break
    if (( i == 120 )); then
        echo "slurm-up: the node is not idle after 60 s (state '${state}'); logs in $dir/log" >&2
        tail -5 "$dir"/log/*.log >&2 || true
        exit 1
    fi
    sleep 0.5
done
echo "slurm-up: one-node cluster up in $(( $(date +%s) - start )) s; source $dir/env"
