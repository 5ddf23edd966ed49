#!/usr/bin/python3
"""own-trainer: a user's own training program for Switchyard.

It speaks the trainer protocol (docs/trainer-protocol.md) through the
standard-library helper python/switchyard_trainer.py, and trains a small
recurrent or state-space model on IARC windows (../shared/specs/iarc.md,
docs/iarc.md) that it generates itself with a Python port of the project's
generator (common/tasks/iarc.cc, rng.cc): the same seed gives the same
windows, token for token, as the built-in switchyard-train.

The worker runs it as

    train.py --config FILE --checkpoint-dir DIR [--resume] --threads N --device cpu|cuda:0

and it also answers --probe and --version, which the worker asks at start-up.
See README.md beside this file for the job config it reads and how to run it.
"""

import math
import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.environ.get("SWITCHYARD_PYTHON_PATH") or os.path.join(
    os.path.dirname(os.path.realpath(__file__)), "..", "..", "python"))

import switchyard_trainer as sy  # noqa: E402  (installs the SIGTERM handler)

VERSION = "own-trainer 1"

# ---------------------------------------------------------------------------
# The IARC task: a port of common/tasks/rng.cc and common/tasks/iarc.cc.

_M64 = 0xFFFFFFFFFFFFFFFF
_M32 = 0xFFFFFFFF


class Rng(object):
    """xoshiro256** seeded by splitmix64, Uniform(n) by Lemire's method:
    the definition of common/tasks/rng.h, output for output."""

    __slots__ = ("s",)

    def __init__(self, seed):
        x = seed & _M64
        words = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & _M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
            words.append(z ^ (z >> 31))
        self.s = words

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        r = (s1 * 5) & _M64
        result = ((((r << 7) | (r >> 57)) & _M64) * 9) & _M64
        t = (s1 << 17) & _M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & _M64
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self, n):
        if n <= 1:
            return 0
        m = (self.next_u64() >> 32) * n
        low = m & _M32
        if low < n:
            threshold = ((1 << 32) - n) % n
            while low < threshold:
                m = (self.next_u64() >> 32) * n
                low = m & _M32
        return m >> 32

    def save_state(self):
        return "xoshiro256ss:" + ":".join("%016x" % w for w in self.s)

    def load_state(self, state):
        prefix = "xoshiro256ss:"
        if not isinstance(state, str) or not state.startswith(prefix):
            return False
        parts = state[len(prefix):].split(":")
        if len(parts) != 4 or any(len(p) != 16 for p in parts):
            return False
        try:
            words = [int(p, 16) for p in parts]
        except ValueError:
            return False
        if not any(words):
            return False
        self.s = words
        return True


# Rules (common/tasks/iarc.h): the rule that wrote a target.
RULE_NONE, RULE_I, RULE_A, RULE_R, RULE_C = 0, 1, 2, 3, 4
_MAX_OPTION = 1 << 24


class IarcOptions(object):
    """IarcOptions of common/tasks/iarc.h, with its defaults."""

    def __init__(self, tasks="IARC", d=20, switch_min=3, switch_max=9, context_length=24,
                 burn_in=-1, c_mode="per_token", layout="separate",
                 first_control_without_c=True):
        self.tasks = tasks
        self.d = d
        self.switch_min = switch_min
        self.switch_max = switch_max
        self.context_length = context_length
        self.burn_in = burn_in
        self.c_mode = c_mode
        self.layout = layout
        self.first_control_without_c = first_control_without_c

    def numbers(self):
        return self.d - len(self.tasks)


