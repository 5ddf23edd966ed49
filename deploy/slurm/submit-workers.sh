#!/usr/bin/env bash
# Submits N switchyard workers to Slurm as one job array (one node per array
# task) for a coordinator, and prints the array's job id.
#
#   submit-workers.sh [options] N HOST:PORT [-- more sbatch options]
#
# Options:
#   --token-file F      the worker token (default: $SWITCHYARD_TOKEN_FILE);
#                       must be readable on the compute nodes
#   --bin-dir DIR       folder of switchyard-worker and switchyard-train on the
#                       nodes (default: $SWITCHYARD_BIN_DIR, else from PATH)
#   --gpus G            GPUs per worker (--gres=gpu:G; default 0: CPU workers)
#   --cpus C            CPUs per worker (--cpus-per-task; default: Slurm's)
#   --slots K           jobs at once per device (default 1)
#   --time T            time limit per worker job (sbatch --time)
#   --partition P       partition
#   --max-running M     at most M array tasks at once (--array=0-(N-1)%M)
#   --output PATTERN    sbatch --output (default switchyard-worker-%A_%a.out)
#   --dry-run           print the sbatch command instead of running it
#
# Example, 8 workers of 4 GPUs each for 24 hours:
#   deploy/slurm/submit-workers.sh --token-file ~/.switchyard/worker.token \
#     --bin-dir /opt/switchyard/bin --gpus 4 --cpus 32 --time 24:00:00 \
#     8 coord.example.org:50051
# Cancel them all (each drains first): scancel JOBID
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "submit-workers: $*" >&2; exit 2; }

token_file=${SWITCHYARD_TOKEN_FILE:-}
bin_dir=${SWITCHYARD_BIN_DIR:-}
gpus=0 cpus="" slots="" time_limit="" partition="" max_running=""
output="switchyard-worker-%A_%a.out"
dry_run=0
positional=()
while [ $# -gt 0 ]; do
  case $1 in
    --token-file) token_file=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --gpus) gpus=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --slots) slots=$2; shift 2 ;;
    --time) time_limit=$2; shift 2 ;;
    --partition) partition=$2; shift 2 ;;
    --max-running) max_running=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || usage
count=${positional[0]}
coordinator=${positional[1]}
case $count in ''|*[!0-9]*|0) die "N must be a positive number, got '$count'" ;; esac
case $coordinator in *:[0-9]*) ;; *) die "the coordinator must be HOST:PORT, got '$coordinator'" ;; esac
case $gpus in ''|*[!0-9]*) die "--gpus must be a number, got '$gpus'" ;; esac

if [ -n "$token_file" ]; then
  [ -r "$token_file" ] || die "cannot read the token file $token_file"
  token_file=$(cd "$(dirname "$token_file")" && pwd)/$(basename "$token_file")
elif [ -z "${SWITCHYARD_TOKEN:-}" ]; then
  die "give --token-file (or set SWITCHYARD_TOKEN_FILE or SWITCHYARD_TOKEN)"
fi
if [ -z "$bin_dir" ]; then
  worker_path=$(command -v switchyard-worker) || die "switchyard-worker is not on PATH; give --bin-dir"
  bin_dir=$(dirname "$worker_path")
fi
bin_dir=$(cd "$bin_dir" 2>/dev/null && pwd) || die "no folder $bin_dir"

array="0-$((count - 1))"
[ -z "$max_running" ] || array="$array%$max_running"
# The variables travel in the job's environment (sbatch exports the caller's
# environment; these are set on top of it).
export SWITCHYARD_COORDINATOR=$coordinator SWITCHYARD_BIN_DIR=$bin_dir
[ -z "$token_file" ] || export SWITCHYARD_TOKEN_FILE=$token_file
[ -z "$slots" ] || export SWITCHYARD_SLOTS_PER_DEVICE=$slots

cmd=(sbatch --parsable --array="$array" --output="$output")
[ "$gpus" -eq 0 ] || cmd+=(--gres="gpu:$gpus")
[ -z "$cpus" ] || cmd+=(--cpus-per-task="$cpus")
[ -z "$time_limit" ] || cmd+=(--time="$time_limit")
[ -z "$partition" ] || cmd+=(--partition="$partition")
cmd+=("$@" "$here/worker.sbatch")

if [ $dry_run -eq 1 ]; then
  echo "SWITCHYARD_COORDINATOR=$SWITCHYARD_COORDINATOR SWITCHYARD_BIN_DIR=$SWITCHYARD_BIN_DIR" \
    "${SWITCHYARD_TOKEN_FILE:+SWITCHYARD_TOKEN_FILE=$SWITCHYARD_TOKEN_FILE} ${cmd[*]}"
  exit 0
fi
job=$("${cmd[@]}")
echo "${job%%;*}"
