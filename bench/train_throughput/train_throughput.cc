// Training throughput: samples/s of the C++ trainer (the switchyard-train
// binary, one process per case) with the fused attention (the default) and
// with the reference attention path, against the same model and step in
// PyTorch (bench/reference/train_reference.py), for every model at a preset.
// The models without attention run the same code on both paths (their two
// figures show the run-to-run noise).
//
//   build/bin/train_throughput [--threads 2] [--steps 3] [--batch-size 500]
//       [--preset paper] [--only mlp,lstm,...] [--python /usr/bin/python3]
//       [--no-python]
//
// Each C++ figure is the second of two epochs of --steps steps (the first
// warms up); the trainer times its steps only, not the evaluation. The
// PyTorch script does --steps warm-up steps, then times --steps steps.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

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
      o->threads = std::stoi(next());
    } else if (arg == "--steps") {
      o->steps = std::stoi(next());
    } else if (arg == "--batch-size") {
      o->batch_size = std::stoi(next());
    } else if (arg == "--preset") {
      o->preset = next();
    } else if (arg == "--only") {
      o->only = "," + next() + ",";
    } else if (arg == "--python") {
      o->python = next();
    } else if (arg == "--no-python") {
      o->run_python = false;
    } else {
      std::cerr << "usage: train_throughput [--threads N] [--steps K] "
                   "[--batch-size B] [--preset paper|small] [--only m1,m2] "
                   "[--python PATH] [--no-python]\n";
      return false;
    }
  }
  return o->threads > 0 && o->steps > 0 && o->batch_size > 0;
}

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
            << o.steps << " timed steps\n\n"
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
    Figures cpp = RunCpp(o, c, "fused");
    Figures ref = RunCpp(o, c, "reference");
    Figures py;
    if (o.run_python && cpp.error.empty()) py = RunPython(o, c);
    for (const Figures* f : {&cpp, &ref, &py}) {
      if (!f->error.empty()) {
        std::cerr << c.model << "/" << c.attention << ": " << f->error << "\n";
        ++failures;
      }
    }
    if (py.error.empty() && py.parameters != 0 &&
        py.parameters != cpp.parameters) {
      std::cerr << c.model << "/" << c.attention
                << ": parameter counts differ (" << cpp.parameters << " vs "
                << py.parameters << ")\n";
      ++failures;
    }
    auto ratio = [](double a, double b) {
      std::ostringstream text;
      if (a > 0 && b > 0) {
        text << std::fixed << std::setprecision(2) << a / b;
      } else {
        text << "-";
      }
      return text.str();
    };
    std::cout << std::fixed << std::setprecision(0) << "| " << c.model << " | "
              << c.attention << " | " << cpp.parameters << " | "
              << cpp.samples_per_sec << " | " << ref.samples_per_sec << " | ";
    if (py.samples_per_sec > 0) {
      std::cout << py.samples_per_sec;
    } else {
      std::cout << "-";
    }
    std::cout << " | " << ratio(cpp.samples_per_sec, py.samples_per_sec)
              << " | " << ratio(ref.samples_per_sec, py.samples_per_sec)
              << " | " << ratio(cpp.samples_per_sec, ref.samples_per_sec)
              << " |\n"
              << std::flush;
  }
  return failures == 0 ? 0 : 1;
}
