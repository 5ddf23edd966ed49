#!/usr/bin/python3
"""PyTorch reference for bench/train_throughput: the models of worker/models
rebuilt in Python, trained with the same step (forward, cross-entropy over
number targets with ignore_index -1, backward, Adam) at the same batch size
and thread count. Prints one JSON line: model, attention, parameters,
samples_per_sec (timed steps only, after warm-up).

Differences from the C++ trainer, on purpose: the windows are random token
ids of the right shape (the IARC generator is C++ only); sampling them costs
far less than a step. Run with Debian's python3-torch (1.13.1):
    /usr/bin/python3 bench/reference/train_reference.py --model transformer \
        --attention expressive --preset paper --threads 2
"""
import argparse
import ctypes
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

# worker/models/presets.cc: (layers, width, heads, ffn_width, input_width)
PRESETS = {
    ("paper", "mlp"): (16, 340, 0, 0, 0),
    ("paper", "lstm"): (2, 550, 0, 0, 20),
    ("paper", "transformer"): (12, 20, 4, 2600, 0),
    ("paper", "cisformer"): (12, 20, 4, 2600, 0),
    ("small", "mlp"): (3, 64, 0, 0, 0),
    ("small", "lstm"): (2, 64, 0, 0, 20),
    ("small", "transformer"): (2, 32, 4, 64, 0),
    ("small", "cisformer"): (2, 32, 4, 64, 0),
}
EXPRESSIVE_EPS = 1e-6


def alibi_slopes(heads):
    def power_of_two(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]
    p = 1
    while p * 2 <= heads:
        p *= 2
    slopes = power_of_two(p)
    if p < heads:
        slopes += power_of_two(2 * p)[0::2][: heads - p]
    return slopes


def uniform(shape, fan_in):
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class InputLookup(nn.Module):
    def __init__(self, vocab, width):
        super().__init__()
        self.weight = uniform((vocab, width), vocab)
        self.bias = uniform((width,), vocab)

    def forward(self, ids):
        return F.embedding(ids, self.weight) + self.bias


class Mlp(nn.Module):
    def __init__(self, vocab, numbers, context, layers, width):
        super().__init__()
        self.vocab, self.window = vocab, context
        self.input_weight = uniform((context * vocab, width), context * vocab)
        self.input_bias = uniform((width,), context * vocab)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(layers - 1))
        self.head = nn.Linear(width, numbers)

    def forward(self, ids):
        b, t = ids.shape
        w = self.window
        windows = F.pad(ids, (w - 1, 0), value=-1).unfold(1, w, 1)  # [B, T, w]
        lag_base = (w - 1 - torch.arange(w)) * self.vocab
        present = windows.ge(0)
        rows = windows.clamp_min(0) + lag_base
        x = F.embedding_bag(rows.reshape(b * t, w), self.input_weight, mode="sum",
                            per_sample_weights=present.reshape(b * t, w).float())
        x = torch.relu(x + self.input_bias)
        for layer in self.hidden:
            x = x + torch.relu(layer(x))
        return self.head(x).view(b, t, -1)


class Lstm(nn.Module):
    def __init__(self, vocab, numbers, layers, width, input_width):
        super().__init__()
        self.input = InputLookup(vocab, input_width)
        self.lstm = nn.LSTM(input_width, width, layers, batch_first=True)
        self.head = nn.Linear(width, numbers)

    def forward(self, ids):
        return self.head(self.lstm(self.input(ids))[0])


class PositionwiseLinear(nn.Module):
    def __init__(self, positions, fan_in, fan_out):
        super().__init__()
        self.weight = uniform((positions, fan_in, fan_out), fan_in)
        self.bias = uniform((positions, fan_out), fan_in)

    def forward(self, x):  # [B, T, in] -> [B, T, out]
        t = x.shape[1]
        return torch.baddbmm(self.bias[:t].unsqueeze(1), x.transpose(0, 1),
                             self.weight[:t]).transpose(0, 1)


