#!/usr/bin/env bash
# Writes the binary seeds of submit_sweep_fuzzer and worker_requests_fuzzer
# from the text-format messages below (protoc --encode), and the JSON seeds
# of job_config_fuzzer. Run it after changing the wire contract; commit what
# it writes. sweep_file_fuzzer's seeds are plain YAML files.
#   tests/fuzz/make_corpus.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS="$ROOT/tests/fuzz/corpus"
PROTO=switchyard/v1/switchyard.proto

encode() {  # encode MESSAGE OUT [PREFIX_BYTE]: text proto on stdin
  local message=$1 out=$2 prefix=${3:-}
  {
    if [ -n "$prefix" ]; then printf "\\x$prefix"; fi
    protoc --proto_path="$ROOT/proto" --encode="switchyard.v1.$message" "$PROTO"
  } >"$out"
}

S="$CORPUS/submit_sweep_fuzzer"
mkdir -p "$S"
encode SubmitSweepRequest "$S/quick" <<'P'
spec { name: "quick" priority: 1 max_attempts: 3
  axes { key: "model" values { string_value: "mlp" } values { string_value: "lstm" }
         values { string_value: "transformer" } values { string_value: "cisformer" } }
  axes { key: "attention" values { string_value: "softmax" } values { string_value: "expressive" } }
  axes { key: "tasks" values { string_value: "IARC" } values { string_value: "IA" } }
  axes { key: "seed" values { int_value: 1 } values { int_value: 2 } }
  axes { key: "epochs" values { int_value: 5 } }
  axes { key: "lr" values { float_value: 0.001 } values { float_value: 0.0003 } } }
P
encode SubmitSweepRequest "$S/dry_run_defaults" <<'P'
spec { name: "defaults" } dry_run: true
P
encode SubmitSweepRequest "$S/unknown_key" <<'P'
spec { axes { key: "modle" values { string_value: "mlp" } } }
P
encode SubmitSweepRequest "$S/empty_axis" <<'P'
spec { axes { key: "seed" } }
P
encode SubmitSweepRequest "$S/unset_value" <<'P'
spec { axes { key: "seed" values { } } }
P
encode SubmitSweepRequest "$S/wrong_kinds" <<'P'
spec { axes { key: "seed" values { float_value: 1.5 } }
       axes { key: "lr" values { string_value: "fast" } }
       axes { key: "model" values { int_value: 3 } } }
P
encode SubmitSweepRequest "$S/ranges" <<'P'
spec { priority: 2000 max_attempts: -1
       axes { key: "epochs" values { int_value: -5 } }
       axes { key: "lr" values { float_value: inf } } }
P
encode SubmitSweepRequest "$S/big_grid" <<'P'
spec { axes { key: "seed" values { int_value: 1 } values { int_value: 2 } values { int_value: 3 }
              values { int_value: 4 } values { int_value: 5 } values { int_value: 6 } }
       axes { key: "lr" values { float_value: 0.1 } values { float_value: 0.01 } values { float_value: 0.001 } }
       axes { key: "batch_size" values { int_value: 16 } values { int_value: 32 } }
       axes { key: "steps_per_epoch" values { int_value: 10 } values { int_value: 20 } } }
P
encode SubmitSweepRequest "$S/repeated" <<'P'
spec { axes { key: "seed" values { int_value: 1 } values { int_value: 1 } }
       axes { key: "seed" values { int_value: 2 } } }
P
encode SubmitSweepRequest "$S/unicode" <<'P'
spec { name: "\303\234bung \346\211\253\346\217\217" axes { key: "model" values { string_value: "\321\202\321\200" } } }
P

W="$CORPUS/worker_requests_fuzzer"
mkdir -p "$W"
encode RegisterWorkerRequest "$W/0_register" 00 <<'P'
name: "gpu-node-1" hostname: "node1" build_version: "0.1.0" trainer_version: "0.1.0"
cuda_version: "12.1"
devices { name: "cuda:0" kind: "cuda" memory_bytes: 85899345920 slots: 2 description: "H100" }
devices { name: "cpu" kind: "cpu" slots: 1 }
P
encode RegisterWorkerRequest "$W/0_register_bad" 00 <<'P'
name: "" devices { name: "" slots: -1 }
P
encode MetricBatch "$W/1_metrics" 01 <<'P'
attempt { attempt_id: 7 fencing_token: "0123456789abcdef0123456789abcdef" } seq: 3
points { name: "loss" step: 100 value: 0.5 wall_time: 1700000000 }
points { name: "accuracy" step: 100 value: 0.9 wall_time: 1700000000.5 }
P
encode MetricBatch "$W/1_metrics_bad" 01 <<'P'
attempt { attempt_id: -1 } seq: 0
points { name: "" step: -1 value: nan wall_time: -inf }
P
encode FinishJobRequest "$W/2_finish" 02 <<'P'
attempt { attempt_id: 7 fencing_token: "0123456789abcdef0123456789abcdef" }
outcome: ATTEMPT_OUTCOME_SUCCEEDED cause: "" summary_json: "{\"accuracy\":0.9}"
P
encode FinishJobRequest "$W/2_finish_unknown_outcome" 02 <<'P'
attempt { attempt_id: 7 fencing_token: "x" } outcome: 42
P
encode HeartbeatRequest "$W/3_heartbeat" 03 <<'P'
worker_id: 3 draining: false slots_busy: 2
attempts { attempt_id: 7 fencing_token: "0123456789abcdef0123456789abcdef" }
attempts { attempt_id: 8 fencing_token: "fedcba9876543210fedcba9876543210" }
P
encode CheckpointChunk "$W/4_checkpoint" 04 <<'P'
attempt { attempt_id: 7 fencing_token: "0123456789abcdef0123456789abcdef" } step: 300
total_bytes: 4 sha256: "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589" data: "abcd"
P
encode ListJobsRequest "$W/5_list_jobs" 05 <<'P'
sweep_id: 1 state: JOB_STATE_FAILED
P
encode RetrySweepRequest "$W/5_retry" 05 <<'P'
sweep_id: 1 states: JOB_STATE_FAILED states: JOB_STATE_LOST states: 99
P

J="$CORPUS/job_config_fuzzer"
mkdir -p "$J"
printf '{}' >"$J/empty"
printf '{"model":"transformer","attention":"expressive","tasks":"IARC","seed":1,"epochs":5,"lr":0.001}' >"$J/transformer"
printf '{"model":"mlp","seed":9007199254740992,"lr":1e-7,"batch_size":1}' >"$J/edges"
printf '{"model":"lstn","seed":"1","lr":null,"unknown":[1,2,{"a":{}}]}' >"$J/bad"
printf '[1, 2, 3]' >"$J/not_object"
printf '{"seed":1.5e300,"epochs":-1,"lr":1e999}' >"$J/ranges"
echo "make_corpus: wrote $(ls "$S" | wc -l) + $(ls "$W" | wc -l) + $(ls "$J" | wc -l) seeds"
