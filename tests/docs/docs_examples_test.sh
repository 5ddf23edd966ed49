#!/usr/bin/env bash
# The runnable examples of docs/cli.md and docs/results-schema.md, run as the
# pages spell them against a real coordinator and worker: the CLI's quick
# tour submits and follows a small sweep (tests/e2e/cli/tiny.yaml in place of
# examples/quick.yaml), a second sweep fails on purpose, and then every
# sqlite3 query and the pandas snippet must return rows from that database.
# run_doc_examples.py says how a page marks its examples.
#   docs_examples_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/../e2e/cli/lib.sh"

start_coordinator
start_worker

# Failed jobs, for the page's "why jobs failed" query.
submit_and_watch "$SOURCE_DIR/tests/e2e/cli/failing.yaml" 4

mkdir -p "$WORK/examples"
"$PYTHON3" "$SOURCE_DIR/tests/docs/run_doc_examples.py" --bin "$BIN_DIR" \
  --data-dir "$DATA_DIR" --coordinator "$COORD_ADDR" \
  --sweep-file "$SOURCE_DIR/tests/e2e/cli/tiny.yaml" --work "$WORK/examples" \
  "$SOURCE_DIR/docs/cli.md" "$SOURCE_DIR/docs/results-schema.md" ||
  fail "a documented example failed or returned no rows (see above)"

finish
