#!/usr/bin/env bash
# `switchyard submit --dry-run` and `switchyard-train --epochs 0`, the real
# binaries, accept the same one-cell sweeps and refuse the others with the
# same message. The trainer reads the cell as the worker hands it over: a
# JSON config file (--config). The 2,000-configuration property test
# (tests/worker/train/config_agreement_test.cc) runs the same two code paths
# in one process; this checks that the binaries add nothing of their own.
#   config_agreement_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/lib.sh"

# One case per line: the sweep file's keys, "; " between them.
CASES=(
  "model: transformer; attention: softmax; preset: small; width: 30"
  "model: transformer; preset: paper; heads: 3"
  "model: transformer; width: 30; heads: 4"
  "model: transformer; width: 32; heads: 4"
  "model: lstm; width: 30; heads: 7"
  "model: mlp; attention: softmax"
  "model: cisformer; preset: paper_matched"
  "model: cisformer; width: 1024; heads: 8"
  "model: mlp; preset: paper; context_length: 1000; d: 4096"
  "model: transformer; tasks: IX"
  "model: transformer; tasks: IA; d: 3"
  "model: lstm; switch_min: 9; switch_max: 3"
  "model: transformer; lr: 20"
  "model: transformer; layers: 0; width: 0"
  "model: mlp; preset: paper_matched; layers: 1"
)

# The message after "FILE:LINE:COL: " (dry run) or the trainer's prefixes.
strip_dry_run() { sed -n 's/^switchyard: [^:]*:[0-9]*:[0-9]*: //p; s/^switchyard: [^:]*\.yaml: //p' "$1" | head -1; }
strip_trainer() { sed -n 's/^switchyard-train: bad config: //p; s/^switchyard-train: --config [^:]*: //p' "$1" | head -1; }

i=0
for case in "${CASES[@]}"; do
  i=$((i + 1))
  yaml="$WORK/cell$i.yaml"
  { echo "name: cell$i"; echo "epochs: 0"; echo "$case" | tr ';' '\n' | sed 's/^ *//'; } >"$yaml"
  # The worker's config file: the same keys and values, as JSON, with the
  # one rewrite the grid makes (common/sweep/grid.h): a model that takes no
  # attention runs with attention none.
  python3 -c 'import json, sys, yaml
cell = yaml.safe_load(open(sys.argv[1])); del cell["name"]
if cell.get("model") in ("mlp", "lstm") and "attention" in cell: cell["attention"] = "none"
json.dump(cell, open(sys.argv[2], "w"))' "$yaml" "$WORK/cell$i.json"

  "$SWITCHYARD" submit --dry-run "$yaml" >"$WORK/dry$i.out" 2>"$WORK/dry$i.err"
  dry_rc=$?
  "$BIN_DIR/switchyard-train" --threads 1 --config "$WORK/cell$i.json" --epochs 0 \
    >"$WORK/train$i.out" 2>"$WORK/train$i.err"
  train_rc=$?

  if [ "$dry_rc" -eq 0 ] && [ "$train_rc" -eq 0 ]; then
    pass "[$case] accepted by both"
  elif [ "$dry_rc" -ne 0 ] && [ "$train_rc" -eq 2 ]; then
    dry_msg=$(strip_dry_run "$WORK/dry$i.err")
    train_msg=$(strip_trainer "$WORK/train$i.err")
    if [ -n "$dry_msg" ] && [ "$dry_msg" = "$train_msg" ]; then
      pass "[$case] refused by both: $dry_msg"
    else
      fail "[$case] different messages:
  dry run: $(cat "$WORK/dry$i.err")
  trainer: $(cat "$WORK/train$i.err")"
    fi
  else
    fail "[$case] dry run exit $dry_rc, trainer exit $train_rc
  dry run: $(cat "$WORK/dry$i.err")
  trainer: $(cat "$WORK/train$i.err")"
  fi
done
finish
