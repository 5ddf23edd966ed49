#!/usr/bin/python3
"""How fast can a paper training step of the transformer and the cisformer
be on this CPU? The floor that their dense products alone set, against the
PyTorch reference's step, measured in one run.

    flock /tmp/switchyard-bench.lock /usr/bin/python3 \
        bench/train_throughput/ceiling.py [--threads 2] [--rounds 2] \
        [--trainer build/bin/switchyard-train]

For each model and attention kind:
  - PyTorch: bench/reference/train_reference.py (one process per round, the
    rounds interleaved across cases), its median samples/s, its step time
    and the step time that 3x its speed allows (a third);
  - dense products: the matrix products of one training step, each timed
    alone through oneDNN's sgemm (what the fused C++ path calls) at its exact
    shape: per block the QKV (20 -> 60), output (20 -> 20) and feed-forward
    (20 -> 2,600 -> 20) maps, each as forward, input gradient and weight
    gradient, times 12 blocks; the cisformer's once per position on that
    position's B rows, the transformer's on all B x T tokens at once or in
    blocks of B rows, whichever oneDNN runs faster. Their
    sum is the step time if everything else (attention, LayerNorm, Adam, the
    loss, sampling) took no time and nothing were recomputed;
  - C++: the fused path of switchyard-train (--kernels fused, as
    train_throughput runs it: two epochs, the second one's samples/s), in
    the same rounds, and the part of its step that is not the dense
    products at oneDNN's rates ("the rest"), against the part the 3x budget
    leaves for it;
  - peak: the same floating-point operations at the rate oneDNN reaches on a
    large square product (2,048^3), the floor for a perfect hand-written
    kernel.
The last two columns are the largest speedup over PyTorch that each floor
leaves room for; the issue's target is 3.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import torch

import onednn_sgemm

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "reference", "train_reference.py")
CASES = [("transformer", "softmax"), ("transformer", "expressive"),
         ("cisformer", "softmax"), ("cisformer", "expressive")]
# worker/models/presets.cc, paper preset; IARC windows of Nc = 24.
LAYERS, WIDTH, FFN, BATCH, CONTEXT = 12, 20, 2600, 500, 24
MAPS = [(WIDTH, 3 * WIDTH), (WIDTH, WIDTH), (WIDTH, FFN), (FFN, WIDTH)]


def pytorch_samples_per_sec(model, attention, threads):
    done = subprocess.run(
        [sys.executable, REFERENCE, "--model", model, "--attention", attention,
         "--preset", "paper", "--threads", str(threads), "--warmup", "2", "--steps", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        sys.exit("ceiling: train_reference.py failed for %s/%s:\n%s"
                 % (model, attention, done.stderr[-2000:]))
    return json.loads(done.stdout.strip().splitlines()[-1])["samples_per_sec"]


def trainer_samples_per_sec(trainer, model, attention, threads):
    """The fused path's samples/s, as bench/train_throughput measures it."""
    done = subprocess.run(
        [trainer, "--model", model, "--attention", attention, "--kernels", "fused",
         "--preset", "paper", "--tasks", "IARC", "--epochs", "2", "--steps-per-epoch", "3",
         "--batch-size", str(BATCH), "--eval-windows", "1", "--checkpoint-every", "0",
         "--threads", str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        sys.exit("ceiling: %s failed for %s/%s:\n%s"
                 % (trainer, model, attention, done.stderr[-2000:]))
    for line in done.stdout.splitlines():
        record = json.loads(line)
        if record.get("epoch") == 2:
            return record["samples_per_sec"]
    sys.exit("ceiling: %s printed no second epoch for %s/%s" % (trainer, model, attention))


def products_ms(matmul, rows, iterations):
    """oneDNN time of one block's 12 products with `rows` token rows, and
    their floating-point operations."""
    total_ms, flop = 0.0, 0
    for fan_in, fan_out in MAPS:
        x = torch.randn(rows, fan_in)
        w = torch.randn(fan_in, fan_out)
        g = torch.randn(rows, fan_out)
        y, gx, gw = torch.empty(rows, fan_out), torch.empty(rows, fan_in), torch.empty(
            fan_in, fan_out)
        for a, b, c in ((x, w, y), (g, w.t(), gx), (x.t(), g, gw)):
            total_ms += onednn_sgemm.median_ms(lambda: matmul(a, b, c), iterations)
            flop += 2 * a.shape[0] * a.shape[1] * b.shape[1]
    return total_ms, flop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=7)
    parser.add_argument("--trainer", default=os.path.join(HERE, "..", "..", "build", "bin",
                                                          "switchyard-train"),
                        help="switchyard-train to time ('' leaves the C++ columns out)")
    args = parser.parse_args()
    if args.threads < 1 or args.rounds < 1 or args.iterations < 1:
        sys.exit("ceiling: --threads, --rounds and --iterations must be at least 1")
    torch.set_num_threads(args.threads)
    matmul = onednn_sgemm.load()

    side = 2048
    a, b, c = torch.randn(side, side), torch.randn(side, side), torch.empty(side, side)
    peak_gflops = 2 * side ** 3 / 1e9 / (
        onednn_sgemm.median_ms(lambda: matmul(a, b, c), args.iterations) / 1000)
    del a, b, c

    # One block's products. The cisformer's run on B rows, once per position.
    # The transformer's may run on all B x T rows at once or, as the fused
    # path does (chunks of 512 rows), on blocks of rows; oneDNN is faster on
    # blocks of B rows here, so the floor takes the faster of the two.
    whole_ms, whole_flop = products_ms(matmul, BATCH * CONTEXT, args.iterations)
    per_rows_ms, per_rows_flop = products_ms(matmul, BATCH, args.iterations)
    blocks = (per_rows_ms * CONTEXT, per_rows_flop * CONTEXT)
    block = {"transformer": min((whole_ms, whole_flop), blocks), "cisformer": blocks}

    if args.trainer and not os.access(args.trainer, os.X_OK):
        sys.exit("ceiling: %s is not an executable (build it, or pass --trainer '')"
                 % args.trainer)
    samples = {case: [] for case in CASES}
    fused = {case: [] for case in CASES}
    for round_index in range(args.rounds):
        order = CASES[round_index % len(CASES):] + CASES[:round_index % len(CASES)]
        for case in order:
            samples[case].append(pytorch_samples_per_sec(*case, args.threads))
            if args.trainer:
                fused[case].append(trainer_samples_per_sec(args.trainer, *case, args.threads))

    print("%d thread(s); oneDNN peak (2048^3 product) %.0f GFLOP/s; PyTorch: median of %d "
          "round(s); products: median of %d calls each; a block's 12 products on all "
          "%d x %d rows at once %.1f ms, on %d blocks of %d rows %.1f ms\n"
          % (args.threads, peak_gflops, args.rounds, args.iterations, BATCH, CONTEXT,
             whole_ms, CONTEXT, BATCH, blocks[0]))
    cpp = ["C++ fused samples/s", "C++ step, ms", "C++ rest, ms",
           "rest the 3x budget allows, ms"] if args.trainer else []
    head = (["model", "attention", "PyTorch samples/s", "PyTorch step, ms", "3x budget, ms",
             "dense products at oneDNN's rates, ms", "same FLOPs at peak, ms"] + cpp +
            ["most over PyTorch: oneDNN products", "most over PyTorch: peak"])
    print("| " + " | ".join(head) + " |")
    print("| --- | --- |" + " ---: |" * (len(head) - 2))
    for case in CASES:
        per_sec = statistics.median(samples[case])
        step_ms = BATCH / per_sec * 1000
        block_ms, block_flop = block[case[0]]
        floor_ms = block_ms * LAYERS
        peak_ms = block_flop * LAYERS / 1e9 / peak_gflops * 1000
        cells = list(case) + ["%.0f" % per_sec] + ["%.0f" % v for v in (
            step_ms, step_ms / 3, floor_ms, peak_ms)]
        if args.trainer:
            fused_per_sec = statistics.median(fused[case])
            fused_ms = BATCH / fused_per_sec * 1000
            cells += ["%.0f" % fused_per_sec] + ["%.0f" % v for v in (
                fused_ms, fused_ms - floor_ms, step_ms / 3 - floor_ms)]
        cells += ["%.2fx" % (step_ms / floor_ms), "%.2fx" % (step_ms / peak_ms)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