class Block(nn.Module):
    def __init__(self, width, heads, ffn, attention, make_map):
        super().__init__()
        self.heads, self.attention = heads, attention
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = make_map(width, 3 * width), make_map(width, width)
        self.ffn1, self.ffn2 = make_map(width, ffn), make_map(ffn, width)

    def forward(self, x, prior):
        b, t, w = x.shape
        q, k, v = (y.reshape(b, t, self.heads, w // self.heads).transpose(1, 2)
                   for y in self.qkv(self.norm1(x)).chunk(3, -1))
        z = q @ k.transpose(-2, -1) / math.sqrt(w // self.heads)
        if self.attention == "expressive":
            z2 = z * z
            a = z2 / (z2 + 1.0) * prior
            a = a / (a.sum(-1, keepdim=True) + EXPRESSIVE_EPS)
        else:
            a = torch.softmax(z + prior, -1)
        y = (a @ v).transpose(1, 2).reshape(b, t, w)
        x = x + self.out(y)
        return x + self.ffn2(torch.relu(self.ffn1(self.norm2(x))))


class Transformer(nn.Module):
    def __init__(self, vocab, numbers, context, layers, width, heads, ffn,
                 attention, per_position):
        super().__init__()
        if per_position:
            make_map = lambda i, o: PositionwiseLinear(context, i, o)
        else:
            make_map = nn.Linear
        self.attention = attention
        self.input = InputLookup(vocab, width)
        self.blocks = nn.ModuleList(Block(width, heads, ffn, attention, make_map)
                                    for _ in range(layers))
        self.final_norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, numbers)
        self.register_buffer("slopes", torch.tensor(alibi_slopes(heads)))

    def prior(self, t):
        pos = torch.arange(t, dtype=torch.float32)
        distance = pos.unsqueeze(1) - pos.unsqueeze(0)
        causal = distance.ge(0)
        bias = -self.slopes.view(-1, 1, 1) * distance.clamp_min(0)
        if self.attention == "expressive":
            return bias.exp() * causal
        return bias.masked_fill(~causal, float("-inf"))

    def forward(self, ids):
        x = self.input(ids)
        prior = self.prior(ids.shape[1])
        for block in self.blocks:
            x = block(x, prior)
        return self.head(self.final_norm(x))


def build(model, attention, preset, vocab, numbers, context):
    layers, width, heads, ffn, input_width = PRESETS[(preset, model)]
    if model == "mlp":
        return Mlp(vocab, numbers, context, layers, width)
    if model == "lstm":
        return Lstm(vocab, numbers, layers, width, input_width)
    return Transformer(vocab, numbers, context, layers, width, heads, ffn,
                       attention, model == "cisformer")


def keep_freed_memory():
    """As switchyard-train does (KeepFreedMemory in worker/train/trainer.h):
    glibc's malloc keeps freed memory instead of unmapping it, so large
    activations are not faulted in again every step."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True,
                        choices=["mlp", "lstm", "transformer", "cisformer"])
    parser.add_argument("--attention", default="softmax")
    parser.add_argument("--preset", default="paper", choices=["paper", "small"])
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--numbers", type=int, default=16)  # IARC: 20 - 4
    parser.add_argument("--context-length", type=int, default=24)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    keep_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(args.model, args.attention, args.preset, args.d, args.numbers,
                  args.context_length)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    shape = (args.batch_size, args.context_length)

    def step():
        ids = torch.randint(args.d, shape)
        targets = torch.randint(args.numbers, shape)
        targets[ids >= args.numbers] = -1  # about the share of control targets
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, args.numbers), targets.reshape(-1),
                               ignore_index=-1)
        value = loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return value

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({
        "model": args.model,
        "attention": args.attention if args.model in ("transformer", "cisformer") else "none",
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "samples_per_sec": args.steps * args.batch_size / seconds,
    }), flush=True)


if __name__ == "__main__":
    main()
