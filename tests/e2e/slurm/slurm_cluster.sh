#!/usr/bin/env bash
# A real one-node Slurm cluster in a folder of its own: munged, slurmctld and
# slurmd from Debian's slurm-wlm and munge packages, with their own key,
# sockets, ports, state, spool, pid files and logs, so that it never touches
# (or clashes with) a system Slurm or munge. Run as root.
#
#   slurm_cluster.sh install          installs slurm-wlm and munge if missing
#   slurm_cluster.sh start DIR        creates DIR, starts the daemons, waits
#                                     until the node is idle; prints the
#                                     path of DIR/env.sh
#   slurm_cluster.sh stop DIR         cancels every job, stops every daemon
#                                     (and every slurmstepd) it started
#   slurm_cluster.sh status DIR       sinfo and squeue
#
# Then `. DIR/env.sh` (it sets SLURM_CONF) and use sbatch, squeue, scancel...
# Environment for start:
#   SLURM_CLUSTER_CPUS      CPUs of the node (default: nproc)
#   SLURM_CLUSTER_GPUS      fake GPUs as generic resources (default 0): gres
#                           device files DIR/dev/gpuN, so that --gres=gpu:K
#                           jobs get CUDA_VISIBLE_DEVICES as on a GPU node;
#                           none of them is a real GPU
#   SLURM_CLUSTER_KILLWAIT  seconds between SIGTERM and SIGKILL when a job is
#                           cancelled or hits its time limit (default 30)
#   SLURM_CLUSTER_EXTRA_CONF  more slurm.conf lines (before NodeName; a later
#                           line overrides an earlier one), e.g. the tuning of
#                           bench/compare
#
# Why these slurm.conf choices (see docs/operations.md, "Slurm"):
#   ProctrackType=proctrack/linuxproc  cgroup v2 delegation is not available
#       in a container-like sandbox; linuxproc finds a job's processes by
#       their parent chain, so scancel still reaches every process of a step.
#   TaskPlugin=task/none               no affinity or cgroup confinement.
#   SelectType=select/cons_tres, CR_CPU  two jobs of one CPU each share the
#       node, as two workers on one GPU box would.
#   no accounting (accounting_storage/none, jobacct_gather/none).
set -euo pipefail

die() { echo "slurm_cluster: $*" >&2; exit 1; }

need_commands() {
  local missing=0 c
  for c in munged munge slurmctld slurmd sbatch squeue scancel sinfo scontrol; do
    command -v "$c" >/dev/null 2>&1 || missing=1
  done
  return $missing
}

cmd_install() {
  if need_commands; then return 0; fi
  [ "$(id -u)" -eq 0 ] || die "slurm-wlm and munge are missing and this is not root: apt-get install slurm-wlm munge"
  echo "slurm_cluster: installing slurm-wlm and munge" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d (if the image has one) keeps apt from starting the system
  # services; this cluster never uses them anyway.
  apt-get update -q >&2 || true
  apt-get install -y -q --no-install-recommends slurm-wlm munge >&2
  need_commands || die "slurm-wlm and munge installed, yet some commands are still missing"
}

