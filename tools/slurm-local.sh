#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the tests of `--executor slurm` and
# for trying a study before sending it to a cluster. Idempotent: installs Debian's slurm-wlm
# and munge when missing, writes a one-node configuration, and (re)starts munged, slurmctld
# and slurmd as root. Prints the partition's name when the node is up.
#
# The partition has OverSubscribe=EXCLUSIVE: a job gets the whole node, as a measurement must.
# Jobs keep their record for an hour after they end (MinJobAge), so `scontrol show job` can
# tell how a job ended without an accounting database.
set -euo pipefail

PARTITION=${SLURM_LOCAL_PARTITION:-fwenergy}
CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-local: run as root (it installs packages and starts the daemons)" >&2
  exit 2
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null; then
  echo "slurm-local: installing slurm-wlm and munge" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

node=$(hostname -s)
cpus=$(nproc)
# Leave 1 GiB to the system; slurmd refuses a node that claims more memory than it has.
memory_mb=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))

mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR" /run/munge /var/lib/munge
cat > "$CONF_DIR/slurm.conf.new" <<CONF
# Written by tools/slurm-local.sh: one node, one exclusive partition.
ClusterName=fwenergy-local
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=EXCLUSIVE
CONF
changed=1
if [ -f "$CONF_DIR/slurm.conf" ] && cmp -s "$CONF_DIR/slurm.conf" "$CONF_DIR/slurm.conf.new"; then
  changed=0
fi
mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"

# munge: one key for this one-machine cluster.
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- munged --force
fi

running() { pgrep -x "$1" >/dev/null; }
if [ "$changed" -eq 1 ]; then
  pkill -x slurmctld 2>/dev/null || true
  pkill -x slurmd 2>/dev/null || true
  sleep 1
fi
running slurmctld || slurmctld
running slurmd || slurmd

# Wait until the node is up and idle (about a minute at most on a fresh start).
for _ in $(seq 1 90); do
  state=$(sinfo -h -n "$node" -o '%T' 2>/dev/null | head -n1 || true)
  case "$state" in
    idle|allocated|mixed|completing)
      echo "$PARTITION"
      exit 0
      ;;
    down*|drain*|fail*)
      scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
      ;;
  esac
  sleep 1
done
echo "slurm-local: the node $node did not come up; see $LOG_DIR/slurmctld.log and slurmd.log" >&2
exit 1