def validate_options(o):
    """"" or one message naming the option, in ValidateOptions' order and words."""
    allowed = "allowed: a non-empty subset of IARC in that order"
    if not o.tasks:
        return "tasks: '' is empty; " + allowed
    for c in o.tasks:
        if c not in "IARC":
            return "tasks: '%s' has an unknown letter '%s'; %s" % (o.tasks, c, allowed)
    seen = set()
    for c in o.tasks:
        if c in seen:
            return "tasks: '%s' repeats the letter '%s'; %s" % (o.tasks, c, allowed)
        seen.add(c)
    canonical = "".join(c for c in "IARC" if c in seen)
    if canonical != o.tasks:
        return "tasks: '%s' is not in canonical order; write '%s' (%s)" % (
            o.tasks, canonical, allowed)
    if not seen & set("IAR"):
        return "tasks: '%s' must contain one of I, A, R" % o.tasks
    if o.d > _MAX_OPTION:
        return "d: %d must be at most %d" % (o.d, _MAX_OPTION)
    if o.numbers() < 2:
        return ("d: %d leaves N = %d number tokens for tasks '%s'; d must be at least "
                "|tasks| + 2 = %d" % (o.d, o.numbers(), o.tasks, len(o.tasks) + 2))
    if o.switch_min < 2:
        return ("switch_min: %d must be at least 2 (a distance of 1 would put two control "
                "tokens side by side)" % o.switch_min)
    if o.switch_max < o.switch_min:
        return "switch_max: %d is less than switch_min %d" % (o.switch_max, o.switch_min)
    if o.switch_max > _MAX_OPTION:
        return "switch_max: %d must be at most %d" % (o.switch_max, _MAX_OPTION)
    if o.context_length < 1 or o.context_length > _MAX_OPTION:
        return "context_length: %d must be in 1..%d" % (o.context_length, _MAX_OPTION)
    if o.burn_in < -1 or o.burn_in > _MAX_OPTION:
        return "burn_in: %d must be -1 (the safe default) or in 0..%d" % (o.burn_in, _MAX_OPTION)
    if o.c_mode not in ("per_token", "per_step"):
        return "c_mode: '%s' is not a C mode; allowed: per_token, per_step" % o.c_mode
    if o.layout not in ("separate", "attached"):
        return "layout: '%s' is not a layout; allowed: separate, attached" % o.layout
    return ""


def burn_in(o):
    """BurnIn(): burn_in when >= 0, else the safe default (18 for 3..9)."""
    if o.burn_in >= 0:
        return o.burn_in
    smin, smax = max(o.switch_min, 2), o.switch_max
    safe = 2 * smax - 2 + (smax - 4) // (smin - 1) if smax >= 4 else 0
    return max(2 * smax, safe)


class RuleEngine(object):
    """The deterministic rules of a stream (RuleEngine in iarc.h)."""

    def __init__(self, n, c_mode, first_task):
        self.n = n
        self.per_step = c_mode == "per_step"
        self.first_task = first_task
        self.task = first_task
        self.k = 1
        self.k_raised = False
        self.k_growing = False
        self.reverse_next = -1
        self.history = []

    def seed(self, a, b):
        self.history = [a, b]
        self.task = self.first_task
        self.k = 1
        self.k_raised = False
        self.k_growing = False
        self.reverse_next = 1  # a first C on an R task copies the seeds back

    def control(self, letter):
        last = len(self.history) - 1
        if letter in ("I", "A"):
            self.task = letter
            self.k = 1
            self.k_raised = False
            self.k_growing = False
        elif letter == "R":
            self.task = "R"
            self.reverse_next = last
        elif letter == "C":
            if self.task == "I":
                self.k = (self.k + 1) % self.n
                self.k_raised = True
                if self.per_step:
                    self.k_growing = True
            elif self.task == "R":
                self.reverse_next = last
            # On A a C is another A: nothing changes.

    def next_number(self, rng):
        """(number, rule); draws from rng only where a reverse copy runs past
        the first number."""
        h = self.history
        if self.task == "I":
            value = (h[-1] + self.k) % self.n
            rule = RULE_C if self.k_raised else RULE_I
            if self.k_growing:
                self.k = (self.k + 1) % self.n
        elif self.task == "A":
            value = (h[-1] + h[-2]) % self.n
            rule = RULE_A
        else:
            if self.reverse_next >= 0:
                value = h[self.reverse_next]
                self.reverse_next -= 1
            else:
                value = rng.uniform(self.n)
            rule = RULE_R
        h.append(value)
        return value, rule