free_ports() {  # prints two free TCP ports
  python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_for() {  # wait_for SECONDS COMMAND...: polls every 0.2 s
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null | head -1)" = idle ]; }

cmd_start() {
  local dir=$1
  need_commands || die "slurm-wlm and munge are not installed (slurm_cluster.sh install)"
  [ "$(id -u)" -eq 0 ] || die "start needs root (the daemons run as root and jobs run as their submitter)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -e "$dir/etc/slurm.conf" ] || die "$dir already holds a cluster (stop it first, or use a new folder)"
  local node cpus gpus killwait ctld_port slurmd_port
  node=$(hostname -s)
  cpus=${SLURM_CLUSTER_CPUS:-$(nproc)}
  gpus=${SLURM_CLUSTER_GPUS:-0}
  killwait=${SLURM_CLUSTER_KILLWAIT:-30}
  read -r ctld_port slurmd_port < <(free_ports)

  # munged insists that every folder up to its socket is searchable by all
  # and that its key is readable by its user alone.
  mkdir -p "$dir"/{etc,munge,run,state,spool,log,dev}
  chmod 755 "$dir" "$dir/run"
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  munged --socket="$dir/run/munge.socket" --key-file="$dir/munge/munge.key" \
    --log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
    --seed-file="$dir/munge/munged.seed" </dev/null >>"$dir/log/munged.out" 2>&1 \
    || die "munged did not start: $(tail -5 "$dir/log/munged.out" "$dir/log/munged.log" 2>/dev/null)"
  wait_for 10 test -S "$dir/run/munge.socket" || die "munged made no socket"

  local gres_line="" node_gres=""
  if [ "$gpus" -gt 0 ]; then
    local i
    # slurmd wants character devices; these have the major number of
    # /dev/nvidiaN (195) but no driver behind them: nothing opens them.
    for ((i = 0; i < gpus; i++)); do mknod "$dir/dev/gpu$i" c 195 "$i"; done
    gres_line="GresTypes=gpu"
    node_gres="Gres=gpu:$gpus"
    cat >"$dir/etc/gres.conf" <<EOF
AutoDetect=off
NodeName=$node Name=gpu File=$dir/dev/gpu[0-$((gpus - 1))]
EOF
  fi

  cat >"$dir/etc/slurm.conf" <<EOF
# Written by tests/e2e/slurm/slurm_cluster.sh: a one-node test cluster.
ClusterName=switchyard-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=$killwait
InactiveLimit=0
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
$gres_line
${SLURM_CLUSTER_EXTRA_CONF:-}
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 $node_gres State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  cat >"$dir/env.sh" <<EOF
# . this file to use the test cluster in $dir
export SLURM_CONF=$dir/etc/slurm.conf
EOF
  export SLURM_CONF=$dir/etc/slurm.conf

  slurmctld -f "$SLURM_CONF" </dev/null >>"$dir/log/slurmctld.out" 2>&1 \
    || die "slurmctld did not start: $(tail -20 "$dir/log/slurmctld.out" "$dir/log/slurmctld.log" 2>/dev/null)"
  wait_for 20 scontrol ping || die "slurmctld does not answer: $(tail -20 "$dir/log/slurmctld.log")"
  slurmd -N "$node" -f "$SLURM_CONF" </dev/null >>"$dir/log/slurmd.out" 2>&1 \
    || die "slurmd did not start: $(tail -20 "$dir/log/slurmd.out" "$dir/log/slurmd.log" 2>/dev/null)"
  wait_for 30 node_idle || die "node $node is not idle: $(sinfo -N -l 2>&1; tail -20 "$dir/log/slurmd.log" "$dir/log/slurmctld.log")"
  echo "$dir/env.sh"
}

# Pids of slurmstepd processes that write to this cluster's slurmd log: the
# steps of this cluster's jobs (they outlive slurmd by design).
stepd_pids() {
  local dir=$1 p fd
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
    for fd in "$p"/fd/*; do
      case $(readlink "$fd" 2>/dev/null) in
        "$dir"/*) echo "${p#/proc/}"; break ;;
      esac
    done
  done
}

descendants() {  # descendants PID: every process below PID, children first
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# alive PID: running and not a zombie (in a container the reaper of orphans
# may never reap, and kill -0 succeeds on a zombie).
alive() {
  local state
  state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

stop_pid_file() {  # stop_pid_file FILE: SIGTERM, up to 10 s, then SIGKILL
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
}

cmd_stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/etc/slurm.conf" ] && [ -s "$dir/run/slurmctld.pid" ] &&
     alive "$(cat "$dir/run/slurmctld.pid")"; then
    export SLURM_CONF=$dir/etc/slurm.conf
    # Cancelling first lets jobs drain within KillWait; what remains is killed.
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      # shellcheck disable=SC2016
      wait_for 15 bash -c '[ -z "$(squeue -h -t R,CG,PD -o %A)" ]' || true
    fi
  fi
  stop_pid_file "$dir/run/slurmd.pid"
  stop_pid_file "$dir/run/slurmctld.pid"
  local pid
  local pids=""
  for pid in $(stepd_pids "$dir"); do
    # The whole tree is listed before anything dies, since orphans move to init.
    pids="$pids $pid $(descendants "$pid")"
  done
  # shellcheck disable=SC2086
  [ -z "${pids// /}" ] || kill -KILL $pids 2>/dev/null || true
  stop_pid_file "$dir/run/munged.pid"
}

cmd_status() {
  export SLURM_CONF=$1/etc/slurm.conf
  sinfo -N -l
  squeue -l
}

case "${1:-}" in
  install) cmd_install ;;
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; cmd_start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; cmd_stop "$2" ;;
  status) [ $# -eq 2 ] || die "usage: $0 status DIR"; cmd_status "$2" ;;
  *) die "usage: $0 install | start DIR | stop DIR | status DIR" ;;
esac
