// The parts every command shares: connecting, job states, job data, output
// files, and the list of commands.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/commands/commands.h"
#include "client/errors.h"
#include "common/config/job_config.h"
#include "common/rpc/auth.h"

namespace switchyard::client {

double CommandEnv::Now() const {
  if (io_->now) return io_->now();
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

absl::StatusOr<CoordinatorClient*> CommandEnv::Client() {
  if (borrowed_ != nullptr) return borrowed_;
  if (client_ != nullptr) return client_.get();
  std::string token;
  if (!globals_.token_file.empty()) {
    absl::StatusOr<std::string> from_file = common::ReadTokenFile(globals_.token_file);
    if (!from_file.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", from_file.status().message()));
    }
    token = *from_file;
  } else if (auto it = io_->env.find("SWITCHYARD_TOKEN");
             it != io_->env.end() && !it->second.empty()) {
    token = std::string(absl::StripAsciiWhitespace(it->second));
  } else {
    return absl::InvalidArgumentError(
        "no token: pass --token-file FILE (the coordinator writes DATA_DIR/client.token) or set "
        "SWITCHYARD_TOKEN");
  }
  ClientOptions options;
  options.target = globals_.coordinator;
  options.token = token;
  options.tls_ca_file = globals_.tls_ca_file;
  options.call_timeout_seconds = globals_.timeout_seconds;
  options.connect_timeout_seconds = std::min(5.0, globals_.timeout_seconds);
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client =
      io_->connect ? io_->connect(options) : ConnectToCoordinator(options);
  if (!client.ok()) return client.status();
  client_ = *std::move(client);
  return client_.get();
}

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* const commands = new std::vector<Command>{
      SubmitCommand(), StatusCommand(), JobsCommand(),    WatchCommand(),
      CancelCommand(), RetryCommand(),  WhyCommand(),     ResultsCommand(),
      ExportCommand(), FigureCommand(), WorkersCommand(), SampleCommand(), UiCommand(),
  };
  return *commands;
}

std::string JobStateName(pb::JobState state) {
  switch (state) {
    case pb::JOB_STATE_PENDING:
      return "pending";
    case pb::JOB_STATE_RUNNING:
      return "running";
    case pb::JOB_STATE_SUCCEEDED:
      return "succeeded";
    case pb::JOB_STATE_FAILED:
      return "failed";
    case pb::JOB_STATE_LOST:
      return "lost";
    case pb::JOB_STATE_CANCELLED:
      return "cancelled";
    case pb::JOB_STATE_PAUSED:
      return "paused";
    case pb::JOB_STATE_STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

std::vector<std::string> JobStateNames() {
  return {"pending", "running", "succeeded", "failed", "lost", "cancelled", "paused", "stopped"};
}

absl::StatusOr<pb::JobState> ParseJobState(const std::string& flag, const std::string& text) {
  for (int s = pb::JOB_STATE_PENDING; s <= pb::JOB_STATE_STOPPED; ++s) {
    if (JobStateName(static_cast<pb::JobState>(s)) == text) return static_cast<pb::JobState>(s);
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, ": unknown state '", text,
                                                 "'; expected one of ",
                                                 absl::StrJoin(JobStateNames(), ", ")));
}

JobData ToJobData(const pb::Job& job) {
  JobData data;
  data.id = job.id();
  data.sweep_id = job.sweep_id();
  data.cell_index = job.cell_index();
  data.state = JobStateName(job.state());
  data.last_cause = job.last_cause();
  for (const auto& [name, value] : job.final_metrics()) data.final_metrics[name] = value;
  data.config = results::ConfigText(job.config_json());
  return data;
}

absl::StatusOr<std::vector<std::string>> ParseConfigKeys(std::string_view flag,
                                                         const std::string& text) {
  absl::StatusOr<std::vector<std::string>> items = ParseListFlag(flag, text, {});
  if (!items.ok()) return items.status();
  for (const std::string& item : *items) {
    if (config::IsProgramParamKey(item)) {
      if (std::string error = config::CheckProgramParam(item, std::string()); !error.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(std::string(flag), ": ", error));
      }
      continue;
    }
    if (config::FindParam(item) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(flag), ": unknown key '", item, "'",
                       config::DidYouMean(config::ClosestParam(item))));
    }
  }
  return items;
}

absl::StatusOr<std::vector<std::string>> ParseGroupBy(const std::string& text) {
  return ParseConfigKeys("--group-by", text);
}

absl::Status WriteOutputFile(CommandEnv& env, const std::string& path, const std::string& content) {
  if (path == "-") {
    env.out() << content;
    env.out().flush();
    return absl::OkStatus();
  }
  std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
    file << content;
    file.flush();
    if (!file) {
      std::remove(temporary.c_str());
      return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace switchyard::client