class StreamGenerator(object):
    """One stream from its start (StreamGenerator in iarc.h). next() returns
    a token (is_control, letter, number, rule, id)."""

    def __init__(self, o, rng):
        self.rng = rng
        self.n = o.numbers()
        self.switch_min = o.switch_min
        self.switch_span = o.switch_max - o.switch_min + 1
        self.first_without_c = o.first_control_without_c and o.tasks[-1] == "C"
        self.letters = o.tasks
        self.engine = RuleEngine(self.n, o.c_mode, o.tasks[0])
        self.produced = 0
        self.second_seed = 0
        self.until_control = 0

    def next(self):
        index = self.produced
        self.produced += 1
        if index == 0:
            a = self.rng.uniform(self.n)
            self.second_seed = self.rng.uniform(self.n)
            self.engine.seed(a, self.second_seed)
            return (False, "", a, RULE_NONE, a)
        if index == 1:
            return (False, "", self.second_seed, RULE_NONE, self.second_seed)
        if self.until_control == 0:
            choices = len(self.letters)
            if index == 2 and self.first_without_c:
                choices -= 1  # C is last in canonical order
            letter_index = self.rng.uniform(choices)
            distance = self.switch_min + self.rng.uniform(self.switch_span)
            self.until_control = distance - 1
            letter = self.letters[letter_index]
            self.engine.control(letter)
            return (True, letter, 0, RULE_NONE, self.n + letter_index)
        self.until_control -= 1
        number, rule = self.engine.next_number(self.rng)
        return (False, "", number, rule, number)


def format_stream(o, seed, length):
    """FormatStream(): the first `length` tokens of the stream of Rng(seed)."""
    stream = StreamGenerator(o, Rng(seed))
    out = []
    for _ in range(max(length, 0)):
        tok = stream.next()
        out.append(tok[1] if tok[0] else str(tok[2]))
    return " ".join(out)


class WindowSampler(object):
    """WindowSampler(options, seed): one fresh stream per window, its seed the
    sampler's next NextU64(). The whole state is the Rng."""

    def __init__(self, o, seed):
        self.o = o
        self.rng = Rng(seed)
        self.burn_in = burn_in(o)

    def sample(self, batch):
        """(input_ids, control_ids or None, targets, rules): flat lists of
        batch * context_length, row-major; a masked target is -1."""
        o, length = self.o, self.o.context_length
        attached = o.layout == "attached"
        inputs, controls, targets, rules = [], [] if attached else None, [], []
        for _ in range(batch):
            stream = StreamGenerator(o, Rng(self.rng.next_u64()))
            last_skipped = (False, "", 0, RULE_NONE, 0)
            for _ in range(self.burn_in):
                last_skipped = stream.next()
            if not attached:
                previous = stream.next()
                for _ in range(length):
                    nxt = stream.next()
                    inputs.append(previous[4])
                    if nxt[0]:
                        targets.append(-1)
                        rules.append(RULE_NONE)
                    else:
                        targets.append(nxt[2])
                        rules.append(nxt[3])
                    previous = nxt
                continue
            carried = last_skipped[4] if self.burn_in > 0 and last_skipped[0] else -1
            previous = stream.next()
            if previous[0]:
                carried = previous[4]
                previous = stream.next()
            for _ in range(length):
                nxt = stream.next()
                next_carried = -1
                if nxt[0]:
                    next_carried = nxt[4]
                    nxt = stream.next()
                inputs.append(previous[4])
                controls.append(carried)
                targets.append(nxt[2])
                rules.append(nxt[3])
                previous = nxt
                carried = next_carried
        return inputs, controls, targets, rules

    def save_state(self):
        return self.rng.save_state()

    def load_state(self, state):
        return self.rng.load_state(state)


# ---------------------------------------------------------------------------
# The job config.

class BadConfig(Exception):
    """A config key or parameter the program refuses: exit 2."""


_MAX_SAFE_INT = (1 << 53) - 1
MODELS = ("lstm", "ssm")
# The program's own parameters ("params" in the job config): name, default.
PARAMS = {"model": "lstm", "hidden": 32, "layers": 1, "state": 8}


