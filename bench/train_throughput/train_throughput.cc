// Training throughput: samples/s of the C++ trainer (the switchyard-train
// binary, one process per case) with the fused attention (the default) and
// with the reference attention path, against the same model and step in
// PyTorch (bench/reference/train_reference.py), for every model at a preset.
// The models without attention run the same code on both paths (their two
// figures show the run-to-run noise).
//
//   build/bin/train_throughput [--threads 2] [--steps 3] [--batch-size 500]
//       [--preset paper] [--only mlp,lstm,...] [--python /usr/bin/python3]
//       [--no-python] [--rounds 1]
//
// Each C++ figure is the second of two epochs of --steps steps (the first
// warms up); the trainer times its steps only, not the evaluation. The
// PyTorch script does --steps warm-up steps, then times --steps steps.
// With --rounds R, each case runs R rounds of the three sides, the order
// rotating from round to round (a slow spell of a shared machine hits every
// side alike); a cell is the median over rounds with [min-max], and the
// ratios are ratios of medians.
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_args.h"

namespace {

using Json = nlohmann::json;

struct Options {
  int threads = 2;
  int steps = 3;
  int batch_size = 500;
  std::string preset = "paper";
  std::string only;  // comma-separated model names; empty = all
  std::string python = "/usr/bin/python3";
  bool run_python = true;
  int rounds = 1;
};

struct Case {
  std::string model;
  std::string attention;
};

struct Figures {
  int64_t parameters = 0;
  double samples_per_sec = 0;
  std::string error;
};

// Runs `command`; returns its stdout (stderr too when merge_stderr) and
// sets *status to the exit status.
std::string Capture(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return output;
  }
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe))
    output.append(buffer, n);
  *status = pclose(pipe);
  return output;
}

// One switchyard-train process per case, as the worker runs jobs: a case
// never inherits another's heap or thread pools.
Figures RunCpp(const Options& o, const Case& c, const std::string& impl) {
  std::ostringstream command;
  command << SWITCHYARD_TRAIN_BINARY << " --model " << c.model
          << " --attention " << c.attention << " --kernels " << impl
          << " --preset " << o.preset
          << " --tasks IARC --epochs 2 --steps-per-epoch " << o.steps
          << " --batch-size " << o.batch_size
          << " --eval-windows 1 --checkpoint-every 0 --threads " << o.threads
          << " 2>/dev/null";
  Figures f;
  int status = 0;
  std::string output = Capture(command.str(), &status);
  if (status != 0) {
    f.error = "switchyard-train failed (status " + std::to_string(status) +
              "): " + output;
    return f;
  }
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    Json json = Json::parse(line, nullptr, false);
    if (!json.is_object()) continue;
    if (json.contains("summary")) {
      f.parameters = json["parameters"];
    } else if (json.contains("epoch") && json["epoch"] == 2) {
      f.samples_per_sec = json["samples_per_sec"];
    }
  }
  return f;
}

Figures RunPython(const Options& o, const Case& c) {
  Figures f;
  std::ostringstream command;
  command << o.python << " " << SWITCHYARD_REFERENCE_SCRIPT << " --model "
          << c.model << " --attention " << c.attention << " --preset "
          << o.preset << " --batch-size " << o.batch_size << " --warmup "
          << o.steps << " --steps " << o.steps << " --threads " << o.threads
          << " 2>&1";
  int status = 0;
  const std::string output = Capture(command.str(), &status);
  const size_t start = output.rfind('{');
  Json json = start == std::string::npos
                  ? Json()
                  : Json::parse(output.substr(start), nullptr, false);
  if (status != 0 || !json.is_object()) {
    f.error = "reference script failed: " + output;
    return f;
  }
  f.parameters = json["parameters"];
  f.samples_per_sec = json["samples_per_sec"];
  return f;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--threads") {
      o->threads = switchyard::bench::IntFlag("train_throughput", arg, next(), 1, 1024);
    } else if (arg == "--steps") {
      o->steps = switchyard::bench::IntFlag("train_throughput", arg, next(), 1, 1000000);
    } else if (arg == "--batch-size") {
      o->batch_size = switchyard::bench::IntFlag("train_throughput", arg, next(), 1, 1000000);
    } else if (arg == "--preset") {
      o->preset = next();
    } else if (arg == "--only") {
      o->only = "," + next() + ",";
    } else if (arg == "--python") {
      o->python = next();
    } else if (arg == "--no-python") {
      o->run_python = false;
    } else if (arg == "--rounds") {
      o->rounds = switchyard::bench::IntFlag("train_throughput", arg, next(), 1, 1000);
    } else {
      std::cerr << "usage: train_throughput [--threads N] [--steps K] "
                   "[--batch-size B] [--preset paper|small] [--only m1,m2] "
                   "[--python PATH] [--no-python] [--rounds R]\n";
      return false;
    }
  }
  return true;  // the numbers' ranges are IntFlag's
}

