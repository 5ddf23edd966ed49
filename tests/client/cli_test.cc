// The commands end to end inside one process: argument parsing, output on
// stdout and stderr, exit codes, against a fake coordinator.
#include "client/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/errors.h"
#include "common/tasks/iarc.h"
#include "common/tasks/separations.h"
#include "tests/client/fake_coordinator.h"

namespace switchyard::client {
namespace {

using testing::FakeCoordinator;
using testing::FakeState;

long Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

pb::Job MakeJob(int64_t id, int64_t cell, const std::string& model, const std::string& attention,
                int seed, pb::JobState state, double accuracy, const std::string& tasks = "IARC") {
  pb::Job job;
  job.set_id(id);
  job.set_sweep_id(3);
  job.set_cell_index(cell);
  job.set_state(state);
  job.set_config_json("{\"attention\":\"" + attention + "\",\"epochs\":2,\"model\":\"" + model +
                      "\",\"seed\":" + std::to_string(seed) +
                      ",\"steps_per_epoch\":10,\"tasks\":\"" + tasks + "\"}");
  if (state == pb::JOB_STATE_SUCCEEDED || state == pb::JOB_STATE_FAILED) {
    (*job.mutable_final_metrics())["accuracy"] = accuracy;
    (*job.mutable_final_metrics())["loss"] = 1 - accuracy;
  }
  job.set_attempt_count(1);
  return job;
}

void AddPoint(FakeState* state, int64_t job, const std::string& name, int64_t step, double value) {
  pb::JobMetricPoint p;
  p.set_job_id(job);
  p.mutable_point()->set_name(name);
  p.mutable_point()->set_step(step);
  p.mutable_point()->set_value(value);
  state->points.push_back(p);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = std::make_shared<FakeState>();
    pb::Sweep sweep;
    sweep.set_id(3);
    sweep.set_name("quick");
    sweep.set_priority(0);
    sweep.set_state(pb::SWEEP_STATE_ACTIVE);
    sweep.set_created_at(1000);
    pb::StateCounts* c = sweep.mutable_counts();
    c->set_succeeded(3);
    c->set_failed(1);
    c->set_pending(1);
    pb::Axis* axis = sweep.mutable_spec()->add_axes();
    axis->set_key("seed");
    axis->add_values()->set_int_value(1);
    axis->add_values()->set_int_value(2);
    state_->sweeps.push_back(sweep);
    state_->jobs = {
        MakeJob(21, 0, "mlp", "none", 1, pb::JOB_STATE_SUCCEEDED, 0.25),
        MakeJob(22, 1, "mlp", "none", 2, pb::JOB_STATE_SUCCEEDED, 0.75),
        MakeJob(23, 2, "transformer", "softmax", 1, pb::JOB_STATE_SUCCEEDED, 0.5),
        MakeJob(24, 3, "transformer", "softmax", 2, pb::JOB_STATE_FAILED, 0.1),
        MakeJob(25, 4, "transformer", "expressive", 1, pb::JOB_STATE_PENDING, 0),
    };
    state_->jobs[3].set_last_cause("trainer exited with status 1\nTraceback...");
    for (int64_t job : {21, 22, 23}) {
      double final = job == 21 ? 0.25 : job == 22 ? 0.75 : 0.5;
      for (int64_t step : {10, 20}) {
        AddPoint(state_.get(), job, "accuracy", step, step == 20 ? final : final / 2);
        AddPoint(state_.get(), job, "epoch", step, step / 10);
        AddPoint(state_.get(), job, "loss", step, 1.0 / step);
      }
    }
    pb::Worker worker;
    worker.set_id(1);
    worker.set_name("w1");
    worker.set_hostname("host");
    worker.set_state("alive");
    worker.set_slots_total(2);
    worker.set_slots_busy(2);
    pb::Device* device = worker.add_devices();
    device->set_name("cpu");
    device->set_slots(2);
    state_->workers.push_back(worker);

    io_.out = &out_;
    io_.err = &err_;
    io_.env = {{"SWITCHYARD_TOKEN", "secret"}};
    io_.now = [] { return 1100.0; };
    io_.connect =
        [this](const ClientOptions& options) -> absl::StatusOr<std::unique_ptr<CoordinatorClient>> {
      last_options_ = options;
      ++connects_;
      if (!connect_error_.ok()) return connect_error_;
      return std::unique_ptr<CoordinatorClient>(new FakeCoordinator(state_));
    };
    dir_ = std::filesystem::temp_directory_path() /
           ("switchyard_cli_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunCli(args, io_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::shared_ptr<FakeState> state_;
  CliIo io_;
  std::ostringstream out_, err_;
  ClientOptions last_options_;
  int connects_ = 0;
  absl::Status connect_error_;
  std::filesystem::path dir_;
};

TEST_F(CliTest, HelpForEveryCommand) {
  EXPECT_EQ(Run({"--help"}), kExitOk);
  for (const Command& command : AllCommands()) {
    EXPECT_NE(out_.str().find("  " + command.spec.name), std::string::npos) << command.spec.name;
  }
  EXPECT_NE(out_.str().find("exit codes: 0 success"), std::string::npos);
  for (const Command& command : AllCommands()) {
    EXPECT_EQ(Run({command.spec.name, "--help"}), kExitOk) << command.spec.name;
    EXPECT_EQ(out_.str().rfind("usage: switchyard " + command.spec.name, 0), 0u) << out_.str();
    EXPECT_EQ(Run({"help", command.spec.name}), kExitOk);
  }
  EXPECT_EQ(connects_, 0);
}

TEST_F(CliTest, BadUsageIsExitOne) {
  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_NE(err_.str().find("switchyard: missing COMMAND"), std::string::npos);
  EXPECT_EQ(Run({"stauts"}), kExitUsage);
  EXPECT_NE(err_.str().find("unknown command 'stauts'; did you mean 'status'?"), std::string::npos);
  EXPECT_EQ(Run({"jobs"}), kExitUsage);
  EXPECT_EQ(Run({"jobs", "x"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: SWEEP: expected a positive id such as 3, got 'x'\n");
  EXPECT_EQ(Run({"status", "--output", "xml"}), kExitUsage);
  EXPECT_EQ(Run({"status", "--coordinator", "nohost"}), kExitUsage);
  EXPECT_EQ(
      err_.str(),
      "switchyard: --coordinator: expected HOST:PORT such as 127.0.0.1:50051, got 'nohost'\n");
  EXPECT_EQ(connects_, 0);
}

TEST_F(CliTest, CoordinatorAndTokenFromFlagsOrEnvironment) {
  EXPECT_EQ(Run({"workers"}), kExitOk);
  EXPECT_EQ(last_options_.target, kDefaultCoordinator);
  EXPECT_EQ(last_options_.token, "secret");
  io_.env["SWITCHYARD_COORDINATOR"] = "10.0.0.1:7000";
  EXPECT_EQ(Run({"workers"}), kExitOk);
  EXPECT_EQ(last_options_.target, "10.0.0.1:7000");
  std::string token_file = Write("client.token", "from-file\n");
  EXPECT_EQ(Run({"--coordinator", "h:1", "workers", "--token-file", token_file, "--timeout", "2"}),
            kExitOk);
  EXPECT_EQ(last_options_.target, "h:1");
  EXPECT_EQ(last_options_.token, "from-file");
  EXPECT_DOUBLE_EQ(last_options_.call_timeout_seconds, 2);

  io_.env.erase("SWITCHYARD_TOKEN");
  EXPECT_EQ(Run({"workers"}), kExitUsage);
  EXPECT_NE(err_.str().find("no token: pass --token-file"), std::string::npos);
  EXPECT_EQ(Run({"workers", "--token-file", (dir_ / "missing").string()}), kExitUsage);
}

TEST_F(CliTest, ExitCodesForServerErrorsAndUnreachable) {
  state_->fail_with = ServerError(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token"));
  EXPECT_EQ(Run({"status"}), kExitServer);
  EXPECT_EQ(err_.str(), "switchyard: bad token\n");
  state_->fail_with = ServerError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  EXPECT_EQ(Run({"status"}), kExitUnreachable);
  state_->fail_with = absl::OkStatus();
  EXPECT_EQ(Run({"status", "99"}), kExitServer);
  EXPECT_EQ(err_.str(), "switchyard: sweep 99: not found\n");
  connect_error_ = UnreachableError("127.0.0.1:1", "no connection within 5 s");
  EXPECT_EQ(Run({"status"}), kExitUnreachable);
  EXPECT_NE(err_.str().find("cannot reach the coordinator at 127.0.0.1:1"), std::string::npos);
}

TEST_F(CliTest, SubmitPrintsTheIdAloneOnStdout) {
  std::string file =
      Write("s.yaml", "name: s\nmodel: [mlp, transformer]\nseed: [1, 2]\nlr: 0.01\n");
  EXPECT_EQ(Run({"submit", file, "--priority", "5", "--name", "renamed"}), kExitOk);
  EXPECT_EQ(out_.str(), "7\n");
  EXPECT_NE(err_.str().find("submitted sweep 7 'renamed'"), std::string::npos);
  ASSERT_EQ(state_->submitted.size(), 1u);
  const pb::SweepSpec& spec = state_->submitted[0].spec();
  EXPECT_FALSE(state_->submitted[0].dry_run());
  EXPECT_EQ(spec.name(), "renamed");
  EXPECT_EQ(spec.priority(), 5);
  ASSERT_EQ(spec.axes_size(), 3);
  EXPECT_EQ(spec.axes(0).key(), "model");
  EXPECT_EQ(spec.axes(0).values(1).string_value(), "transformer");
  EXPECT_EQ(spec.axes(1).values(1).int_value(), 2);
  EXPECT_DOUBLE_EQ(spec.axes(2).values(0).float_value(), 0.01);
}

TEST_F(CliTest, SubmitNameDefaultsToTheFileStem) {
  std::string file = Write("my-sweep.yaml", "model: mlp\n");
  EXPECT_EQ(Run({"submit", file}), kExitOk);
  EXPECT_EQ(state_->submitted.at(0).spec().name(), "my-sweep");
}

TEST_F(CliTest, DryRunCountsLocallyAndSubmitsNothing) {
  std::string file = Write("d.yaml",
                           "model: [mlp, lstm, transformer, cisformer]\n"
                           "attention: [softmax, expressive]\nseed: [1, 2]\n");
  EXPECT_EQ(Run({"submit", file, "--dry-run"}), kExitOk);
  EXPECT_EQ(out_.str().substr(0, out_.str().find('\n')), "12 cells in sweep 'd'; the first 10:");
  EXPECT_NE(out_.str().find("cell  model        attention   seed"), std::string::npos)
      << out_.str();
  EXPECT_EQ(Lines(out_.str()), 12);  // count, header, 10 cells
  EXPECT_EQ(connects_, 0);
  EXPECT_TRUE(state_->submitted.empty());
  EXPECT_EQ(Run({"submit", file, "--dry-run", "--output", "json"}), kExitOk);
  EXPECT_NE(out_.str().find("\"cells\": 12"), std::string::npos);
}

TEST_F(CliTest, BadSweepFileIsExitOneWithItsPosition) {
  std::string file = Write("bad.yaml", "name: x\nmodle: mlp\n");
  EXPECT_EQ(Run({"submit", file}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "switchyard: " + file + ":2:1: modle: unknown key; did you mean 'model'?\n");
  EXPECT_EQ(Run({"submit", (dir_ / "none.yaml").string()}), kExitUsage);
  EXPECT_EQ(Run({"submit", Write("ok.yaml", "model: mlp\n"), "--priority", "high"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: --priority: expected an integer, got 'high'\n");
  EXPECT_EQ(connects_, 0);
  EXPECT_TRUE(state_->submitted.empty());
}

TEST_F(CliTest, StatusListsSweepsOrShowsOne) {
  EXPECT_EQ(Run({"status"}), kExitOk);
  EXPECT_NE(out_.str().find("id  name   state   priority  jobs  done  running  pending  failed"),
            std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("3  quick  active"), std::string::npos);
  EXPECT_EQ(Run({"status", "3"}), kExitOk);
  EXPECT_NE(out_.str().find("  seed: 1, 2\n"), std::string::npos) << out_.str();
  EXPECT_EQ(Run({"status", "3", "--output", "csv"}), kExitOk);
  EXPECT_EQ(
      out_.str().substr(0, out_.str().find('\n')),
      "id,name,state,priority,jobs,done,running,pending,failed,lost,cancelled,paused,stopped,"
      "created,elapsed");
  EXPECT_EQ(Run({"status", "--output", "json"}), kExitOk);
  EXPECT_NE(out_.str().find("\"jobs\": 5"), std::string::npos);
}

TEST_F(CliTest, JobsFiltersByState) {
  EXPECT_EQ(Run({"jobs", "3", "--state", "failed", "--output", "csv"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "id,cell,state,model,attention,tasks,seed,attempts,failures,accuracy,updated,cause\n"
            "24,3,failed,transformer,softmax,IARC,2,1,0,0.1,-,\"trainer exited with status 1\n"
            "Traceback...\"\n");
  EXPECT_EQ(Run({"jobs", "3"}), kExitOk);
  EXPECT_EQ(Lines(out_.str()), 6);
  EXPECT_EQ(Run({"jobs", "3", "--state", "broken"}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "switchyard: --state: unknown state 'broken'; expected one of pending, running, "
            "succeeded, failed, lost, cancelled, paused, stopped\n");
}

TEST_F(CliTest, CancelSweepOrJob) {
  EXPECT_EQ(Run({"cancel", "3"}), kExitOk);
  EXPECT_EQ(
      out_.str(),
      "sweep 3: cancelled 3 pending jobs; 1 running job told to stop at their next heartbeat\n");
  EXPECT_EQ(Run({"cancel", "job/17"}), kExitOk);
  ASSERT_EQ(state_->cancelled.size(), 2u);
  EXPECT_EQ(state_->cancelled[0].sweep_id(), 3);
  EXPECT_EQ(state_->cancelled[1].job_id(), 17);
  EXPECT_EQ(state_->cancelled[1].sweep_id(), 0);
  EXPECT_EQ(Run({"cancel", "everything"}), kExitUsage);
}

TEST_F(CliTest, RetryStates) {
  EXPECT_EQ(Run({"retry", "3"}), kExitOk);
  EXPECT_EQ(out_.str(), "sweep 3: requeued 2 failed or lost jobs\n");
  EXPECT_EQ(Run({"retry", "3", "--state", "lost"}), kExitOk);
  ASSERT_EQ(state_->retried.size(), 2u);
  EXPECT_EQ(state_->retried[0].states_size(), 2);
  ASSERT_EQ(state_->retried[1].states_size(), 1);
  EXPECT_EQ(state_->retried[1].states(0), pb::JOB_STATE_LOST);
  EXPECT_EQ(Run({"retry", "3", "--state", "running"}), kExitUsage);
}

TEST_F(CliTest, WhyPendingAndFailed) {
  EXPECT_EQ(Run({"why", "25"}), kExitOk);
  EXPECT_NE(
      out_.str().find("job 25 (sweep 3, cell 4: transformer expressive IARC seed 1) is pending"),
      std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("0 pending jobs go first"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("every slot is busy: 2 of 2 slots on 1 worker"), std::string::npos);

  pb::Attempt* attempt = state_->jobs[3].add_attempts();
  attempt->set_number(1);
  attempt->set_outcome(pb::ATTEMPT_OUTCOME_FAILED);
  attempt->set_worker_name("w1");
  attempt->set_device("cpu");
  attempt->set_cause("trainer exited with status 1\nTraceback...");
  EXPECT_EQ(Run({"why", "24"}), kExitOk);
  EXPECT_NE(out_.str().find("is failed"), std::string::npos);
  EXPECT_NE(out_.str().find("switchyard retry 3"), std::string::npos);
  EXPECT_NE(out_.str().find("cause of attempt 1:\ntrainer exited with status 1\nTraceback...\n"),
            std::string::npos)
      << out_.str();
  EXPECT_EQ(Run({"why", "24", "--output", "csv"}), kExitOk);
  EXPECT_EQ(out_.str().substr(0, out_.str().find('\n')),
            "attempt,outcome,worker,device,started,ran,resumed_from_step,cause");
  EXPECT_EQ(Run({"why", "99"}), kExitServer);
}

TEST_F(CliTest, ResultsMeanStdAndN) {
  EXPECT_EQ(Run({"results", "3", "--output", "csv"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "model,attention,tasks,metric,mean,std,n\n"
            "mlp,none,IARC,accuracy,0.5,0.3535533905932738,2\n"
            "transformer,softmax,IARC,accuracy,0.5,,1\n");
  EXPECT_NE(err_.str().find("note: 2 of 5 jobs left out, not succeeded (1 failed, 1 pending)"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ(Run({"results", "3", "--group-by", "model"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "model        metric      mean     std  n\n"
            "mlp          accuracy  0.5000  0.3536  2\n"
            "transformer  accuracy  0.5000       -  1\n");
  EXPECT_EQ(Run({"results", "3", "--metric", "loss", "--group-by", "model", "--output", "csv"}),
            kExitOk);
  EXPECT_NE(out_.str().find("mlp,loss,0.5,"), std::string::npos);
  EXPECT_EQ(err_.str().find("mix"), std::string::npos) << err_.str();
  state_->jobs[0] = MakeJob(21, 0, "mlp", "none", 1, pb::JOB_STATE_SUCCEEDED, 0.25, "IA");
  EXPECT_EQ(Run({"results", "3", "--group-by", "model"}), kExitOk);
  EXPECT_NE(err_.str().find(
                "note: groups mix jobs with different tasks; add to --group-by to split them"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ(Run({"results", "3", "--group-by", "modle"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: --group-by: unknown key 'modle'; did you mean 'model'?\n");
  EXPECT_EQ(Run({"results", "3", "--metric", "acc"}), kExitUsage);
  EXPECT_NE(
      err_.str().find("no succeeded job of sweep 3 has a metric 'acc'; known: accuracy, loss"),
      std::string::npos);
}

TEST_F(CliTest, ExportWritesEveryPoint) {
  std::string path = (dir_ / "out.csv").string();
  EXPECT_EQ(Run({"export", "3", "--out", path}), kExitOk);
  std::string csv = Read(path);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "sweep,job,model,attention,tasks,seed,name,step,value");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + static_cast<long>(state_->points.size()));
  EXPECT_NE(csv.find("\n3,21,mlp,none,IARC,1,accuracy,20,0.25\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\n3,23,transformer,softmax,IARC,1,loss,10,0.1\n"), std::string::npos);
  EXPECT_NE(err_.str().find("wrote 18 metric points of sweep 3"), std::string::npos);
  EXPECT_EQ(Run({"export", "3"}), kExitUsage);
  EXPECT_EQ(Run({"export", "3", "--out", (dir_ / "no" / "such" / "dir.csv").string()}), kExitUsage);
  EXPECT_EQ(Run({"export", "3", "--out", "-"}), kExitOk);
  EXPECT_EQ(out_.str(), csv);
}

TEST_F(CliTest, FigureCurvesAndBarsCarryTheResults) {
  std::string curves = (dir_ / "curves.svg").string();
  EXPECT_EQ(Run({"figure", "3", "--kind", "curves", "--out", curves}), kExitOk) << err_.str();
  std::string svg = Read(curves);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  // mlp: epoch 2 holds the final accuracies 0.25 and 0.75, as `results` says.
  EXPECT_NE(svg.find("data-x=\"2\" data-mean=\"0.5\" data-std=\"0.3535533905932738\" data-n=\"2\""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find("data-x=\"1\" data-mean=\"0.25\""), std::string::npos);
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);

  std::string bars = (dir_ / "bars.svg").string();
  EXPECT_EQ(Run({"figure", "3", "--kind", "bars", "--out", bars}), kExitOk) << err_.str();
  svg = Read(bars);
  EXPECT_NE(svg.find("data-attention=\"none\" data-metric=\"accuracy\" data-model=\"mlp\" "
                     "data-tasks=\"IARC\" data-mean=\"0.5\" data-std=\"0.3535533905932738\" "
                     "data-n=\"2\""),
            std::string::npos)
      << svg;

  EXPECT_EQ(Run({"figure", "3", "--kind", "pie", "--out", bars}), kExitUsage);
  EXPECT_EQ(Run({"figure", "3", "--kind", "bars"}), kExitUsage);
  EXPECT_EQ(Run({"figure", "3", "--out", bars}), kExitUsage);
  EXPECT_EQ(Run({"figure", "3", "--kind", "curves", "--tasks", "IA", "--out", curves}), kExitUsage);
  EXPECT_NE(err_.str().find("switchyard: --tasks: sweep 3 has no job on 'IA'; it has: IARC\n"),
            std::string::npos);
}

pb::SweepEvent Event(int64_t pending, int64_t running, int64_t succeeded, int64_t failed,
                     bool done) {
  pb::SweepEvent event;
  event.mutable_sweep()->set_id(3);
  event.mutable_sweep()->set_name("quick");
  event.mutable_sweep()->set_created_at(1000);
  pb::StateCounts* c = event.mutable_sweep()->mutable_counts();
  c->set_pending(pending);
  c->set_running(running);
  c->set_succeeded(succeeded);
  c->set_failed(failed);
  event.set_done(done);
  return event;
}

TEST_F(CliTest, WatchPipedPrintsLinesAndExitsZeroWhenAllSucceeded) {
  state_->jobs.clear();
  state_->events.push_back(Event(2, 0, 0, 0, false));
  state_->events.push_back(Event(1, 1, 0, 0, false));
  pb::SweepEvent last = Event(0, 0, 2, 0, true);
  *last.add_newly_finished() = MakeJob(21, 0, "mlp", "none", 1, pb::JOB_STATE_SUCCEEDED, 0.25);
  *last.add_newly_finished() = MakeJob(22, 1, "mlp", "none", 2, pb::JOB_STATE_SUCCEEDED, 0.75);
  state_->events.push_back(last);
  EXPECT_EQ(Run({"watch", "3"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "sweep 3: 0/2 ended (0.0%) | done 0 running 0 pending 2 failed 0 lost 0 | elapsed "
            "1m40s eta -\n"
            "sweep 3: 0/2 ended (0.0%) | done 0 running 1 pending 1 failed 0 lost 0 | elapsed "
            "1m40s eta -\n"
            "job 21 succeeded: mlp none IARC seed 1, accuracy 0.2500\n"
            "job 22 succeeded: mlp none IARC seed 2, accuracy 0.7500\n"
            "sweep 3: 2/2 ended (100.0%) | done 2 running 0 pending 0 failed 0 lost 0 | elapsed "
            "1m40s eta 0s\n"
            "best accuracy so far:\n"
            "  model  attention  accuracy  job\n"
            "  mlp    none       0.7500    22\n");
}

TEST_F(CliTest, WatchExitsFourWhenAJobFailed) {
  // Jobs that ended before the watch began are not announced again.
  state_->jobs = {MakeJob(21, 0, "mlp", "none", 1, pb::JOB_STATE_FAILED, 0.1)};
  pb::SweepEvent last = Event(0, 0, 1, 1, true);
  *last.add_newly_finished() = state_->jobs[0];
  *last.add_newly_finished() = MakeJob(22, 1, "mlp", "none", 2, pb::JOB_STATE_SUCCEEDED, 0.75);
  state_->events.push_back(last);
  EXPECT_EQ(Run({"watch", "3"}), kExitSweepFailed);
  EXPECT_EQ(out_.str().find("job 21"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("job 22 succeeded"), std::string::npos);
  EXPECT_EQ(err_.str(),
            "switchyard: sweep 3 ended: 1 of 2 jobs succeeded (failed 1, lost 0, cancelled 0); see "
            "switchyard jobs 3 and switchyard why JOB\n");
}

TEST_F(CliTest, WatchOnATerminalRedrawsInPlace) {
  io_.out_is_tty = true;
  state_->jobs.clear();
  state_->events.push_back(Event(1, 1, 0, 0, false));
  state_->events.push_back(Event(0, 0, 2, 0, true));
  EXPECT_EQ(Run({"watch", "3"}), kExitOk);
  EXPECT_EQ(out_.str().rfind("\x1b[J", 0), 0u);  // frames start by clearing below the cursor
  EXPECT_NE(out_.str().find("sweep 3 'quick'  finished"), std::string::npos);
}

TEST_F(CliTest, WorkersTable) {
  EXPECT_EQ(Run({"workers", "--output", "csv"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "id,name,host,state,busy,slots,devices,programs,last_seen,build,trainer,env_errors,cause\n"
            "1,w1,host,alive,2,2,cpux2,switchyard-train,-,,,0,\n");
}

TEST_F(CliTest, AQuarantinedWorkerShowsWhyAndCanBeLetOut) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    pb::Worker& w = state_->workers[0];
    w.set_state("quarantined");
    w.set_quarantined(true);
    w.set_environment_failures(3);
    w.set_quarantine_cause("this worker's environment failed (trainer exit code 5): no CUDA");
  }
  EXPECT_EQ(Run({"workers", "--output", "csv"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "id,name,host,state,busy,slots,devices,programs,last_seen,build,trainer,env_errors,cause\n"
            "1,w1,host,quarantined,2,2,cpux2,switchyard-train,-,,,3,this worker's environment failed (trainer "
            "exit code 5): no CUDA\n");
  out_.str("");
  EXPECT_EQ(Run({"workers", "--unquarantine", "1"}), kExitOk);
  EXPECT_EQ(out_.str(), "worker 1 (w1) may claim jobs again; state alive\n");
  EXPECT_EQ(Run({"workers", "--unquarantine", "x"}), kExitUsage);
}

TEST_F(CliTest, SampleMatchesTheGenerator) {
  EXPECT_EQ(Run({"sample", "--tasks", "IARC", "--seed", "7", "--count", "20", "--length", "120"}),
            kExitOk);
  tasks::IarcOptions options;
  EXPECT_EQ(out_.str(), tasks::FormatStreams(options, 7, 20, 120));
  std::string first = out_.str().substr(0, out_.str().find('\n'));
  EXPECT_EQ(std::count(first.begin(), first.end(), ' '), 119);
  EXPECT_EQ(Run({"sample", "--tasks", "IA", "--seed", "1", "--count", "2", "--length", "30", "--d",
                 "12", "--switch-min", "4", "--switch-max", "6"}),
            kExitOk);
  options.tasks = "IA";
  options.d = 12;
  options.switch_min = 4;
  options.switch_max = 6;
  EXPECT_EQ(out_.str(), tasks::FormatStreams(options, 1, 2, 30));
  EXPECT_EQ(connects_, 0);
}

TEST_F(CliTest, SampleErrorsNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--tasks", "C"}, "--tasks: 'C' must contain one of I, A, R"},
           {{"--tasks", "IX"}, "--tasks: 'IX' has an unknown letter 'X'"},
           {{"--tasks", ""}, "--tasks: '' is empty"},
           {{"--count", "abc"}, "--count: expected an integer, got 'abc'"},
           {{"--count", "0"}, "--count: 0 is out of range [1, 1000000]"},
           {{"--length", "-3"}, "--length: -3 is out of range [1, 10000000]"},
           {{"--seed", "x"}, "--seed: expected a non-negative integer, got 'x'"},
           {{"--d", "5"}, "--d: 5 leaves N = 1"},
           {{"--switch-min", "1"}, "--switch-min: 1 must be at least 2"},
           {{"--switch-min", "9", "--switch-max", "3"}, "--switch-max: 3"},
           {{"--c-mode", "sometimes"}, "--c-mode: unknown value 'sometimes'"},
       }) {
    std::vector<std::string> args = {"sample"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(Run(args), kExitUsage) << c.message;
    EXPECT_EQ(err_.str().rfind("switchyard: " + c.message, 0), 0u) << err_.str();
    EXPECT_EQ(out_.str(), "");
  }
}

// The separation tasks: window i of the sampler with this seed, in the spec's
// printed form, one per line.
TEST_F(CliTest, SampleSeparationTasksPrintTheSamplersWindows) {
  struct Case {
    std::vector<std::string> args;
    tasks::SeparationOptions options;
  };
  auto options = [](tasks::TaskFamily family, int length) {
    tasks::SeparationOptions o;
    o.family = family;
    o.length = length;
    return o;
  };
  tasks::SeparationOptions deep = options(tasks::TaskFamily::kDyck, 12);
  deep.depth = 3;
  deep.negatives = tasks::DyckNegatives::kSwap;
  tasks::SeparationOptions few = options(tasks::TaskFamily::kNearestNeighbor, 8);
  few.vocab = 10;
  few.labels = 3;
  tasks::SeparationOptions wide = options(tasks::TaskFamily::kStringEquality, 9);
  wide.vocab = 5;
  wide.mismatches = tasks::Mismatches::kOne;
  for (const Case& c : std::vector<Case>{
           {{"--task", "index_lookup"}, options(tasks::TaskFamily::kIndexLookup, 20)},
           {{"--task", "dyck"}, options(tasks::TaskFamily::kDyck, 20)},
           {{"--task", "dyck", "--length", "12", "--depth", "3", "--negatives", "swap"}, deep},
           {{"--task", "nearest_neighbor", "--length", "8", "--vocab", "10", "--labels", "3"}, few},
           {{"--task", "string_equality", "--length", "9", "--vocab", "5", "--mismatches", "one"},
            wide},
           // No --length: the task's default, 21 (odd) as a job's.
           {{"--task", "string_equality"}, options(tasks::TaskFamily::kStringEquality, 21)},
       }) {
    std::vector<std::string> args = {"sample", "--seed", "5", "--count", "30"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ASSERT_EQ(Run(args), kExitOk) << err_.str();
    tasks::QuestionSampler sampler(c.options, 5);
    tasks::QuestionBatch batch;
    sampler.Sample(30, &batch);
    std::string want;
    for (int row = 0; row < 30; ++row) want += tasks::FormatQuestion(c.options, batch, row) + "\n";
    EXPECT_EQ(out_.str(), want) << c.args[1];
    // One " => " per line, single spaces, WindowLength tokens before it.
    std::istringstream lines(out_.str());
    for (std::string line; std::getline(lines, line);) {
      const size_t arrow = line.find(" => ");
      ASSERT_NE(arrow, std::string::npos) << line;
      EXPECT_EQ(line.find(" => ", arrow + 1), std::string::npos) << line;
      EXPECT_EQ(line.find("  "), std::string::npos) << line;
      const std::string input = line.substr(0, arrow);
      EXPECT_EQ(std::count(input.begin(), input.end(), ' '), tasks::WindowLength(c.options) - 1)
          << line;
    }
  }
  EXPECT_EQ(connects_, 0);
}

TEST_F(CliTest, SampleSeparationTasksMatchTheSpecsForms) {
  struct Case {
    std::string task, length, line;
  };
  for (const Case& c : std::vector<Case>{
           {"index_lookup", "6", "36 18 52 57 51 50 @6 => 50"},
           {"dyck", "6", "( ) ( ) ( ) => yes"},
           {"nearest_neighbor", "6", "36 L1 52 L3 51 L3 53 => L3"},
           {"string_equality", "7", "1 0 1 # 1 0 1 => yes"},
       }) {
    ASSERT_EQ(
        Run({"sample", "--task", c.task, "--length", c.length, "--seed", "2026", "--count", "1"}),
        kExitOk)
        << err_.str();
    EXPECT_EQ(out_.str(), c.line + "\n");
  }
  // --task iarc is the default and prints what it always printed.
  ASSERT_EQ(Run({"sample", "--task", "iarc", "--seed", "7", "--count", "3"}), kExitOk);
  EXPECT_EQ(out_.str(), tasks::FormatStreams(tasks::IarcOptions(), 7, 3, 60));
}

TEST_F(CliTest, SampleSeparationErrorsNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--task", "lstm"},
            "--task: unknown task 'lstm'; expected iarc, index_lookup, dyck, nearest_neighbor "
            "or string_equality"},
           {{"--task", "dyck", "--length", "21"}, "--length: 21 is odd; dyck needs an even length"},
           {{"--task", "string_equality", "--length", "20"},
            "--length: 20 is even; string_equality needs an odd length"},
           {{"--task", "index_lookup", "--length", "1025"},
            "--length: 1025 is out of range [2, 1024]"},
           {{"--task", "index_lookup", "--length", "x"}, "--length: expected an integer, got 'x'"},
           {{"--task", "nearest_neighbor", "--length", "200"},
            "--vocab: 64 is too small; nearest_neighbor needs vocab >= length/2 = 100"},
           {{"--task", "nearest_neighbor", "--labels", "1"}, "--labels: 1 is out of range [2, "},
           {{"--task", "dyck", "--depth", "0"}, "--depth: 0 is out of range [1, 512]"},
           {{"--task", "dyck", "--negatives", "both"},
            "--negatives: unknown value 'both'; expected mixed, flip or swap"},
           {{"--task", "string_equality", "--length", "5", "--vocab", "1"},
            "--vocab: 1 is out of range [2, 65536] (0 = the default, 2)"},
           {{"--task", "string_equality", "--length", "5", "--mismatches", "all"},
            "--mismatches: unknown value 'all'"},
           {{"--task", "index_lookup", "--depth", "3"},
            "--depth: not an option of --task index_lookup (only of dyck)"},
           {{"--task", "dyck", "--d", "12"}, "--d: not an option of --task dyck (only of iarc)"},
           {{"--vocab", "8"},
            "--vocab: not an option of --task iarc (only of index_lookup, nearest_neighbor, "
            "string_equality)"},
           {{"--task", "index_lookup", "--count", "1000000", "--length", "1000"},
            "--count: 1000000 windows of 1001 tokens is more than 100000000 tokens"},
       }) {
    std::vector<std::string> args = {"sample"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(Run(args), kExitUsage) << c.message;
    EXPECT_EQ(err_.str().rfind("switchyard: " + c.message, 0), 0u) << err_.str();
    EXPECT_EQ(out_.str(), "");
  }
}

// ---- figure --kind heatmap

// A job of a model x width x layers x seed grid; accuracies are binary
// fractions, so means print exactly.
pb::Job GridJob(int64_t id, const std::string& model, int width, int layers, int seed,
                pb::JobState state, double accuracy) {
  pb::Job job = MakeJob(id, id - 100, model, "none", seed, state, accuracy);
  job.set_config_json("{\"layers\":" + std::to_string(layers) + ",\"model\":\"" + model +
                      "\",\"seed\":" + std::to_string(seed) +
                      ",\"width\":" + std::to_string(width) + "}");
  return job;
}

// Two models x widths 128, 64 (in that order in the file) x layers 1, 2 x
// seeds 1, 2. Both seeds of transformer, width 128, 2 layers failed.
std::vector<pb::Job> HeatmapGrid() {
  std::vector<pb::Job> jobs;
  int64_t id = 100;
  for (const std::string model : {"mlp", "transformer"}) {
    for (int width : {128, 64}) {
      for (int layers : {1, 2}) {
        for (int seed : {1, 2}) {
          double accuracy = 0.125 * layers + (width == 128 ? 0.25 : 0) +
                            (model == "transformer" ? 0.125 : 0) + (seed == 2 ? 0.25 : 0);
          bool failed = model == "transformer" && width == 128 && layers == 2;
          jobs.push_back(GridJob(id++, model, width, layers, seed,
                                 failed ? pb::JOB_STATE_FAILED : pb::JOB_STATE_SUCCEEDED,
                                 accuracy));
        }
      }
    }
  }
  return jobs;
}

TEST_F(CliTest, FigureHeatmapCellsAgreeWithResults) {
  state_->jobs = HeatmapGrid();
  std::string path = (dir_ / "heatmap.svg").string();
  ASSERT_EQ(Run({"figure", "3", "--kind", "heatmap", "--x", "width", "--y", "layers", "--facet",
                 "model", "--out", path}),
            kExitOk)
      << err_.str();
  EXPECT_NE(err_.str().find("wrote " + path + " (7 of 8 cells with a value, 2 panels)"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ(err_.str().find("mix"), std::string::npos) << err_.str();
  std::string svg = Read(path);
  // A copy to look at: SWITCHYARD_HEATMAP_SAMPLE=/tmp/heatmap.svg.
  if (const char* sample = std::getenv("SWITCHYARD_HEATMAP_SAMPLE")) std::ofstream(sample) << svg;
  auto count = [&svg](const std::string& what) {
    int n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("class=\"panel\""), 2);
  EXPECT_EQ(count("class=\"cell\""), 8);
  EXPECT_EQ(count("data-n=\"2\""), 7);
  // Widths sort as numbers: 64 comes first although the file lists 128 first.
  size_t first = svg.find("class=\"cell\"");
  EXPECT_EQ(svg.find("data-x=\"64\" data-y=\"1\" data-facet=\"mlp\"", first),
            svg.find("data-x=", first))
      << svg;
  // Each cell's numbers are those of `results` for the same keys.
  ASSERT_EQ(Run({"results", "3", "--group-by", "model,width,layers", "--output", "csv"}), kExitOk);
  std::istringstream rows(out_.str());
  std::string row;
  std::getline(rows, row);
  EXPECT_EQ(row, "model,width,layers,metric,mean,std,n");
  int rows_seen = 0;
  while (std::getline(rows, row)) {
    std::vector<std::string> f;
    std::stringstream fields(row);
    for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
    ASSERT_EQ(f.size(), 7u) << row;
    EXPECT_NE(svg.find("data-x=\"" + f[1] + "\" data-y=\"" + f[2] + "\" data-facet=\"" + f[0] +
                       "\" data-metric=\"accuracy\" data-mean=\"" + f[4] + "\" data-std=\"" + f[5] +
                       "\" data-n=\"" + f[6] + "\""),
              std::string::npos)
        << row;
    ++rows_seen;
  }
  EXPECT_EQ(rows_seen, 7);
  EXPECT_NE(svg.find("data-x=\"64\" data-y=\"1\" data-facet=\"mlp\" data-metric=\"accuracy\" "
                     "data-mean=\"0.25\""),
            std::string::npos);
  EXPECT_NE(svg.find("data-x=\"128\" data-y=\"2\" data-facet=\"transformer\" "
                     "data-metric=\"accuracy\" data-mean=\"\" data-std=\"\" data-n=\"0\""),
            std::string::npos);
}

TEST_F(CliTest, FigureHeatmapWithoutFacetNotesTheMixedKeys) {
  state_->jobs = HeatmapGrid();
  EXPECT_EQ(
      Run({"figure", "3", "--kind", "heatmap", "--x", "width", "--y", "layers", "--out", "-"}),
      kExitOk)
      << err_.str();
  EXPECT_NE(err_.str().find("note: groups mix jobs with different model; add to --facet to "
                            "split them"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(out_.str().find("data-facet-key=\"\""), std::string::npos);
  EXPECT_NE(out_.str().find("data-x=\"128\" data-y=\"2\" data-facet=\"\" data-metric=\"accuracy\" "
                            "data-mean=\"0.625\" data-std=\"0.1767766952966369\" data-n=\"2\""),
            std::string::npos)
      << out_.str();
}

TEST_F(CliTest, FigureHeatmapFlagErrors) {
  state_->jobs = HeatmapGrid();
  std::string path = (dir_ / "heatmap.svg").string();
  auto heatmap = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"figure", "3", "--kind", "heatmap", "--out", path};
    args.insert(args.end(), flags.begin(), flags.end());
    return Run(args);
  };
  EXPECT_EQ(heatmap({"--y", "layers"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: figure: --kind heatmap needs --x KEY and --y KEY\n");
  EXPECT_EQ(heatmap({"--x", "width", "--y", "width"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: --y: 'width' is already --x; a heatmap needs distinct keys\n");
  EXPECT_EQ(heatmap({"--x", "width", "--y", "layers", "--facet", "layers"}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "switchyard: --y: 'layers' is already a --facet key; a heatmap needs distinct keys\n");
  EXPECT_EQ(heatmap({"--x", "widht", "--y", "layers"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: --x: unknown key 'widht'; did you mean 'width'?\n");
  EXPECT_EQ(heatmap({"--x", "width", "--y", "layers", "--facet", "modle"}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: --facet: unknown key 'modle'; did you mean 'model'?\n");
  EXPECT_EQ(heatmap({"--x", "width,model", "--y", "layers"}), kExitUsage);
  EXPECT_EQ(heatmap({"--x", "width", "--y", "layers", "--group-by", "model"}), kExitUsage);
  EXPECT_EQ(heatmap({"--x", "width", "--y", "layers", "--metric", "acc"}), kExitUsage);
  EXPECT_EQ(Run({"figure", "3", "--kind", "bars", "--x", "width", "--out", path}), kExitUsage);
  EXPECT_EQ(err_.str(), "switchyard: --x: only for --kind heatmap\n");
  EXPECT_FALSE(std::filesystem::exists(path));
}

// ---- early stopping (issue 19): paused and stopped jobs, rungs, decisions

// A job the early-stopping scheduler cut short, with its last accuracy.
pb::Job CutShortJob(int64_t id, int64_t cell, const std::string& model,
                    const std::string& attention, int seed, pb::JobState state, double accuracy) {
  pb::Job job = MakeJob(id, cell, model, attention, seed, state, 0);
  (*job.mutable_final_metrics())["accuracy"] = accuracy;
  (*job.mutable_final_metrics())["loss"] = 1 - accuracy;
  return job;
}

pb::Decision MakeDecision(int64_t id, int64_t job, const std::string& kind, int rung, int epoch,
                          double value, const std::string& reason) {
  pb::Decision d;
  d.set_id(id);
  d.set_job_id(job);
  d.set_kind(kind);
  d.set_rung(rung);
  d.set_epoch(epoch);
  d.set_value(value);
  d.set_reason(reason);
  d.set_decided_at(1000 + 10 * id);
  return d;
}

class EarlyStoppingCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    // Sweep 3 gains two stopped mlp seeds and a paused transformer seed.
    pb::StateCounts* c = state_->sweeps[0].mutable_counts();
    c->set_stopped(2);
    c->set_paused(1);
    state_->jobs.push_back(CutShortJob(26, 5, "mlp", "none", 3, pb::JOB_STATE_STOPPED, 0.25));
    state_->jobs.push_back(CutShortJob(27, 6, "mlp", "none", 4, pb::JOB_STATE_STOPPED, 0.25));
    state_->jobs.push_back(
        CutShortJob(28, 7, "transformer", "softmax", 3, pb::JOB_STATE_PAUSED, 0.25));
    // Job 26 stopped after its first epoch.
    AddPoint(state_.get(), 26, "accuracy", 10, 0.25);
    AddPoint(state_.get(), 26, "epoch", 10, 1);
  }
};

TEST_F(EarlyStoppingCliTest, StatusAndJobsCountPausedAndStoppedJobs) {
  ASSERT_EQ(Run({"status", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "id,name,state,priority,jobs,done,running,pending,failed,lost,cancelled,paused,stopped,"
            "created,elapsed\n"
            "3,quick,active,0,8,3,0,1,1,0,0,1,2,1970-01-01 00:16:40,1m40s\n");
  ASSERT_EQ(Run({"status"}), kExitOk);
  EXPECT_NE(out_.str().find("cancelled  paused  stopped"), std::string::npos) << out_.str();

  ASSERT_EQ(Run({"jobs", "3", "--state", "stopped", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "id,cell,state,model,attention,tasks,seed,attempts,failures,accuracy,updated,cause\n"
            "26,5,stopped,mlp,none,IARC,3,1,0,0.25,-,\n"
            "27,6,stopped,mlp,none,IARC,4,1,0,0.25,-,\n");
  ASSERT_EQ(Run({"jobs", "3", "--state", "paused", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_EQ(Lines(out_.str()), 2);
  EXPECT_NE(out_.str().find("\n28,7,paused,transformer,softmax,"), std::string::npos)
      << out_.str();
  ASSERT_EQ(Run({"jobs", "3"}), kExitOk);
  EXPECT_EQ(Lines(out_.str()), 9);  // the header and 8 jobs
  EXPECT_EQ(out_.str().find("unknown"), std::string::npos) << out_.str();
}

TEST_F(EarlyStoppingCliTest, StatusOfAnAshaSweepPrintsItsRungs) {
  {
    pb::Sweep& sweep = state_->sweeps[0];
    pb::Scheduler* scheduler = sweep.mutable_spec()->mutable_scheduler();
    scheduler->set_kind("asha");
    scheduler->set_metric("accuracy");
    scheduler->set_mode("max");
    scheduler->set_min_epochs(1);
    scheduler->set_max_epochs(9);
    scheduler->set_reduction(3);
    const int64_t rungs[][6] = {{0, 1, 27, 9, 0, 18}, {1, 3, 9, 3, 1, 5}, {2, 9, 3, 0, 0, 0}};
    for (const auto& r : rungs) {
      pb::Rung* rung = sweep.add_rungs();
      rung->set_index(static_cast<int32_t>(r[0]));
      rung->set_epoch(static_cast<int32_t>(r[1]));
      rung->set_reached(r[2]);
      rung->set_promoted(r[3]);
      rung->set_paused(r[4]);
      rung->set_stopped(r[5]);
    }
    for (int64_t job : {31, 40, 52}) sweep.mutable_rungs(1)->add_promoted_jobs(job);
  }
  ASSERT_EQ(Run({"status", "3"}), kExitOk) << err_.str();
  EXPECT_NE(out_.str().find("  seed: 1, 2\n"
                            "\n"
                            "early stopping: asha on accuracy (max), epochs 1 to 9, reduction 3\n"
                            "  rung 0 (epoch 1): 27 reached, 9 promoted, 0 paused, 18 stopped\n"
                            "  rung 1 (epoch 3): 9 reached, 3 promoted, 1 paused, 5 stopped; "
                            "promoted: jobs 31, 40, 52\n"
                            "  rung 2 (epoch 9): 3 reached, 0 promoted, 0 paused, 0 stopped\n"),
            std::string::npos)
      << out_.str();
  // The list of sweeps and the machine formats carry counts, not rungs.
  ASSERT_EQ(Run({"status"}), kExitOk);
  EXPECT_EQ(out_.str().find("rung"), std::string::npos) << out_.str();
  ASSERT_EQ(Run({"status", "3", "--output", "csv"}), kExitOk);
  EXPECT_EQ(out_.str().find("rung"), std::string::npos) << out_.str();

  // The median rule has no rungs: its scheduler line only.
  state_->sweeps[0].clear_rungs();
  pb::Scheduler* scheduler = state_->sweeps[0].mutable_spec()->mutable_scheduler();
  scheduler->Clear();
  scheduler->set_kind("median");
  scheduler->set_metric("loss");
  scheduler->set_mode("min");
  scheduler->set_warmup_epochs(2);
  ASSERT_EQ(Run({"status", "3"}), kExitOk);
  EXPECT_NE(out_.str().find("\nearly stopping: median on loss (min), warmup 2 epochs\n"),
            std::string::npos)
      << out_.str();
  EXPECT_EQ(out_.str().find("rung"), std::string::npos) << out_.str();

  // A sweep without a scheduler says nothing about early stopping.
  state_->sweeps[0].mutable_spec()->clear_scheduler();
  ASSERT_EQ(Run({"status", "3"}), kExitOk);
  EXPECT_EQ(out_.str().find("early stopping"), std::string::npos) << out_.str();
}

TEST_F(EarlyStoppingCliTest, WhyAStoppedJobPrintsTheSchedulersReasons) {
  const std::string stop_reason =
      "stopped at rung 1 (epoch 3): accuracy 0.412, below the rung's top third (0.553, 9 jobs "
      "seen)";
  pb::Job& job = state_->jobs[5];  // 26, stopped
  ASSERT_EQ(job.id(), 26);
  *job.add_decisions() = MakeDecision(1, 26, "start", 0, 1, 0, "started at rung 0 (epoch 1)");
  *job.add_decisions() = MakeDecision(
      2, 26, "pause", 0, 1, 0.6, "paused at rung 0 (epoch 1): accuracy 0.600 (3 jobs seen)");
  *job.add_decisions() = MakeDecision(3, 26, "promote", 0, 1, 0.6, "");
  *job.add_decisions() = MakeDecision(4, 26, "stop", 1, 3, 0.412, stop_reason);
  pb::Attempt* first = job.add_attempts();
  first->set_number(1);
  first->set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
  first->set_worker_name("w1");
  pb::Attempt* second = job.add_attempts();
  second->set_number(2);
  second->set_outcome(pb::ATTEMPT_OUTCOME_STOPPED);
  second->set_worker_name("w1");
  job.set_attempt_count(2);

  ASSERT_EQ(Run({"why", "26"}), kExitOk) << err_.str();
  const std::string out = out_.str();
  EXPECT_NE(out.find("job 26 (sweep 3, cell 5: mlp none IARC seed 3) is stopped; 2 attempts"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  the sweep's early-stopping scheduler stopped it at rung 1 (epoch 3)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  `switchyard retry 3 --stopped` resumes it from its checkpoint to its "
                     "full epochs\n"),
            std::string::npos)
      << out;
  // Every decision, oldest first, the stop's reason verbatim and last.
  const size_t header = out.find("\nscheduler decisions (oldest first):\n");
  ASSERT_NE(header, std::string::npos) << out;
  const size_t start = out.find("  start    started at rung 0 (epoch 1)\n", header);
  const size_t pause =
      out.find("  pause    paused at rung 0 (epoch 1): accuracy 0.600 (3 jobs seen)\n", header);
  const size_t promote = out.find("  promote  at rung 0 (epoch 1), value 0.6\n", header);
  const size_t stop = out.find("  stop     " + stop_reason + "\n", header);
  ASSERT_NE(start, std::string::npos) << out;
  ASSERT_NE(pause, std::string::npos) << out;
  ASSERT_NE(promote, std::string::npos) << out;
  ASSERT_NE(stop, std::string::npos) << out;
  EXPECT_LT(start, pause);
  EXPECT_LT(pause, promote);
  EXPECT_LT(promote, stop);
  EXPECT_NE(out.find("1970-01-01 00:17:20  stop"), std::string::npos) << out;  // decided_at 1040
  // The attempt that obeyed the stop order is named as such.
  ASSERT_EQ(Run({"why", "26", "--output", "csv"}), kExitOk);
  EXPECT_NE(out_.str().find("\n2,stopped,w1,"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("\n1,succeeded,w1,"), std::string::npos) << out_.str();
}

TEST_F(EarlyStoppingCliTest, WhyAPausedJobWaitsForPromotion) {
  pb::Job& job = state_->jobs[7];  // 28, paused
  ASSERT_EQ(job.id(), 28);
  *job.add_decisions() = MakeDecision(1, 28, "start", 0, 1, 0, "started at rung 0 (epoch 1)");
  *job.add_decisions() = MakeDecision(2, 28, "pause", 0, 1, 0.2, "paused at rung 0 (epoch 1)");
  *job.add_decisions() = MakeDecision(3, 28, "promote", 0, 1, 0.2, "promoted to rung 1");
  *job.add_decisions() =
      MakeDecision(4, 28, "pause", 1, 3, 0.25, "paused at rung 1 (epoch 3): accuracy 0.250");
  ASSERT_EQ(Run({"why", "28"}), kExitOk) << err_.str();
  EXPECT_NE(out_.str().find(") is paused;"), std::string::npos) << out_.str();
  // The latest pause says where it waits.
  EXPECT_NE(out_.str().find("  it is paused at rung 1 (epoch 3) and waits for promotion"),
            std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("  pause    paused at rung 1 (epoch 3): accuracy 0.250\n"),
            std::string::npos)
      << out_.str();

  // A pending job promoted to a rung says how far its next attempt goes.
  state_->jobs[4].set_epoch_budget(3);  // 25, pending
  ASSERT_EQ(Run({"why", "25"}), kExitOk) << err_.str();
  EXPECT_NE(out_.str().find("  its next attempt trains to epoch 3, its rung's budget"),
            std::string::npos)
      << out_.str();
  // A job without decisions prints no decisions header.
  EXPECT_EQ(out_.str().find("scheduler decisions"), std::string::npos) << out_.str();
}

TEST_F(EarlyStoppingCliTest, ResultsLeaveOutStoppedJobsAndSayHowMany) {
  ASSERT_EQ(Run({"results", "3", "--output", "csv"}), kExitOk) << err_.str();
  // The same table as without the cut-short jobs.
  EXPECT_EQ(out_.str(),
            "model,attention,tasks,metric,mean,std,n\n"
            "mlp,none,IARC,accuracy,0.5,0.3535533905932738,2\n"
            "transformer,softmax,IARC,accuracy,0.5,,1\n");
  EXPECT_NE(err_.str().find("note: 2 of 8 jobs left out, not succeeded (1 failed, 1 pending)\n"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find(
                "note: left out 2 stopped and 1 paused jobs (--include-stopped includes them)\n"),
            std::string::npos)
      << err_.str();

  ASSERT_EQ(Run({"results", "3", "--include-stopped", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "model,attention,tasks,metric,mean,std,n\n"
            "mlp,none,IARC,accuracy,0.375,0.25,4\n"
            "transformer,softmax,IARC,accuracy,0.375,0.1767766952966369,2\n");
  EXPECT_EQ(err_.str().find("left out 2 stopped"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("note: included 2 stopped and 1 paused jobs at their last value"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("note: 2 of 8 jobs left out, not succeeded (1 failed, 1 pending)\n"),
            std::string::npos)
      << err_.str();

  // Stopped alone, as most finished ASHA sweeps have them.
  state_->jobs[7].set_state(pb::JOB_STATE_STOPPED);
  ASSERT_EQ(Run({"results", "3"}), kExitOk);
  EXPECT_NE(err_.str().find("note: left out 3 stopped jobs (--include-stopped includes them)\n"),
            std::string::npos)
      << err_.str();
  ASSERT_EQ(Run({"results", "--help"}), kExitOk);
  EXPECT_NE(out_.str().find("--include-stopped"), std::string::npos) << out_.str();
  ASSERT_EQ(Run({"figure", "--help"}), kExitOk);
  EXPECT_NE(out_.str().find("--include-stopped"), std::string::npos) << out_.str();
}

TEST_F(EarlyStoppingCliTest, FiguresLeaveOutStoppedJobsUnlessIncluded) {
  std::string bars = (dir_ / "bars.svg").string();
  ASSERT_EQ(Run({"figure", "3", "--kind", "bars", "--out", bars}), kExitOk) << err_.str();
  EXPECT_NE(err_.str().find("note: left out 2 stopped and 1 paused jobs (--include-stopped "
                            "includes them)\n"),
            std::string::npos)
      << err_.str();
  std::string svg = Read(bars);
  EXPECT_NE(svg.find("data-model=\"mlp\" data-tasks=\"IARC\" data-mean=\"0.5\" "
                     "data-std=\"0.3535533905932738\" data-n=\"2\""),
            std::string::npos)
      << svg;
  ASSERT_EQ(Run({"figure", "3", "--kind", "bars", "--include-stopped", "--out", bars}), kExitOk)
      << err_.str();
  svg = Read(bars);
  EXPECT_NE(svg.find("data-model=\"mlp\" data-tasks=\"IARC\" data-mean=\"0.375\" "
                     "data-std=\"0.25\" data-n=\"4\""),
            std::string::npos)
      << svg;

  // Curves: the stopped job's one epoch joins the mean at epoch 1 only.
  std::string curves = (dir_ / "curves.svg").string();
  ASSERT_EQ(Run({"figure", "3", "--kind", "curves", "--out", curves}), kExitOk) << err_.str();
  svg = Read(curves);
  EXPECT_NE(svg.find("data-x=\"1\" data-mean=\"0.25\" data-std=\"0.1767766952966369\" "
                     "data-n=\"2\""),
            std::string::npos)
      << svg;
  ASSERT_EQ(
      Run({"figure", "3", "--kind", "curves", "--include-stopped", "--out", curves}), kExitOk)
      << err_.str();
  svg = Read(curves);
  EXPECT_NE(svg.find("data-x=\"1\" data-mean=\"0.25\" data-std=\"0.125\" data-n=\"3\""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find("data-x=\"2\" data-mean=\"0.5\" data-std=\"0.3535533905932738\" "
                     "data-n=\"2\""),
            std::string::npos)
      << svg;
}

TEST_F(EarlyStoppingCliTest, ExportKeepsTheStoppedJobsPoints) {
  ASSERT_EQ(Run({"export", "3", "--out", "-"}), kExitOk) << err_.str();
  EXPECT_NE(out_.str().find("\n3,26,mlp,none,IARC,3,accuracy,10,0.25\n"), std::string::npos)
      << out_.str();
  EXPECT_NE(err_.str().find("wrote 20 metric points of sweep 3 (8 jobs)"), std::string::npos)
      << err_.str();
}

TEST_F(EarlyStoppingCliTest, RetryStoppedSendsTheStoppedState) {
  ASSERT_EQ(Run({"retry", "3", "--stopped"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "sweep 3: requeued 2 stopped jobs; stopped jobs resume from their checkpoints to "
            "their full epochs\n");
  ASSERT_EQ(Run({"retry", "3", "--state", "failed", "--stopped"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str().rfind("sweep 3: requeued 2 failed or stopped jobs", 0), 0u) << out_.str();
  ASSERT_EQ(Run({"retry", "3", "--state", "failed,lost,stopped"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str().rfind("sweep 3: requeued 2 failed, lost or stopped jobs", 0), 0u)
      << out_.str();
  ASSERT_EQ(Run({"retry", "3"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), "sweep 3: requeued 2 failed or lost jobs\n");
  ASSERT_EQ(state_->retried.size(), 4u);
  EXPECT_EQ(std::vector<int>(state_->retried[0].states().begin(),
                             state_->retried[0].states().end()),
            std::vector<int>{pb::JOB_STATE_STOPPED});
  EXPECT_EQ(std::vector<int>(state_->retried[1].states().begin(),
                             state_->retried[1].states().end()),
            (std::vector<int>{pb::JOB_STATE_FAILED, pb::JOB_STATE_STOPPED}));
  EXPECT_EQ(std::vector<int>(state_->retried[2].states().begin(),
                             state_->retried[2].states().end()),
            (std::vector<int>{pb::JOB_STATE_FAILED, pb::JOB_STATE_LOST, pb::JOB_STATE_STOPPED}));
  // The default stays failed and lost.
  EXPECT_EQ(std::vector<int>(state_->retried[3].states().begin(),
                             state_->retried[3].states().end()),
            (std::vector<int>{pb::JOB_STATE_FAILED, pb::JOB_STATE_LOST}));
  EXPECT_EQ(Run({"retry", "3", "--state", "paused"}), kExitUsage);
  EXPECT_EQ(state_->retried.size(), 4u);
  ASSERT_EQ(Run({"retry", "--help"}), kExitOk);
  EXPECT_NE(out_.str().find("--stopped"), std::string::npos) << out_.str();
}

pb::SweepEvent StoppingEvent(int64_t running, int64_t succeeded, int64_t failed, int64_t paused,
                             int64_t stopped, bool done) {
  pb::SweepEvent event = Event(0, running, succeeded, failed, done);
  event.mutable_sweep()->mutable_counts()->set_paused(paused);
  event.mutable_sweep()->mutable_counts()->set_stopped(stopped);
  return event;
}

TEST_F(EarlyStoppingCliTest, WatchCountsPausedAndStoppedAndEndsWhenNothingIsPaused) {
  // Job 28 is paused when the watch starts: it has not ended, so its stop is
  // announced later.
  state_->jobs = {state_->jobs[7]};
  state_->events.push_back(StoppingEvent(1, 1, 0, 2, 0, false));
  // "done" while a job is still paused is not the end.
  state_->events.push_back(StoppingEvent(0, 1, 0, 1, 2, true));
  pb::SweepEvent last = StoppingEvent(0, 1, 0, 0, 3, true);
  pb::Job stopped = state_->jobs[0];
  stopped.set_state(pb::JOB_STATE_STOPPED);
  *last.add_newly_finished() = stopped;
  state_->events.push_back(last);
  // Stopped jobs are no failure: exit 0.
  EXPECT_EQ(Run({"watch", "3"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "sweep 3: 1/4 ended (25.0%) | done 1 running 1 pending 0 failed 0 lost 0 paused 2 | "
            "elapsed 1m40s eta 5m00s\n"
            "sweep 3: 3/4 ended (75.0%) | done 1 running 0 pending 0 failed 0 lost 0 paused 1 "
            "stopped 2 | elapsed 1m40s eta 33s\n"
            "job 28 stopped: transformer softmax IARC seed 3, accuracy 0.2500\n"
            "sweep 3: 4/4 ended (100.0%) | done 1 running 0 pending 0 failed 0 lost 0 stopped 3 "
            "| elapsed 1m40s eta 0s\n"
            "best accuracy so far:\n"
            "  model        attention  accuracy  job\n"
            "  transformer  softmax    0.2500    28\n");
  EXPECT_TRUE(state_->events.empty());
}

TEST_F(EarlyStoppingCliTest, WatchExitsFourWhenAJobFailedBesidesStoppedOnes) {
  state_->jobs.clear();
  state_->events.push_back(StoppingEvent(0, 1, 1, 0, 2, true));
  EXPECT_EQ(Run({"watch", "3"}), kExitSweepFailed);
  EXPECT_EQ(err_.str(),
            "switchyard: sweep 3 ended: 1 of 4 jobs succeeded, 2 stopped early (failed 1, lost 0, "
            "cancelled 0); see switchyard jobs 3 and switchyard why JOB\n");
}

}  // namespace
}  // namespace switchyard::client
