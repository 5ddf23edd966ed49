#!/usr/bin/python3
"""The paper models' matrix products: OpenBLAS (torch.mm in Debian's
LibTorch) against oneDNN's sgemm (libdnnl.so.2, which LibTorch links; what
worker/models/cpu_gemm.h calls), in the same process on the same buffers.

    flock /tmp/switchyard-bench.lock /usr/bin/python3 \
        bench/train_throughput/gemm_shapes.py [--threads 2] [--iterations 9]

Prints GFLOP/s of each, the median of --iterations calls after one warm-up,
and the ratio. The shapes are those of a paper step (batch 500 x 24 tokens):
the feed-forward block (20 <-> 2,600) in its six products, the QKV map
(20 -> 60), an MLP hidden layer (340 -> 340) and the LSTM's recurrent
product (550 -> 2,200).
"""
import argparse

import torch

import onednn_sgemm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    onednn = onednn_sgemm.load()

    def median_ms(fn):
        return onednn_sgemm.median_ms(fn, args.iterations)

    tokens, width, hidden = 12000, 20, 2600
    x = torch.randn(tokens, width)
    h = torch.randn(tokens, hidden)
    w1 = torch.randn(width, hidden)
    w2 = torch.randn(hidden, width)
    gy = torch.randn(tokens, width)
    cases = [
        ("ffn forward x W1 (K = 20)", x, w1),
        ("ffn forward h W2 (N = 20)", h, w2),
        ("ffn backward gy W2^T", gy, w2.t()),
        ("ffn backward h^T gy (dW2)", h.t(), gy),
        ("ffn backward x^T dh (dW1)", x.t(), h),
        ("ffn backward dh W1^T", h, w1.t()),
        ("qkv x Wqkv (20 -> 60)", x, torch.randn(width, 60)),
        ("mlp hidden (340 -> 340)", torch.randn(tokens, 340), torch.randn(340, 340)),
        ("lstm recurrent (550 -> 2200)", torch.randn(500, 550), torch.randn(550, 2200)),
    ]
    print(f"{args.threads} thread(s), median of {args.iterations} calls\n")
    print("| product | m x k x n | OpenBLAS GFLOP/s | oneDNN GFLOP/s | oneDNN / OpenBLAS |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, a, b in cases:
        c = torch.empty(a.shape[0], b.shape[1])
        gflop = 2 * a.shape[0] * a.shape[1] * b.shape[1] / 1e9
        blas = median_ms(lambda: torch.mm(a, b, out=c))
        expected = torch.mm(a, b)
        one = median_ms(lambda: onednn(a, b, c))
        assert torch.allclose(c, expected, rtol=1e-3, atol=1e-2), name
        print(f"| {name} | {a.shape[0]} x {a.shape[1]} x {b.shape[1]} | "
              f"{gflop / blas * 1000:.0f} | {gflop / one * 1000:.0f} | {blas / one:.2f} |")


if __name__ == "__main__":
    main()