// The samples/s of one side over all rounds (failed rounds left out).
struct Series {
  std::vector<double> values;
  double Median() const {
    if (values.empty()) return 0;
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  std::string Cell() const {
    if (values.empty()) return "-";
    std::ostringstream text;
    text << std::fixed << std::setprecision(0) << Median();
    if (values.size() > 1) {
      text << " [" << *std::min_element(values.begin(), values.end()) << "-"
           << *std::max_element(values.begin(), values.end()) << "]";
    }
    return text.str();
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) return 2;
  const std::vector<Case> cases = {{"mlp", "none"},
                                   {"lstm", "none"},
                                   {"transformer", "softmax"},
                                   {"transformer", "expressive"},
                                   {"cisformer", "softmax"},
                                   {"cisformer", "expressive"}};
  std::cout << "preset " << o.preset << ", batch " << o.batch_size << ", "
            << o.threads << " thread(s), " << o.steps << " warm-up + "
            << o.steps << " timed steps, " << o.rounds << " round(s)\n\n"
            << "| model | attention | parameters | fused samples/s | "
               "reference samples/s | PyTorch samples/s | fused / PyTorch | "
               "reference / PyTorch | fused / reference |\n"
            << "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
               "|\n"
            << std::flush;
  int failures = 0;
  for (const Case& c : cases) {
    if (!o.only.empty() &&
        o.only.find("," + c.model + ",") == std::string::npos) {
      continue;
    }
    Series fused_sps, reference_sps, python_sps;
    int64_t parameters = 0;
    auto record = [&](const Figures& f, Series* series) {
      if (!f.error.empty()) {
        std::cerr << c.model << "/" << c.attention << ": " << f.error << "\n";
        ++failures;
        return;
      }
      series->values.push_back(f.samples_per_sec);
    };
    for (int round = 0; round < o.rounds; ++round) {
      for (int k = 0; k < 3; ++k) {
        switch ((round + k) % 3) {
          case 0: {
            Figures f = RunCpp(o, c, "fused");
            if (f.error.empty()) parameters = f.parameters;
            record(f, &fused_sps);
            break;
          }
          case 1:
            record(RunCpp(o, c, "reference"), &reference_sps);
            break;
          case 2:
            if (!o.run_python) break;
            Figures py = RunPython(o, c);
            if (py.error.empty() && parameters != 0 &&
                py.parameters != parameters) {
              std::cerr << c.model << "/" << c.attention
                        << ": parameter counts differ (" << parameters
                        << " vs " << py.parameters << ")\n";
              ++failures;
            }
            record(py, &python_sps);
            break;
        }
      }
    }
    auto ratio = [](const Series& a, const Series& b) {
      std::ostringstream text;
      if (a.Median() > 0 && b.Median() > 0) {
        text << std::fixed << std::setprecision(2) << a.Median() / b.Median();
      } else {
        text << "-";
      }
      return text.str();
    };
    std::cout << "| " << c.model << " | " << c.attention << " | " << parameters
              << " | " << fused_sps.Cell() << " | " << reference_sps.Cell()
              << " | " << python_sps.Cell() << " | "
              << ratio(fused_sps, python_sps) << " | "
              << ratio(reference_sps, python_sps) << " | "
              << ratio(fused_sps, reference_sps) << " |\n"
              << std::flush;
  }
  return failures == 0 ? 0 : 1;
}