def _integer(where, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadConfig("%s: %s is not an integer" % (where, _show(value)))
    if isinstance(value, float):
        if not math.isfinite(value) or value != math.floor(value):
            raise BadConfig("%s: %s is not an integer" % (where, _show(value)))
        value = int(value)
    return value


def _show(value):
    return "'%s'" % value if isinstance(value, str) else repr(value)


def _int_key(cfg, key, default, lo, hi):
    value = _integer(key, cfg.get(key, default))
    if value < lo or value > hi:
        raise BadConfig("%s: %d must be in %d..%d" % (key, value, lo, hi))
    return value


def _float_key(cfg, key, default, lo, hi):
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadConfig("%s: %s is not a number" % (key, _show(value)))
    if value < lo or value > hi:
        raise BadConfig("%s: %r must be in %g..%g" % (key, value, lo, hi))
    return float(value)


def _str_key(cfg, key, default, choices=None):
    value = cfg.get(key, default)
    if not isinstance(value, str):
        raise BadConfig("%s: %s is not a string" % (key, _show(value)))
    if choices is not None and value not in choices:
        raise BadConfig("%s: unknown value '%s'; known: %s" % (key, value, ", ".join(choices)))
    return value


class Settings(object):
    """What the job config asks for, checked. Defaults are the built-in
    trainer's (common/config/job_config.cc), except checkpoint_every = 0,
    which here means: only at the end and on a stop."""

    def __init__(self, cfg):
        if "task" in cfg and cfg["task"] != "iarc":
            raise BadConfig("task: %s is not a task this program trains; known: iarc"
                            % _show(cfg["task"]))
        self.seed = _int_key(cfg, "seed", 0, 0, _MAX_SAFE_INT)
        self.epochs = _int_key(cfg, "epochs", 10, 0, 1000000)
        self.steps_per_epoch = _int_key(cfg, "steps_per_epoch", 100, 1, 10000000)
        self.batch_size = _int_key(cfg, "batch_size", 500, 1, 1000000)
        self.lr = _float_key(cfg, "lr", 1e-3, 1e-7, 10.0)
        self.eval_windows = _int_key(cfg, "eval_windows", 10000, 1, 10000000)
        self.eval_seed = _int_key(cfg, "eval_seed", 1000003, 0, _MAX_SAFE_INT)
        self.checkpoint_every = _int_key(cfg, "checkpoint_every", 100, 0, 1000000000)
        self.debug_nan_at_step = _int_key(cfg, "debug_nan_at_step", -1, -1, 1000000000)
        self.task = IarcOptions(
            tasks=_str_key(cfg, "tasks", "IARC"),
            d=_int_key(cfg, "d", 20, 3, 4096),
            switch_min=_int_key(cfg, "switch_min", 3, 2, 100000),
            switch_max=_int_key(cfg, "switch_max", 9, 2, 100000),
            context_length=_int_key(cfg, "context_length", 24, 1, 100000),
            burn_in=_int_key(cfg, "burn_in", -1, -1, 10000000),
            c_mode=_str_key(cfg, "c_mode", "per_token", ("per_token", "per_step")),
            layout=_str_key(cfg, "layout", "separate", ("separate", "attached")),
            first_control_without_c=_int_key(cfg, "first_control_without_c", 1, 0, 1) != 0)
        problem = validate_options(self.task)
        if problem:
            raise BadConfig(problem)
        program = cfg.get("program", "own-trainer")
        self.program = program if isinstance(program, str) else "own-trainer"

        params = cfg.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise BadConfig("params: %s is not an object" % _show(params))
        for key in sorted(params):
            if key not in PARAMS:
                raise BadConfig("params.%s: unknown parameter; known: %s"
                                % (key, ", ".join(sorted(PARAMS))))
        model = params.get("model", PARAMS["model"])
        if model not in MODELS:
            raise BadConfig("params.model: unknown value %s; known: %s"
                            % (_show(model), ", ".join(MODELS)))
        self.model = model
        self.hidden = _integer("params.hidden", params.get("hidden", PARAMS["hidden"]))
        if self.hidden <= 0 or self.hidden > 4096:
            raise BadConfig("params.hidden: %d must be in 1..4096" % self.hidden)
        self.layers = _integer("params.layers", params.get("layers", PARAMS["layers"]))
        if self.layers <= 0 or self.layers > 64:
            raise BadConfig("params.layers: %d must be in 1..64" % self.layers)
        self.state = _integer("params.state", params.get("state", PARAMS["state"]))
        if self.state <= 0 or self.state > 256:
            raise BadConfig("params.state: %d must be in 1..256" % self.state)


# ---------------------------------------------------------------------------
# The models (torch is imported only once the config is known to be good).

def define_models(torch):
    nn = torch.nn
    F = torch.nn.functional

    class InputLookup(nn.Module):
        """One-hot (two-hot in the attached layout) times a matrix, as a table."""

        def __init__(self, d, width):
            super().__init__()
            self.table = nn.Embedding(d, width)

        def forward(self, ids, control_ids):
            x = self.table(ids)
            if control_ids is not None:
                has = (control_ids >= 0).unsqueeze(-1).to(x.dtype)
                x = x + self.table(control_ids.clamp(min=0)) * has
            return x

    class LstmModel(nn.Module):
        """Input lookup, a stacked torch.nn.LSTM, a read-out at every step."""

        def __init__(self, s):
            super().__init__()
            self.input = InputLookup(s.task.d, s.hidden)
            self.lstm = nn.LSTM(s.hidden, s.hidden, num_layers=s.layers, batch_first=True)
            self.head = nn.Linear(s.hidden, s.task.numbers())

        def forward(self, ids, control_ids=None):
            h, _ = self.lstm(self.input(ids, control_ids))
            return self.head(h)

    class SelectiveSsmBlock(nn.Module):
        """A Mamba-style block: pre-norm, input and gate projections, a short
        causal depthwise convolution, a diagonal state-space layer whose step
        size and B, C maps depend on the input (selective), a SiLU gate, an
        output projection and a residual. The scan is sequential over time."""

        def __init__(self, width, state, expand=2, conv=4):
            super().__init__()
            inner = expand * width
            self.dt_rank = max(1, (width + 15) // 16)
            self.state = state
            self.norm = nn.LayerNorm(width)
            self.in_proj = nn.Linear(width, 2 * inner)
            self.conv = nn.Conv1d(inner, inner, conv, groups=inner, padding=conv - 1)
            self.x_proj = nn.Linear(inner, self.dt_rank + 2 * state, bias=False)
            self.dt_proj = nn.Linear(self.dt_rank, inner)
            # Step sizes start log-uniform in [1e-3, 1e-1] (as in Mamba).
            dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            with torch.no_grad():
                self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1
            a = torch.arange(1, state + 1, dtype=torch.float32).repeat(inner, 1)
            self.a_log = nn.Parameter(torch.log(a))          # A = -exp(a_log): [inner, state]
            self.skip = nn.Parameter(torch.ones(inner))      # D
            self.out_proj = nn.Linear(inner, width)

        def forward(self, x):                                # [B, T, width]
            steps = x.shape[1]
            u, z = self.in_proj(self.norm(x)).chunk(2, dim=-1)
            u = F.silu(self.conv(u.transpose(1, 2))[..., :steps].transpose(1, 2))
            dt, b, c = self.x_proj(u).split([self.dt_rank, self.state, self.state], dim=-1)
            dt = F.softplus(self.dt_proj(dt))                # [B, T, inner]
            a = -torch.exp(self.a_log)
            decay = torch.exp(dt.unsqueeze(-1) * a)          # [B, T, inner, state]
            drive = (dt * u).unsqueeze(-1) * b.unsqueeze(2)  # [B, T, inner, state]
            h = torch.zeros_like(decay[:, 0])
            ys = []
            for t in range(steps):
                h = decay[:, t] * h + drive[:, t]
                ys.append((h * c[:, t].unsqueeze(1)).sum(-1))
            y = torch.stack(ys, dim=1) + u * self.skip
            return x + self.out_proj(y * F.silu(z))

    class SsmModel(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.input = InputLookup(s.task.d, s.hidden)
            self.blocks = nn.ModuleList(
                [SelectiveSsmBlock(s.hidden, s.state) for _ in range(s.layers)])
            self.norm = nn.LayerNorm(s.hidden)
            self.head = nn.Linear(s.hidden, s.task.numbers())

        def forward(self, ids, control_ids=None):
            h = self.input(ids, control_ids)
            for block in self.blocks:
                h = block(h)
            return self.head(self.norm(h))

    return {"lstm": LstmModel, "ssm": SsmModel}


# ---------------------------------------------------------------------------
# Training.

EVAL_CHUNK = 500  # held-out windows per forward pass (independent of batch_size)
KEEP_CHECKPOINTS = 2
CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)\.pt$")
SPLITS = (("accuracy_I", RULE_I), ("accuracy_A", RULE_A), ("accuracy_R", RULE_R),
          ("accuracy_C", RULE_C))


def say(text):
    sys.stderr.write("own-trainer: %s\n" % text)
    sys.stderr.flush()


def _fraction(hits, count):
    return hits / count if count else None


def _short(value):
    return "-" if value is None else "%.4f" % value


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


class Job(object):

    def __init__(self, torch, settings, cfg, device):
        self.torch = torch
        self.s = settings
        self.device = device
        self.cfg_key = {k: v for k, v in cfg.items() if k != "epochs"}
        torch.manual_seed(settings.seed)
        self.model = define_models(torch)[settings.model](settings).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self.sampler = WindowSampler(settings.task, settings.seed)
        self.step = 0
        self.epoch_steps = 0      # steps done in the current epoch
        self.epoch_loss = 0.0     # sum of their training losses
        self.final = None         # the last epoch's evaluation metrics
        self.saved_step = None    # the step of the newest checkpoint written or loaded
        self.saved_path = None
        self.announced = False    # saved_step's checkpoint was announced by this process
        self.eval_set = None

    def tensors(self, batch):
        torch = self.torch
        inputs, controls, targets, rules = batch
        shape = (len(inputs) // self.s.task.context_length, self.s.task.context_length)
        ids = torch.tensor(inputs, dtype=torch.long).view(shape).to(self.device)
        ctrl = (torch.tensor(controls, dtype=torch.long).view(shape).to(self.device)
                if controls is not None else None)
        tgt = torch.tensor(targets, dtype=torch.long).view(shape).to(self.device)
        rul = torch.tensor(rules, dtype=torch.uint8).view(shape).to(self.device)
        return ids, ctrl, tgt, rul

    # -- checkpoints ---------------------------------------------------------

    def state(self):
        torch = self.torch
        return {
            "format": VERSION,
            "config": self.cfg_key,
            "step": self.step,
            "epoch_steps": self.epoch_steps,
            "epoch_loss": self.epoch_loss,
            "final": self.final,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.save_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def checkpoint(self):
        """Writes ckpt-<step>.pt and announces it, once per step. The
        checkpoint a run resumed from is announced again, not rewritten."""
        if self.saved_step == self.step:
            if not self.announced and os.path.exists(self.saved_path):
                sy.announce_checkpoint(self.saved_path, self.step)
                self.announced = True
            return
        state = self.state()
        self.saved_path = sy.write_checkpoint(
            self.step, lambda path: self.torch.save(state, path))
        self.saved_step = self.step
        self.announced = True
        # Keep the newest two (the worker also prunes what it has uploaded).
        folder = sy.checkpoint_dir()
        found = sorted((int(m.group(1)), m.group(0)) for m in
                       (CHECKPOINT_NAME.match(n) for n in os.listdir(folder)) if m)
        for _, name in found[:-KEEP_CHECKPOINTS]:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass

    def resume(self, path):
        torch = self.torch
        try:
            state = torch.load(path, map_location=self.device)
        except Exception as e:  # a damaged file: start afresh, as switchyard-train does
            say("cannot read checkpoint %s (%s); starting from step 0" % (path, e))
            return
        if not isinstance(state, dict) or state.get("format") != VERSION:
            raise BadConfig("%s is not a checkpoint of %s" % (path, VERSION))
        if state["config"] != self.cfg_key:
            keys = sorted(set(state["config"]) | set(self.cfg_key))
            differ = [k for k in keys if state["config"].get(k) != self.cfg_key.get(k)]
            raise BadConfig("%s was written for another job config (%s differs)"
                            % (path, ", ".join(differ)))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if not self.sampler.load_state(state["sampler"]):
            raise BadConfig("%s: malformed sampler state" % path)
        torch.set_rng_state(state["torch_rng"].cpu())  # map_location may have moved it
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([r.cpu() for r in state["cuda_rng"]])
        self.step = state["step"]
        self.epoch_steps = state["epoch_steps"]
        self.epoch_loss = state["epoch_loss"]
        self.final = state["final"]
        self.saved_step = self.step
        self.saved_path = path
        self.announced = False
        say("resumed from %s at step %d" % (path, self.step))

    # -- evaluation ----------------------------------------------------------

    def evaluate(self):
        torch = self.torch
        F = torch.nn.functional
        if self.eval_set is None:
            sampler = WindowSampler(self.s.task, self.s.eval_seed)
            self.eval_set = []
            left = self.s.eval_windows
            while left > 0:
                n = min(left, EVAL_CHUNK)
                self.eval_set.append(self.tensors(sampler.sample(n)))
                left -= n
        loss_sum, count, hits = 0.0, 0, 0
        last_count, last_hits = 0, 0
        split = {name: [0, 0] for name, _ in SPLITS}
        self.model.eval()
        with torch.no_grad():
            for ids, ctrl, tgt, rul in self.eval_set:
                logits = self.model(ids, ctrl)
                loss_sum += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                  tgt.reshape(-1), ignore_index=-1,
                                                  reduction="sum"))
                counted = tgt >= 0
                right = (logits.argmax(-1) == tgt) & counted
                count += int(counted.sum())
                hits += int(right.sum())
                last_count += int(counted[:, -1].sum())
                last_hits += int(right[:, -1].sum())
                for name, rule in SPLITS:
                    mask = rul == rule
                    split[name][0] += int((right & mask).sum())
                    split[name][1] += int(mask.sum())
        self.model.train()
        metrics = {
            "eval_loss": _finite(loss_sum / count) if count else None,
            "accuracy": _fraction(hits, count),
            "accuracy_last": _fraction(last_hits, last_count),
        }
        for name, _ in SPLITS:
            metrics[name] = _fraction(*split[name])
        return metrics

    # -- the loop ------------------------------------------------------------

    def train_step(self):
        torch = self.torch
        F = torch.nn.functional
        ids, ctrl, tgt, _ = self.tensors(self.sampler.sample(self.s.batch_size))
        logits = self.model(ids, ctrl)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                               ignore_index=-1)
        if self.step == self.s.debug_nan_at_step:
            loss = loss * float("nan")
        value = float(loss)
        if not math.isfinite(value):
            raise TrainingFailed("loss is %s at step %d" % (value, self.step + 1), self.step + 1)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        self.epoch_steps += 1
        self.epoch_loss += value

    def run(self, started):
        s = self.s
        total = s.epochs * s.steps_per_epoch
        epoch_seconds, epoch_samples = 0.0, 0
        while self.step < total:
            if sy.should_stop():
                self.checkpoint()
                say("stopped at step %d" % self.step)
                return sy.EXIT_STOPPED
            t0 = time.monotonic()
            self.train_step()
            epoch_seconds += time.monotonic() - t0
            epoch_samples += s.batch_size
            if self.epoch_steps == s.steps_per_epoch:
                epoch = self.step // s.steps_per_epoch
                self.final = self.evaluate()
                line = {"epoch": epoch, "loss": _finite(self.epoch_loss / self.epoch_steps)}
                line.update(self.final)
                line["samples_per_sec"] = (epoch_samples / epoch_seconds
                                           if epoch_seconds > 0 else None)
                sy.log(self.step, **line)
                say("epoch %d/%d, step %d: loss %s, eval_loss %s, accuracy %s" % (
                    epoch, s.epochs, self.step, _short(line["loss"]),
                    _short(self.final["eval_loss"]), _short(self.final["accuracy"])))
                self.epoch_steps, self.epoch_loss = 0, 0.0
                epoch_seconds, epoch_samples = 0.0, 0
                if self.step < total and sy.stop_at_epoch_end():
                    self.checkpoint()
                    say("stopped by the sweep's scheduler after epoch %d" % epoch)
                    return sy.EXIT_STOPPED
            if s.checkpoint_every and self.step % s.checkpoint_every == 0:
                self.checkpoint()
        if s.epochs > 0:
            self.checkpoint()
        sy.summary(program=self.s.program, model=s.model, parameters=self.parameters,
                   epochs=s.epochs, step=self.step, final=self.final,
                   wall_seconds=round(time.monotonic() - started, 3))
        return sy.EXIT_DONE


class TrainingFailed(Exception):
    def __init__(self, message, step):
        super().__init__(message)
        self.step = step


def probe():
    """--probe: what this program can do, as the worker asks at start-up."""
    try:
        import torch
    except ImportError as e:
        sy.fail("cannot import torch: %s" % e, sy.EXIT_ENVIRONMENT)
    available = torch.cuda.is_available()
    print('{"probe":true,"libtorch":"%s","cuda_available":%s,"cuda_device_count":%d}' % (
        torch.__version__, "true" if available else "false",
        torch.cuda.device_count() if available else 0), flush=True)
    return 0


def main():
    started = time.monotonic()
    if "--version" in sys.argv[1:]:
        print(VERSION, flush=True)
        return 0
    if "--probe" in sys.argv[1:]:
        return probe()
    try:
        args = sy.args()
        cfg = sy.config()
        settings = Settings(cfg)
    except (sy.ConfigError, BadConfig) as e:
        sy.fail(str(e), sy.EXIT_BAD_CONFIG)
    if args.extra:
        sy.fail("unknown arguments: %s" % " ".join(args.extra), sy.EXIT_BAD_CONFIG)
    if args.checkpoint_dir is None:
        sy.fail("no --checkpoint-dir DIR given", sy.EXIT_BAD_CONFIG)
    try:
        import torch
    except ImportError as e:
        sy.fail("cannot import torch: %s" % e, sy.EXIT_ENVIRONMENT)

    name = sy.device()
    if name != "cpu" and not (name == "cuda" or name.startswith("cuda:")):
        sy.fail("--device: unknown device '%s'; known: cpu, cuda, cuda:N" % name,
                sy.EXIT_BAD_CONFIG)
    try:
        device = torch.device(name)
    except RuntimeError as e:
        sy.fail("--device: %s" % e, sy.EXIT_BAD_CONFIG)
    if device.type == "cuda" and (not torch.cuda.is_available() or
                                  (device.index or 0) >= torch.cuda.device_count()):
        sy.fail("--device %s: CUDA is not available here" % name, sy.EXIT_ENVIRONMENT)
    threads = sy.threads() or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass

    job = Job(torch, settings, cfg, device)
    say("%s, model %s (hidden %d, layers %d), %d parameters, device %s, %d thread(s)" % (
        settings.program, settings.model, settings.hidden, settings.layers, job.parameters,
        name, threads))
    try:
        path = sy.resume_path()
        if path is not None:
            job.resume(path)
        return job.run(started)
    except BadConfig as e:
        sy.fail(str(e), sy.EXIT_BAD_CONFIG)
    except TrainingFailed as e:
        sy.fail(str(e), sy.EXIT_FAILED, e.step)
    except Exception as e:  # a torch error (out of memory), checkpoint I/O, a bug
        traceback.print_exc()
        sy.fail("%s: %s" % (type(e).__name__, e), sy.EXIT_FAILED, job.step)


if __name__ == "__main__":
    sys.exit(main())
