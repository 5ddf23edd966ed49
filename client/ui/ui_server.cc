#include "client/ui/ui_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/cli.h"
#include "client/commands/commands.h"
#include "client/errors.h"
#include "client/render/table.h"
#include "common/config/job_config.h"

namespace switchyard::client::ui {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kSessionCookie[] = "switchyard_session";

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpResponse JsonResponse(const json& value, int status = 200) {
  return HttpResponse::Json(status, Dump(value));
}

std::string AttemptOutcomeName(pb::AttemptOutcome outcome) {
  std::string name = pb::AttemptOutcome_Name(outcome);
  if (absl::StartsWith(name, "ATTEMPT_OUTCOME_")) name = name.substr(16);
  return absl::AsciiStrToLower(name);
}

// The HTTP answer for an error from the coordinator (or from the CLI's own
// checks). `what` names the thing a NOT_FOUND is about ("sweep 3").
HttpResponse ErrorResponse(const absl::Status& status, const std::string& what = "") {
  const bool local = ExitCodeFor(status) == kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return HttpResponse::Error(
          404, what.empty() ? std::string(status.message()) : absl::StrCat(what, " does not exist"));
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return HttpResponse::Error(400, status.message());
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return HttpResponse::Error(409, status.message());
    case absl::StatusCode::kUnimplemented:
      return HttpResponse::Error(
          501, absl::StrCat("the coordinator does not serve this yet (", status.message(),
                            "); is it older than this switchyard?"));
    case absl::StatusCode::kDeadlineExceeded:
      return HttpResponse::Error(504, absl::StrCat("the coordinator did not answer in time: ",
                                                   status.message()));
    case absl::StatusCode::kUnavailable:
      return HttpResponse::Error(502, absl::StrCat("cannot reach the coordinator: ", status.message()));
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return HttpResponse::Error(
          502, absl::StrCat("the coordinator refused switchyard ui's token: ", status.message()));
    case absl::StatusCode::kResourceExhausted:
      return HttpResponse::Error(503, status.message());
    default:
      return HttpResponse::Error(local ? 400 : 500, status.message());
  }
}

// ---- query parameters; every error is 400 naming the parameter.

absl::Status BadParam(absl::string_view name, absl::string_view expected, absl::string_view got) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": expected ", expected, ", got '", got, "'"));
}

absl::StatusOr<int64_t> IntParam(const HttpRequest& request, absl::string_view name, int64_t min,
                                 int64_t max, std::optional<int64_t> fallback) {
  if (!request.Has(name)) {
    if (fallback.has_value()) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(name, ": required"));
  }
  const std::string text = request.Query(name);
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max ||
      text.find_first_not_of("-0123456789") != std::string::npos) {
    return BadParam(name, absl::StrCat("an integer from ", min, " to ", max), text);
  }
  return value;
}

absl::StatusOr<int64_t> IdText(absl::string_view name, const std::string& text) {
  int64_t value = 0;
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(text, &value) || value <= 0) {
    return BadParam(name, "a positive integer", text);
  }
  return value;
}

absl::StatusOr<int64_t> IdParam(const HttpRequest& request, absl::string_view name) {
  if (!request.Has(name)) return absl::InvalidArgumentError(absl::StrCat(name, ": required"));
  return IdText(name, request.Query(name));
}

absl::StatusOr<std::vector<int64_t>> IdListParam(const HttpRequest& request, absl::string_view name) {
  std::vector<int64_t> ids;
  if (!request.Has(name)) return ids;
  const std::string text = request.Query(name);
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    absl::StatusOr<int64_t> id = IdText(name, std::string(part));
    if (!id.ok()) return BadParam(name, "comma-separated positive integers", text);
    ids.push_back(*id);
  }
  return ids;
}

std::vector<std::string> ListParam(const HttpRequest& request, absl::string_view name) {
  std::vector<std::string> items;
  for (absl::string_view part : absl::StrSplit(request.Query(name), ',', absl::SkipEmpty())) {
    items.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return items;
}

absl::StatusOr<bool> BoolParam(const HttpRequest& request, absl::string_view name) {
  const std::string text = request.Query(name);
  if (!request.Has(name) || text == "0" || text == "false") return false;
  if (text == "1" || text == "true" || text.empty()) return true;
  return BadParam(name, "1 or 0", text);
}

absl::StatusOr<std::string> ChoiceParam(const HttpRequest& request, absl::string_view name,
                                        const std::vector<std::string>& choices,
                                        std::optional<std::string> fallback) {
  if (!request.Has(name)) {
    if (fallback.has_value()) return *fallback;
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": required, one of ", absl::StrJoin(choices, ", ")));
  }
  const std::string text = request.Query(name);
  if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
    return BadParam(name, absl::StrCat("one of ", absl::StrJoin(choices, ", ")), text);
  }
  return text;
}

// The metric name: letters, digits and _ . / - (a name a trainer logs).
absl::StatusOr<std::string> MetricParam(const HttpRequest& request, absl::string_view name) {
  if (!request.Has(name) || request.Query(name).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": required (a metric name)"));
  }
  return request.Query(name);
}

// Config keys for group_by: the registry's keys or params.NAME.
absl::StatusOr<std::vector<std::string>> KeysParam(const HttpRequest& request,
                                                   absl::string_view name) {
  if (!request.Has(name) || request.Query(name).empty()) return std::vector<std::string>{};
  return ParseConfigKeys(std::string_view(name.data(), name.size()), request.Query(name));
}

std::string ContentDisposition(const std::string& file) {
  return absl::StrCat("attachment; filename=\"", file, "\"");
}

// The built-in page for a build without web/src, and the login form when
// the build has no login.html. No script, no inline style (the CSP allows
// neither).
std::string PlainPage(const std::string& title, const std::string& body_html,
                      const std::string& stylesheet) {
  return absl::StrCat(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>",
      title, "</title>",
      stylesheet.empty() ? "" : absl::StrCat("<link rel=\"stylesheet\" href=\"/assets/", stylesheet, "\">"),
      "</head><body>", body_html, "</body></html>\n");
}

}  // namespace

// -------------------------------------------------------------- security

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const auto* const headers = new std::vector<std::pair<std::string, std::string>>{
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  return *headers;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (absl::EqualsIgnoreCase(host, "localhost") || host == "::1") return true;
  // 127.0.0.0/8, written as four decimal numbers.
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view part : parts) {
    int value = 0;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &value) || value < 0 ||
        value > 255 || part.find_first_not_of("0123456789") != absl::string_view::npos) {
      return false;
    }
  }
  return parts[0] == "127";
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // The lengths are not secret (every token has the same length).
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd >= 0 && got < bytes) {
    ssize_t n = ::read(fd, raw.data() + got, bytes - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  if (got < bytes) {
    // No /dev/urandom: refuse to run with a guessable token.
    std::fprintf(stderr, "switchyard: cannot read /dev/urandom\n");
    std::abort();
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char c : raw) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

// ------------------------------------------------------------------ JSON

json Number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json SweepJson(const pb::Sweep& sweep, bool detail) {
  const pb::StateCounts& c = sweep.counts();
  json counts = {{"pending", c.pending()},     {"running", c.running()},
                 {"succeeded", c.succeeded()}, {"failed", c.failed()},
                 {"lost", c.lost()},           {"cancelled", c.cancelled()},
                 {"paused", c.paused()},       {"stopped", c.stopped()}};
  const int64_t total = c.pending() + c.running() + c.succeeded() + c.failed() + c.lost() +
                        c.cancelled() + c.paused() + c.stopped();
  const bool finished = sweep.state() == pb::SWEEP_STATE_FINISHED;
  json out = {{"id", sweep.id()},
              {"name", sweep.name()},
              {"priority", sweep.priority()},
              {"state", finished ? "finished" : "active"},
              {"counts", counts},
              {"total", total},
              {"created_at", Number(sweep.created_at())},
              {"finished_at", finished && sweep.finished_at() > 0 ? Number(sweep.finished_at())
                                                                  : json(nullptr)}};
  if (detail) {
    const pb::Scheduler& s = sweep.spec().scheduler();
    if (s.kind().empty()) {
      out["scheduler"] = nullptr;
    } else {
      out["scheduler"] = {{"kind", s.kind()},
                          {"metric", s.metric()},
                          {"mode", s.mode()},
                          {"min_epochs", s.min_epochs()},
                          {"max_epochs", s.max_epochs()},
                          {"reduction", s.reduction()},
                          {"warmup_epochs", s.warmup_epochs()}};
    }
    json rungs = json::array();
    for (const pb::Rung& r : sweep.rungs()) {
      rungs.push_back({{"index", r.index()},
                       {"epoch", r.epoch()},
                       {"reached", r.reached()},
                       {"promoted", r.promoted()},
                       {"paused", r.paused()},
                       {"stopped", r.stopped()}});
    }
    out["rungs"] = rungs;
    out["max_attempts"] = sweep.max_attempts();
  }
  return out;
}

json FlatConfig(const std::string& config_json) {
  json config = json::parse(config_json, nullptr, false);
  json flat = json::object();
  if (!config.is_object()) return flat;
  for (const auto& [key, value] : config.items()) {
    if (key == "params" && value.is_object()) {
      for (const auto& [name, param] : value.items()) {
        flat[std::string(config::kProgramParamPrefix) + name] = param;
      }
      continue;
    }
    flat[key] = value;
  }
  return flat;
}

json JobJson(const pb::Job& job) { return JobJson(job, FlatConfig(job.config_json())); }

json JobJson(const pb::Job& job, json config) {
  json final_metrics = json::object();
  for (const auto& [name, value] : job.final_metrics()) final_metrics[name] = Number(value);
  return {{"id", job.id()},
          {"cell_index", job.cell_index()},
          {"state", JobStateName(job.state())},
          {"config", std::move(config)},
          {"final", final_metrics},
          {"attempts", job.attempt_count()},
          {"failures", job.failures()},
          {"last_cause", job.last_cause()}};
}

json WorkerJson(const pb::Worker& w) {
  json devices = json::array();
  for (const pb::Device& d : w.devices()) {
    devices.push_back({{"name", d.name()},
                       {"kind", d.kind()},
                       {"slots", d.slots()},
                       {"slots_busy", d.slots_busy()},
                       {"memory_bytes", d.memory_bytes()},
                       {"description", d.description()}});
  }
  return {{"id", w.id()},
          {"name", w.name()},
          {"hostname", w.hostname()},
          {"state", w.state()},
          {"slots_busy", w.slots_busy()},
          {"slots_total", w.slots_total()},
          {"devices", devices},
          {"last_seen", Number(w.last_seen())},
          {"registered_at", Number(w.registered_at())},
          {"build_version", w.build_version()},
          {"trainer_version", w.trainer_version()},
          {"cuda_version", w.cuda_version()},
          {"programs", std::vector<std::string>(w.programs().begin(), w.programs().end())},
          {"quarantined", w.quarantined()},
          {"quarantine_cause", w.quarantine_cause()}};
}

namespace {

// The config keys whose values differ between jobs, in sweep-file order:
// the axes, then the distributions, then any other (alphabetically).
std::vector<std::string> VaryingKeys(const pb::Sweep& sweep, const std::vector<json>& configs) {
  std::set<std::string> varying;
  if (!configs.empty()) {
    std::set<std::string> all;
    for (const json& c : configs) {
      for (const auto& [key, value] : c.items()) all.insert(key);
    }
    for (const std::string& key : all) {
      const json* first = nullptr;
      bool missing_first = !configs.front().contains(key);
      if (!missing_first) first = &configs.front()[key];
      for (const json& c : configs) {
        const bool missing = !c.contains(key);
        if (missing != missing_first || (!missing && c[key] != *first)) {
          varying.insert(key);
          break;
        }
      }
    }
  }
  std::vector<std::string> ordered;
  auto take = [&](const std::string& key) {
    if (varying.erase(key)) ordered.push_back(key);
  };
  for (const pb::Axis& axis : sweep.spec().axes()) take(axis.key());
  for (const pb::Distribution& d : sweep.spec().distributions()) take(d.key());
  for (const std::string& key : std::set<std::string>(varying)) take(key);
  return ordered;
}

// The sweep page's starting metric when its URL names none: the first of
// these that the jobs logged, else their first metric other than epoch and
// step.
std::string DefaultMetric(const std::vector<std::string>& metrics) {
  for (const char* preferred : {"accuracy", "eval_accuracy", "eval_loss", "loss"}) {
    if (std::find(metrics.begin(), metrics.end(), preferred) != metrics.end()) return preferred;
  }
  for (const std::string& m : metrics) {
    if (m != "epoch" && m != "step") return m;
  }
  return metrics.empty() ? std::string() : metrics.front();
}

// Its starting group-by: model and attention where they vary, else the first
// two varying keys other than seed and tasks (seeds are what a group
// averages over; tasks have their bars).
std::vector<std::string> DefaultGroupBy(const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  for (const char* preferred : {"model", "attention"}) {
    if (std::find(keys.begin(), keys.end(), preferred) != keys.end()) out.push_back(preferred);
  }
  if (!out.empty()) return out;
  for (const std::string& key : keys) {
    if (key != "seed" && key != "tasks" && out.size() < 2) out.push_back(key);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- events

std::optional<Event> Subscription::Next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait_for(lock, timeout, [this] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) return std::nullopt;
  Event event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool Subscription::closed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

void Subscription::Push(const Event& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return;
  if (queue_.size() >= kMaxQueued) {
    // A page that does not keep up is dropped; its EventSource reconnects
    // and the page reloads what it shows.
    queue_.clear();
    closed_ = true;
  } else {
    queue_.push_back(event);
  }
  ready_.notify_all();
}

void Subscription::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  ready_.notify_all();
}

struct EventHub::Channel {
  int64_t sweep_id = 0;
  std::mutex mutex;
  std::condition_variable wake;
  bool closing = false;                                    // guarded by mutex
  std::vector<std::shared_ptr<Subscription>> subscribers;  // guarded by mutex
  SweepEventReader* watch = nullptr;                       // guarded by mutex
  MetricTailReader* tail = nullptr;                        // guarded by mutex
  std::vector<std::thread> threads;
  // Watch thread only: each job's last state as sent, for `jobs` events;
  // seeded without an event by the channel's first listing (each page reads
  // the jobs from /api/sweeps/ID: sending all of them again was most of a
  // big sweep's first-paint bytes).
  std::map<int64_t, std::string> job_states;
  bool job_states_seeded = false;
  // Poll thread only: each sweep's last JSON as sent.
  std::map<int64_t, std::string> sweep_states;
  // Set when a page joins the all-sweeps stream: the next poll sends every
  // sweep again (guarded by mutex).
  bool resend = false;
};

EventHub::EventHub(CoordinatorClient* client, double poll_seconds, double retry_seconds)
    : client_(client), poll_seconds_(poll_seconds), retry_seconds_(retry_seconds) {}

EventHub::~EventHub() { Shutdown(); }

std::shared_ptr<Subscription> EventHub::Subscribe(int64_t sweep_id) {
  auto subscription = std::make_shared<Subscription>(sweep_id);
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) {
    subscription->Close();
    return subscription;
  }
  std::shared_ptr<Channel>& channel = channels_[sweep_id];
  if (channel == nullptr) {
    channel = std::make_shared<Channel>();
    channel->sweep_id = sweep_id;
    channel->subscribers.push_back(subscription);
    Channel* c = channel.get();
    if (sweep_id == 0) {
      channel->threads.emplace_back([this, c] { RunPoll(c); });
    } else {
      channel->threads.emplace_back([this, c] { RunWatch(c); });
      channel->threads.emplace_back([this, c] { RunTail(c); });
    }
  } else {
    std::lock_guard<std::mutex> channel_lock(channel->mutex);
    channel->subscribers.push_back(subscription);
    if (sweep_id == 0) {
      channel->resend = true;
      channel->wake.notify_all();
    }
  }
  return subscription;
}

void EventHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::shared_ptr<Channel> to_close;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = channels_.find(subscription->sweep_id());
    if (it == channels_.end()) return;
    std::shared_ptr<Channel> channel = it->second;
    std::lock_guard<std::mutex> channel_lock(channel->mutex);
    auto& subs = channel->subscribers;
    subs.erase(std::remove(subs.begin(), subs.end(), subscription), subs.end());
    if (subs.empty()) {
      to_close = channel;
      channels_.erase(it);
    }
  }
  subscription->Close();
  if (to_close != nullptr) CloseChannel(std::move(to_close));
}

void EventHub::CloseChannel(std::shared_ptr<Channel> channel) {
  {
    std::lock_guard<std::mutex> lock(channel->mutex);
    channel->closing = true;
    if (channel->watch != nullptr) channel->watch->Cancel();
    if (channel->tail != nullptr) channel->tail->Cancel();
    channel->wake.notify_all();
    for (const auto& s : channel->subscribers) s->Close();
  }
  for (std::thread& t : channel->threads) {
    if (t.joinable()) t.join();
  }
}

void EventHub::Shutdown() {
  std::map<int64_t, std::shared_ptr<Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
    channels.swap(channels_);
  }
  for (auto& [id, channel] : channels) CloseChannel(channel);
}

size_t EventHub::channel_count() {
  std::lock_guard<std::mutex> lock(mutex_);
  return channels_.size();
}

void EventHub::Publish(Channel* channel, const Event& event) {
  std::lock_guard<std::mutex> lock(channel->mutex);
  for (const auto& s : channel->subscribers) s->Push(event);
}

bool EventHub::Pause(Channel* channel, double seconds) {
  std::unique_lock<std::mutex> lock(channel->mutex);
  channel->wake.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)),
                         [channel] { return channel->closing || channel->resend; });
  return !channel->closing;
}

void EventHub::RunWatch(Channel* channel) {
  const int64_t sweep_id = channel->sweep_id;
  for (;;) {
    absl::StatusOr<std::unique_ptr<SweepEventReader>> reader = client_->WatchSweep(sweep_id);
    if (!reader.ok()) {
      if (!Pause(channel, retry_seconds_)) return;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(channel->mutex);
      if (channel->closing) return;  // the reader's destructor cancels it
      channel->watch = reader->get();
    }
    bool done = false;
    pb::SweepEvent event;
    while ((*reader)->Read(&event)) {
      Publish(channel, Event{"sweep", Dump(SweepJson(event.sweep()))});
      // The jobs whose state changed: one ListJobs per change of counts,
      // shared by every page.
      absl::StatusOr<std::vector<pb::Job>> jobs =
          client_->ListJobs(sweep_id, pb::JOB_STATE_UNSPECIFIED);
      if (jobs.ok()) {
        json changed = json::array();
        for (const pb::Job& job : *jobs) {
          json j = JobJson(job);
          std::string text = Dump(j);
          std::string& last = channel->job_states[job.id()];
          if (last != text) {
            last = std::move(text);
            changed.push_back(std::move(j));
          }
        }
        if (!changed.empty() && channel->job_states_seeded) {
          Publish(channel, Event{"jobs", Dump(json{{"jobs", changed}})});
        }
        channel->job_states_seeded = true;
      }
      if (event.done()) {
        done = true;
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(channel->mutex);
      channel->watch = nullptr;
    }
    if (!done) (*reader)->Cancel();
    (void)(*reader)->Finish();
    reader->reset();
    if (done) return;  // the sweep has ended: nothing more will change
    if (!Pause(channel, retry_seconds_)) return;
  }
}

void EventHub::RunTail(Channel* channel) {
  for (;;) {
    pb::TailMetricsRequest request;
    request.set_sweep_id(channel->sweep_id);
    absl::StatusOr<std::unique_ptr<MetricTailReader>> reader = client_->TailMetrics(request);
    if (!reader.ok()) {
      if (absl::IsUnimplemented(reader.status())) return;
      if (!Pause(channel, retry_seconds_)) return;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(channel->mutex);
      if (channel->closing) return;
      channel->tail = reader->get();
    }
    pb::TailMetricsResponse batch;
    while ((*reader)->Read(&batch)) {
      if (batch.points().empty()) continue;
      json points = json::array();
      for (const pb::JobMetricPoint& p : batch.points()) {
        points.push_back(
            json::array({p.job_id(), p.point().name(), p.point().step(), Number(p.point().value())}));
      }
      Publish(channel, Event{"points", Dump(json{{"points", points}})});
    }
    {
      std::lock_guard<std::mutex> lock(channel->mutex);
      channel->tail = nullptr;
    }
    absl::Status status = (*reader)->Finish();
    reader->reset();
    // A coordinator without TailMetrics: no live points (the page still
    // polls nothing; its curves refresh through /api/series).
    if (absl::IsUnimplemented(status)) return;
    if (!Pause(channel, retry_seconds_)) return;
  }
}

void EventHub::RunPoll(Channel* channel) {
  // Every sweep's counts: one ListSweeps per poll_seconds for the whole ui
  // process, however many pages watch.
  do {
    {
      std::lock_guard<std::mutex> lock(channel->mutex);
      if (channel->resend) channel->sweep_states.clear();
      channel->resend = false;
    }
    absl::StatusOr<std::vector<pb::Sweep>> sweeps = client_->ListSweeps();
    if (sweeps.ok()) {
      for (const pb::Sweep& sweep : *sweeps) {
        std::string text = Dump(SweepJson(sweep));
        std::string& last = channel->sweep_states[sweep.id()];
        if (last != text) {
          last = text;
          Publish(channel, Event{"sweep", std::move(text)});
        }
      }
    }
  } while (Pause(channel, poll_seconds_));
}

// ---------------------------------------------------------------- server

UiServer::UiServer(CoordinatorClient* client, UiOptions options)
    : client_(client),
      options_(std::move(options)),
      csrf_(RandomHex(32)),
      hub_(client, options_.poll_seconds, options_.retry_seconds) {
  AddRoutes();
}

UiServer::~UiServer() { Shutdown(); }

void UiServer::Shutdown() {
  stopping_.store(true);
  hub_.Shutdown();
}

void UiServer::AddRoutes() {
  auto bind = [this](HttpResponse (UiServer::*method)(HttpRequest&)) {
    return [this, method](HttpRequest& r) { return (this->*method)(r); };
  };
  auto page = [this](HttpRequest& r) { return Page(r); };
  router_.Add("GET", "/", page);
  router_.Add("GET", "/sweeps/{id}", page);
  router_.Add("GET", "/jobs/{id}", page);
  router_.Add("GET", "/workers", page);
  router_.Add("GET", "/login", [this](HttpRequest& r) { return LoginPage(r); });
  router_.Add("POST", "/login", bind(&UiServer::Login));
  router_.Add("POST", "/logout", bind(&UiServer::Logout));
  router_.Add("GET", "/assets/*", [this](HttpRequest& r) {
    const Asset* asset = FindAsset(r.params["*"]);
    if (asset == nullptr) return HttpResponse::Error(404, absl::StrCat("no such file: ", r.path));
    HttpResponse response;
    response.content_type = std::string(asset->content_type);
    response.body = std::string(asset->bytes);
    response.headers.emplace_back("Cache-Control", "no-cache");
    return response;
  });
  router_.Add("GET", "/api/session", bind(&UiServer::GetSession));
  router_.Add("GET", "/api/sweeps", bind(&UiServer::GetSweeps));
  router_.Add("GET", "/api/sweeps/{id}", bind(&UiServer::GetSweep));
  router_.Add("GET", "/api/jobs/{id}", bind(&UiServer::GetJob));
  router_.Add("GET", "/api/workers", bind(&UiServer::GetWorkers));
  router_.Add("GET", "/api/series", bind(&UiServer::GetSeries));
  router_.Add("GET", "/api/aggregate", bind(&UiServer::GetAggregate));
  router_.Add("GET", "/api/events", bind(&UiServer::GetEvents));
  router_.Add("POST", "/api/sweeps/{id}/cancel", bind(&UiServer::CancelSweep));
  router_.Add("POST", "/api/jobs/{id}/cancel", bind(&UiServer::CancelJob));
  router_.Add("POST", "/api/sweeps/{id}/retry", bind(&UiServer::RetrySweep));
  router_.Add("GET", "/download/figure.svg", bind(&UiServer::DownloadFigure));
  router_.Add("GET", "/download/data.csv", bind(&UiServer::DownloadData));
}

const Asset* UiServer::FindAsset(absl::string_view path) const {
  for (const Asset& asset : options_.assets) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

std::string UiServer::NewSession() {
  std::string id = RandomHex(32);
  std::lock_guard<std::mutex> lock(sessions_mutex_);
  const Clock::time_point now = Clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second < now ? sessions_.erase(it) : std::next(it);
  }
  sessions_[id] = now + std::chrono::seconds(static_cast<int64_t>(options_.session_seconds));
  return id;
}

bool UiServer::HasSession(const HttpRequest& request) {
  const std::string id = request.Cookie(kSessionCookie);
  if (id.empty()) return false;
  std::lock_guard<std::mutex> lock(sessions_mutex_);
  // Compared in constant time with each open session (there are few).
  bool found = false;
  const Clock::time_point now = Clock::now();
  for (const auto& [session, expiry] : sessions_) {
    if (ConstantTimeEquals(session, id) && expiry > now) found = true;
  }
  return found;
}

HttpResponse UiServer::Handle(HttpRequest& request) {
  // A page of another site that a DNS name rebinds to 127.0.0.1 sends its own
  // name as Host: refused, so that it cannot read the API.
  if (!options_.allowed_hosts.empty()) {
    const std::string host = absl::AsciiStrToLower(request.Header("host"));
    if (std::find(options_.allowed_hosts.begin(), options_.allowed_hosts.end(), host) ==
        options_.allowed_hosts.end()) {
      return HttpResponse::Error(
          403, absl::StrCat("unexpected Host header '", request.Header("host"), "'; open ",
                            options_.allowed_hosts.front()));
    }
  }
  const bool api = absl::StartsWith(request.path, "/api/") || request.path == "/api" ||
                   absl::StartsWith(request.path, "/download/");
  const bool open_path = request.path == "/login" || absl::StartsWith(request.path, "/assets/");
  if (options_.require_login && !open_path && !HasSession(request)) {
    if (api || request.method != "GET") {
      return HttpResponse::Error(401, "log in first: open /login and give the ui token");
    }
    HttpResponse response;
    response.status = 303;
    response.content_type = "text/plain; charset=utf-8";
    response.body = "log in at /login\n";
    response.headers.emplace_back("Location", "/login");
    return response;
  }
  // Every POST carries the CSRF token, except the login form (which has no
  // session to protect yet and cannot send headers).
  if (request.method == "POST" && request.path != "/login") {
    const std::string sent = request.Header("x-csrf-token");
    if (sent.empty() || !ConstantTimeEquals(sent, csrf_)) {
      return HttpResponse::Error(403, "missing or wrong CSRF token");
    }
  }
  HttpResponse response = router_.Handle(request);
  bool has_cache_control = false;
  for (const auto& [name, value] : response.headers) has_cache_control |= name == "Cache-Control";
  if (!has_cache_control && (api || response.content_type == "application/json")) {
    response.headers.emplace_back("Cache-Control", "no-store");
  }
  return response;
}

// ----------------------------------------------------------------- pages

HttpResponse UiServer::Page(const HttpRequest&) {
  HttpResponse response;
  response.content_type = "text/html; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-cache");
  if (const Asset* index = FindAsset("index.html"); index != nullptr) {
    response.body = std::string(index->bytes);
    return response;
  }
  response.status = 500;
  response.body = PlainPage(
      "switchyard ui",
      "<h1>switchyard ui</h1><p>This switchyard was built without the page's files "
      "(web/src was missing). The JSON API under /api works; rebuild from a full checkout "
      "for the page.</p>",
      "");
  return response;
}

HttpResponse UiServer::LoginPage(const HttpRequest& request) {
  HttpResponse response;
  response.content_type = "text/html; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-store");
  if (const Asset* login = FindAsset("login.html"); login != nullptr) {
    response.body = std::string(login->bytes);
    return response;
  }
  const bool failed = request.Has("failed");
  response.body = PlainPage(
      "switchyard ui: log in",
      absl::StrCat(
          "<main class=\"login\"><h1>switchyard ui</h1>",
          failed ? "<p class=\"error\">That token is not right.</p>" : "",
          "<form method=\"post\" action=\"/login\">"
          "<label for=\"token\">UI token (the file `switchyard ui` named on stderr)</label> "
          "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" "
          "required autofocus> <button type=\"submit\">Log in</button></form></main>"),
      FindAsset("login.css") != nullptr ? "login.css" : "");
  return response;
}

HttpResponse UiServer::Login(HttpRequest& request) {
  auto redirect = [](const std::string& to) {
    HttpResponse response;
    response.status = 303;
    response.content_type = "text/plain; charset=utf-8";
    response.body = absl::StrCat("see ", to, "\n");
    response.headers.emplace_back("Location", to);
    return response;
  };
  // A form of another site posting here would log the browser in with a
  // token of the attacker's choice; its Origin gives it away.
  if (const std::string origin = request.Header("origin"); !origin.empty() && origin != "null") {
    const std::string host = request.Header("host");
    if (origin != absl::StrCat("http://", host) && origin != absl::StrCat("https://", host)) {
      return HttpResponse::Error(403, "a login from another origin");
    }
  }
  if (!options_.require_login) return redirect("/");
  std::string token;
  const std::string type = absl::AsciiStrToLower(request.Header("content-type"));
  if (absl::StartsWith(type, "application/json")) {
    json body = json::parse(request.body, nullptr, false);
    if (body.is_object() && body.contains("token") && body["token"].is_string()) {
      token = body["token"].get<std::string>();
    }
  } else {
    absl::StatusOr<std::map<std::string, std::string>> form = ParseQuery(request.body);
    if (!form.ok()) return HttpResponse::Error(400, form.status().message());
    token = (*form)["token"];
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty() || !ConstantTimeEquals(token, options_.ui_token)) {
    // Slows guessing down (the token is 256 random bits; this is for show).
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int64_t>(options_.login_failure_delay_seconds * 1000)));
    if (absl::StartsWith(type, "application/json")) return HttpResponse::Error(401, "wrong token");
    return redirect("/login?failed=1");
  }
  HttpResponse response = redirect("/");
  response.headers.emplace_back(
      "Set-Cookie",
      absl::StrCat(kSessionCookie, "=", NewSession(), "; HttpOnly; SameSite=Strict; Path=/",
                   options_.secure_cookie ? "; Secure" : "",
                   "; Max-Age=", static_cast<int64_t>(options_.session_seconds)));
  return response;
}

HttpResponse UiServer::Logout(HttpRequest& request) {
  const std::string id = request.Cookie(kSessionCookie);
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_.erase(id);
  }
  HttpResponse response = JsonResponse(json{{"logged_out", true}});
  response.headers.emplace_back(
      "Set-Cookie", absl::StrCat(kSessionCookie, "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"));
  return response;
}

// ------------------------------------------------------------------- API

HttpResponse UiServer::GetSession(HttpRequest&) {
  return JsonResponse(json{{"csrf", csrf_}, {"login", options_.require_login}});
}

HttpResponse UiServer::GetSweeps(HttpRequest&) {
  absl::StatusOr<std::vector<pb::Sweep>> sweeps = client_->ListSweeps();
  if (!sweeps.ok()) return ErrorResponse(sweeps.status());
  std::vector<pb::Sweep> sorted = *std::move(sweeps);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const pb::Sweep& a, const pb::Sweep& b) { return a.id() > b.id(); });
  json list = json::array();
  for (const pb::Sweep& sweep : sorted) list.push_back(SweepJson(sweep));
  return JsonResponse(json{{"sweeps", list}});
}

UiServer::SharedListing UiServer::ListSweep(int64_t sweep_id) {
  std::promise<SharedListing> promise;
  std::shared_future<SharedListing> answer;
  bool reader = false;
  {
    std::lock_guard<std::mutex> lock(listings_mutex_);
    auto [it, inserted] = listings_in_flight_.try_emplace(sweep_id);
    if (inserted) it->second = promise.get_future().share();
    answer = it->second;
    reader = inserted;
  }
  if (reader) {
    promise.set_value(ReadSweepListing(sweep_id));
    std::lock_guard<std::mutex> lock(listings_mutex_);
    listings_in_flight_.erase(sweep_id);
  }
  return answer.get();
}

UiServer::SharedListing UiServer::ReadSweepListing(int64_t sweep_id) {
  auto out = std::make_shared<SweepListing>();
  absl::StatusOr<pb::Sweep> sweep = client_->GetSweep(sweep_id);
  if (!sweep.ok()) return sweep.status();
  out->sweep = *std::move(sweep);
  absl::StatusOr<std::vector<pb::Job>> jobs = client_->ListJobs(sweep_id, pb::JOB_STATE_UNSPECIFIED);
  if (!jobs.ok()) return jobs.status();
  out->jobs = *std::move(jobs);
  std::set<std::string> metrics;
  out->configs.reserve(out->jobs.size());
  for (const pb::Job& job : out->jobs) {
    out->configs.push_back(FlatConfig(job.config_json()));
    for (const auto& [name, value] : job.final_metrics()) metrics.insert(name);
  }
  out->keys = VaryingKeys(out->sweep, out->configs);
  out->metrics.assign(metrics.begin(), metrics.end());
  return std::shared_ptr<const SweepListing>(std::move(out));
}

HttpResponse UiServer::GetSweep(HttpRequest& request) {
  absl::StatusOr<int64_t> id = IdText("sweep id", request.params["id"]);
  if (!id.ok()) return ErrorResponse(id.status());
  SharedListing shared = ListSweep(*id);
  if (!shared.ok()) return ErrorResponse(shared.status(), absl::StrCat("sweep ", *id));
  const SweepListing* listing = shared->get();
  const std::vector<std::string>& keys = listing->keys;
  // Each job carries only the keys that vary (a 1,000-job sweep's full
  // configs would be most of the page's bytes); the rest once, as "common".
  json common = listing->configs.empty() ? json::object() : listing->configs.front();
  for (const std::string& key : keys) common.erase(key);
  json job_list = json::array();
  for (size_t i = 0; i < listing->jobs.size(); ++i) {
    json varying = json::object();
    for (const std::string& key : keys) {
      if (listing->configs[i].contains(key)) varying[key] = listing->configs[i][key];
    }
    job_list.push_back(JobJson(listing->jobs[i], std::move(varying)));
  }
  return JsonResponse(json{{"sweep", SweepJson(listing->sweep, true)},
                           {"keys", keys},
                           {"common", std::move(common)},
                           {"metrics", listing->metrics},
                           {"defaults", {{"metric", DefaultMetric(listing->metrics)},
                                         {"group_by", DefaultGroupBy(keys)}}},
                           {"jobs", job_list}});
}

HttpResponse UiServer::GetJob(HttpRequest& request) {
  absl::StatusOr<int64_t> id = IdText("job id", request.params["id"]);
  if (!id.ok()) return ErrorResponse(id.status());
  const std::string what = absl::StrCat("job ", *id);
  absl::StatusOr<pb::Job> job = client_->GetJob(*id);
  if (!job.ok()) return ErrorResponse(job.status(), what);
  json out = JobJson(*job);
  out["sweep_id"] = job->sweep_id();
  out["epoch_budget"] = job->epoch_budget();
  out["created_at"] = Number(job->created_at());
  out["updated_at"] = Number(job->updated_at());
  out["summary"] = job->summary_json().empty()
                       ? json(nullptr)
                       : json::parse(job->summary_json(), nullptr, false);
  if (out["summary"].is_discarded()) out["summary"] = job->summary_json();
  json attempts = json::array();
  for (const pb::Attempt& a : job->attempts()) {
    attempts.push_back({{"number", a.number()},
                        {"worker", a.worker_name()},
                        {"worker_id", a.worker_id()},
                        {"device", a.device()},
                        {"outcome", AttemptOutcomeName(a.outcome())},
                        {"cause", a.cause()},
                        {"started_at", Number(a.started_at())},
                        {"ended_at", a.ended_at() > 0 ? Number(a.ended_at()) : json(nullptr)},
                        {"resumed_from_step", a.resumed_from_step()}});
  }
  out["attempts"] = attempts;
  json decisions = json::array();
  for (const pb::Decision& d : job->decisions()) {
    decisions.push_back({{"kind", d.kind()},
                         {"rung", d.rung()},
                         {"epoch", d.epoch()},
                         {"value", Number(d.value())},
                         {"reason", d.reason()},
                         {"decided_at", Number(d.decided_at())}});
  }
  out["decisions"] = decisions;
  json checkpoints = json::array();
  absl::StatusOr<std::vector<pb::CheckpointInfo>> listed = client_->ListCheckpoints(*id);
  if (listed.ok()) {
    for (const pb::CheckpointInfo& c : *listed) {
      checkpoints.push_back({{"step", c.step()},
                             {"size_bytes", c.size_bytes()},
                             {"sha256", c.sha256()},
                             {"created_at", Number(c.created_at())}});
    }
  } else if (!absl::IsUnimplemented(listed.status())) {
    return ErrorResponse(listed.status(), what);
  }
  out["checkpoints"] = checkpoints;
  return JsonResponse(json{{"job", out}});
}

HttpResponse UiServer::GetWorkers(HttpRequest&) {
  absl::StatusOr<std::vector<pb::Worker>> workers = client_->ListWorkers();
  if (!workers.ok()) return ErrorResponse(workers.status());
  json list = json::array();
  for (const pb::Worker& w : *workers) list.push_back(WorkerJson(w));
  return JsonResponse(json{{"workers", list}});
}

namespace {

absl::StatusOr<pb::QuerySeriesRequest> SeriesRequest(const HttpRequest& request) {
  pb::QuerySeriesRequest out;
  absl::StatusOr<int64_t> sweep = IdParam(request, "sweep");
  if (!sweep.ok()) return sweep.status();
  out.set_sweep_id(*sweep);
  absl::StatusOr<std::vector<int64_t>> jobs = IdListParam(request, "job");
  if (!jobs.ok()) return jobs.status();
  for (int64_t id : *jobs) out.add_job_ids(id);
  for (const std::string& name : ListParam(request, "name")) out.add_names(name);
  absl::StatusOr<int64_t> max_points = IntParam(request, "max_points", 1, 100000, 1000);
  if (!max_points.ok()) return max_points.status();
  out.set_max_points(static_cast<int32_t>(*max_points));
  if (request.Has("after_step")) {
    absl::StatusOr<int64_t> after =
        IntParam(request, "after_step", -1, std::numeric_limits<int64_t>::max(), std::nullopt);
    if (!after.ok()) return after.status();
    out.set_after_step(*after);
  }
  return out;
}

absl::StatusOr<pb::AggregateRequest> AggregateRequest(const HttpRequest& request) {
  pb::AggregateRequest out;
  absl::StatusOr<int64_t> sweep = IdParam(request, "sweep");
  if (!sweep.ok()) return sweep.status();
  out.set_sweep_id(*sweep);
  absl::StatusOr<std::string> name = MetricParam(request, "name");
  if (!name.ok()) return name.status();
  out.set_name(*name);
  absl::StatusOr<std::vector<std::string>> group_by = KeysParam(request, "group_by");
  if (!group_by.ok()) return group_by.status();
  for (const std::string& key : *group_by) out.add_group_by(key);
  absl::StatusOr<std::string> x = ChoiceParam(request, "x", {"step", "epoch", "final"}, "step");
  if (!x.ok()) return x.status();
  out.set_x(*x);
  absl::StatusOr<bool> include_stopped = BoolParam(request, "include_stopped");
  if (!include_stopped.ok()) return include_stopped.status();
  out.set_include_stopped(*include_stopped);
  absl::StatusOr<int64_t> max_points = IntParam(request, "max_points", 0, 100000, 0);
  if (!max_points.ok()) return max_points.status();
  out.set_max_points(static_cast<int32_t>(*max_points));
  return out;
}

std::string GroupKeyText(const pb::AggregateGroup& group, const std::string& key) {
  auto it = group.key().find(key);
  return it == group.key().end() ? std::string() : it->second;
}

}  // namespace

HttpResponse UiServer::GetSeries(HttpRequest& request) {
  absl::StatusOr<pb::QuerySeriesRequest> query = SeriesRequest(request);
  if (!query.ok()) return ErrorResponse(query.status());
  absl::StatusOr<pb::QuerySeriesResponse> response = client_->QuerySeries(*query);
  if (!response.ok()) return ErrorResponse(response.status(), absl::StrCat("sweep ", query->sweep_id()));
  json series = json::array();
  for (const pb::Series& s : response->series()) {
    json buckets = json::array();
    for (const pb::SeriesBucket& b : s.buckets()) {
      buckets.push_back(json::array({b.first_step(), b.last_step(), Number(b.min()), Number(b.max()),
                                     Number(b.last()), b.count()}));
    }
    series.push_back({{"job_id", s.job_id()},
                      {"name", s.name()},
                      {"points", s.points()},
                      {"last_step", s.last_step()},
                      {"buckets", buckets}});
  }
  return JsonResponse(json{{"series", series}});
}

HttpResponse UiServer::GetAggregate(HttpRequest& request) {
  // defaults=1: a name or group_by not given takes the sweep page's starting
  // choice, so that the page can ask for its first curves together with the
  // sweep instead of after it (its first paint).
  absl::StatusOr<bool> defaults = BoolParam(request, "defaults");
  if (!defaults.ok()) return ErrorResponse(defaults.status());
  if (*defaults && (!request.Has("name") || !request.Has("group_by"))) {
    absl::StatusOr<int64_t> sweep = IdParam(request, "sweep");
    if (!sweep.ok()) return ErrorResponse(sweep.status());
    SharedListing listing = ListSweep(*sweep);
    if (!listing.ok()) return ErrorResponse(listing.status(), absl::StrCat("sweep ", *sweep));
    if (!request.Has("name")) request.query["name"] = DefaultMetric((*listing)->metrics);
    if (!request.Has("group_by")) {
      request.query["group_by"] = absl::StrJoin(DefaultGroupBy((*listing)->keys), ",");
    }
    // A sweep whose jobs logged nothing yet has no metric to draw.
    if (request.Query("name").empty()) {
      return JsonResponse(json{{"name", ""}, {"group_by", json::array()}, {"groups", json::array()}});
    }
  }
  absl::StatusOr<pb::AggregateRequest> query = AggregateRequest(request);
  if (!query.ok()) return ErrorResponse(query.status());
  absl::StatusOr<pb::AggregateResponse> response = client_->Aggregate(*query);
  if (!response.ok()) return ErrorResponse(response.status(), absl::StrCat("sweep ", query->sweep_id()));
  json groups = json::array();
  for (const pb::AggregateGroup& g : response->groups()) {
    json key = json::object();
    for (const std::string& k : query->group_by()) key[k] = GroupKeyText(g, k);
    for (const auto& [k, v] : g.key()) {
      if (!key.contains(k)) key[k] = v;
    }
    json points = json::array();
    for (const pb::AggregatePoint& p : g.points()) {
      points.push_back(json::array({Number(p.x()), Number(p.mean()), Number(p.sd()), p.n(),
                                    Number(p.min()), Number(p.max())}));
    }
    groups.push_back({{"key", key},
                      {"job_ids", std::vector<int64_t>(g.job_ids().begin(), g.job_ids().end())},
                      {"points", points}});
  }
  return JsonResponse(json{{"name", query->name()},
                           {"group_by", std::vector<std::string>(query->group_by().begin(),
                                                                 query->group_by().end())},
                           {"groups", groups}});
}

HttpResponse UiServer::GetEvents(HttpRequest& request) {
  int64_t sweep_id = 0;
  std::string first;  // the event a new page gets at once
  if (request.Has("sweep")) {
    absl::StatusOr<int64_t> id = IdParam(request, "sweep");
    if (!id.ok()) return ErrorResponse(id.status());
    sweep_id = *id;
    absl::StatusOr<pb::Sweep> sweep = client_->GetSweep(sweep_id);
    if (!sweep.ok()) return ErrorResponse(sweep.status(), absl::StrCat("sweep ", sweep_id));
    first = absl::StrCat("event: sweep\ndata: ", Dump(SweepJson(*sweep)), "\n\n");
  }
  HttpResponse response;
  response.content_type = "text/event-stream; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("X-Accel-Buffering", "no");
  const auto ping = std::chrono::milliseconds(static_cast<int64_t>(options_.ping_seconds * 1000));
  response.stream = [this, sweep_id, first, ping](StreamSink& sink) {
    std::shared_ptr<Subscription> subscription = hub_.Subscribe(sweep_id);
    struct Leave {
      EventHub* hub;
      std::shared_ptr<Subscription> s;
      ~Leave() { hub->Unsubscribe(s); }
    } leave{&hub_, subscription};
    if (!sink.Write(absl::StrCat("retry: 3000\n\n", first))) return;
    Clock::time_point next_ping = Clock::now() + ping;
    while (!sink.Stopping() && !stopping_.load()) {
      auto wait = std::min<Clock::duration>(std::chrono::seconds(1), next_ping - Clock::now());
      std::optional<Event> event = subscription->Next(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::max<Clock::duration>(wait, {})));
      if (event.has_value()) {
        if (!sink.Write(absl::StrCat("event: ", event->name, "\ndata: ", event->data, "\n\n"))) return;
      } else if (subscription->closed()) {
        return;
      }
      if (Clock::now() >= next_ping) {
        if (!sink.Write("event: ping\ndata: {}\n\n")) return;
        next_ping = Clock::now() + ping;
      }
    }
  };
  return response;
}

HttpResponse UiServer::CancelSweep(HttpRequest& request) {
  absl::StatusOr<int64_t> id = IdText("sweep id", request.params["id"]);
  if (!id.ok()) return ErrorResponse(id.status());
  pb::CancelRequest cancel;
  cancel.set_sweep_id(*id);
  absl::StatusOr<pb::CancelResponse> response = client_->Cancel(cancel);
  if (!response.ok()) return ErrorResponse(response.status(), absl::StrCat("sweep ", *id));
  return JsonResponse(json{{"cancelled_pending", response->cancelled_pending()},
                           {"cancel_ordered", response->cancel_ordered()}});
}

HttpResponse UiServer::CancelJob(HttpRequest& request) {
  absl::StatusOr<int64_t> id = IdText("job id", request.params["id"]);
  if (!id.ok()) return ErrorResponse(id.status());
  pb::CancelRequest cancel;
  cancel.set_job_id(*id);
  absl::StatusOr<pb::CancelResponse> response = client_->Cancel(cancel);
  if (!response.ok()) return ErrorResponse(response.status(), absl::StrCat("job ", *id));
  return JsonResponse(json{{"cancelled_pending", response->cancelled_pending()},
                           {"cancel_ordered", response->cancel_ordered()}});
}

HttpResponse UiServer::RetrySweep(HttpRequest& request) {
  absl::StatusOr<int64_t> id = IdText("sweep id", request.params["id"]);
  if (!id.ok()) return ErrorResponse(id.status());
  pb::RetrySweepRequest retry;
  retry.set_sweep_id(*id);
  std::vector<std::string> states = {"failed", "lost"};
  if (!absl::StripAsciiWhitespace(request.body).empty()) {
    json body = json::parse(request.body, nullptr, false);
    if (!body.is_object()) return HttpResponse::Error(400, "body: expected a JSON object");
    if (body.contains("states")) {
      const json& list = body["states"];
      if (!list.is_array() || list.empty()) {
        return HttpResponse::Error(400, "states: expected a non-empty list of failed, lost, stopped");
      }
      states.clear();
      for (const json& s : list) {
        if (!s.is_string() ||
            (s != "failed" && s != "lost" && s != "stopped")) {
          return HttpResponse::Error(
              400, absl::StrCat("states: expected failed, lost or stopped, got ", Dump(s)));
        }
        states.push_back(s.get<std::string>());
      }
    }
  }
  for (const std::string& s : states) {
    absl::StatusOr<pb::JobState> state = ParseJobState("states", s);
    if (!state.ok()) return ErrorResponse(state.status());
    retry.add_states(*state);
  }
  absl::StatusOr<pb::RetrySweepResponse> response = client_->RetrySweep(retry);
  if (!response.ok()) return ErrorResponse(response.status(), absl::StrCat("sweep ", *id));
  return JsonResponse(json{{"requeued", response->requeued()}});
}

// ------------------------------------------------------------- downloads

HttpResponse UiServer::DownloadFigure(HttpRequest& request) {
  absl::StatusOr<int64_t> sweep = IdParam(request, "sweep");
  if (!sweep.ok()) return ErrorResponse(sweep.status());
  absl::StatusOr<std::string> kind =
      ChoiceParam(request, "kind", {"curves", "bars", "heatmap"}, std::nullopt);
  if (!kind.ok()) return ErrorResponse(kind.status());
  // The query parameters are `figure`'s flags: parsed and checked by the
  // command's own parser, so the download is the CLI's figure exactly.
  static const std::vector<std::pair<std::string, std::string>> kFlags = {
      {"metric", "metric"}, {"group_by", "group-by"}, {"tasks", "tasks"}, {"x", "x"},
      {"y", "y"},           {"facet", "facet"}};
  std::vector<std::string> words = {std::to_string(*sweep), "--kind", *kind};
  for (const auto& [param, flag] : kFlags) {
    if (request.Has(param)) {
      words.push_back(absl::StrCat("--", flag));
      words.push_back(request.Query(param));
    }
  }
  absl::StatusOr<bool> include_stopped = BoolParam(request, "include_stopped");
  if (!include_stopped.ok()) return ErrorResponse(include_stopped.status());
  if (*include_stopped) words.push_back("--include-stopped");
  // The flag names in errors become the parameters' names.
  auto rename = [](std::string message) {
    return absl::StrReplaceAll(message, {{"--group-by", "group_by"},
                                         {"--include-stopped", "include_stopped"},
                                         {"--metric", "metric"},
                                         {"--tasks", "tasks"},
                                         {"--facet", "facet"},
                                         {"--kind", "kind"},
                                         {"--x", "x"},
                                         {"--y", "y"},
                                         {"figure: ", ""}});
  };
  absl::StatusOr<Args> args = ParseArgs(FigureCommand().spec, {}, words);
  if (!args.ok()) return HttpResponse::Error(400, rename(std::string(args.status().message())));
  std::ostringstream out, err;
  CliIo io;
  io.out = &out;
  io.err = &err;
  CommandEnv env(&io, GlobalOptions{}, client_);
  absl::StatusOr<std::string> svg = DrawFigure(*args, env);
  if (!svg.ok()) {
    if (ExitCodeFor(svg.status()) == kExitUsage) {
      return HttpResponse::Error(400, rename(std::string(svg.status().message())));
    }
    return ErrorResponse(svg.status(), absl::StrCat("sweep ", *sweep));
  }
  HttpResponse response;
  response.content_type = "image/svg+xml";
  response.body = *std::move(svg);
  response.headers.emplace_back("Content-Disposition",
                                ContentDisposition(absl::StrCat("sweep-", *sweep, "-", *kind, ".svg")));
  return response;
}

HttpResponse UiServer::DownloadData(HttpRequest& request) {
  absl::StatusOr<int64_t> sweep = IdParam(request, "sweep");
  if (!sweep.ok()) return ErrorResponse(sweep.status());
  absl::StatusOr<std::string> what =
      ChoiceParam(request, "what", {"aggregate", "series", "jobs"}, std::nullopt);
  if (!what.ok()) return ErrorResponse(what.status());
  const std::string about = absl::StrCat("sweep ", *sweep);
  std::string csv;
  if (*what == "jobs") {
    absl::StatusOr<pb::Sweep> info = client_->GetSweep(*sweep);
    if (!info.ok()) return ErrorResponse(info.status(), about);
    absl::StatusOr<std::vector<pb::Job>> jobs = client_->ListJobs(*sweep, pb::JOB_STATE_UNSPECIFIED);
    if (!jobs.ok()) return ErrorResponse(jobs.status(), about);
    std::vector<json> configs;
    std::set<std::string> metrics;
    for (const pb::Job& job : *jobs) {
      configs.push_back(FlatConfig(job.config_json()));
      for (const auto& [name, value] : job.final_metrics()) metrics.insert(name);
    }
    const std::vector<std::string> keys = VaryingKeys(*info, configs);
    std::vector<Column> columns = {{"job"}, {"cell_index"}, {"state"}, {"attempts"}, {"failures"}};
    for (const std::string& key : keys) columns.push_back({key});
    for (const std::string& metric : metrics) columns.push_back({absl::StrCat("final.", metric)});
    columns.push_back({"last_cause"});
    Table table(columns);
    for (size_t i = 0; i < jobs->size(); ++i) {
      const pb::Job& job = (*jobs)[i];
      std::vector<Cell> row = {job.id(), job.cell_index(), JobStateName(job.state()),
                               static_cast<int64_t>(job.attempt_count()),
                               static_cast<int64_t>(job.failures())};
      for (const std::string& key : keys) {
        const json& c = configs[i];
        if (!c.contains(key)) {
          row.push_back(std::monostate{});
        } else if (c[key].is_string()) {
          row.push_back(c[key].get<std::string>());
        } else if (c[key].is_number_integer()) {
          row.push_back(c[key].get<int64_t>());
        } else if (c[key].is_number()) {
          row.push_back(c[key].get<double>());
        } else {
          row.push_back(Dump(c[key]));
        }
      }
      for (const std::string& metric : metrics) {
        auto it = job.final_metrics().find(metric);
        if (it == job.final_metrics().end() || !std::isfinite(it->second)) {
          row.push_back(std::monostate{});
        } else {
          row.push_back(it->second);
        }
      }
      row.push_back(job.last_cause());
      table.AddRow(std::move(row));
    }
    csv = table.Render(OutputFormat::kCsv);
  } else if (*what == "series") {
    absl::StatusOr<pb::QuerySeriesRequest> query = SeriesRequest(request);
    if (!query.ok()) return ErrorResponse(query.status());
    absl::StatusOr<pb::QuerySeriesResponse> response = client_->QuerySeries(*query);
    if (!response.ok()) return ErrorResponse(response.status(), about);
    Table table({{"job"}, {"name"}, {"first_step"}, {"last_step"}, {"min"}, {"max"}, {"last"}, {"count"}});
    auto number = [](double v) -> Cell {
      if (!std::isfinite(v)) return std::monostate{};
      return v;
    };
    for (const pb::Series& s : response->series()) {
      for (const pb::SeriesBucket& b : s.buckets()) {
        table.AddRow({s.job_id(), s.name(), b.first_step(), b.last_step(), number(b.min()),
                      number(b.max()), number(b.last()), b.count()});
      }
    }
    csv = table.Render(OutputFormat::kCsv);
  } else {
    absl::StatusOr<pb::AggregateRequest> query = AggregateRequest(request);
    if (!query.ok()) return ErrorResponse(query.status());
    absl::StatusOr<pb::AggregateResponse> response = client_->Aggregate(*query);
    if (!response.ok()) return ErrorResponse(response.status(), about);
    std::vector<Column> columns;
    for (const std::string& key : query->group_by()) columns.push_back({key});
    for (const char* name : {"metric", "x", "mean", "sd", "n", "min", "max"}) columns.push_back({name});
    Table table(columns);
    auto number = [](double v) -> Cell {
      if (!std::isfinite(v)) return std::monostate{};
      return v;
    };
    for (const pb::AggregateGroup& g : response->groups()) {
      for (const pb::AggregatePoint& p : g.points()) {
        std::vector<Cell> row;
        for (const std::string& key : query->group_by()) row.push_back(GroupKeyText(g, key));
        row.push_back(query->name());
        row.push_back(number(p.x()));
        row.push_back(number(p.mean()));
        row.push_back(number(p.sd()));
        row.push_back(p.n());
        row.push_back(number(p.min()));
        row.push_back(number(p.max()));
        table.AddRow(std::move(row));
      }
    }
    csv = table.Render(OutputFormat::kCsv);
  }
  HttpResponse response;
  response.content_type = "text/csv; charset=utf-8";
  response.body = std::move(csv);
  response.headers.emplace_back("Content-Disposition",
                                ContentDisposition(absl::StrCat("sweep-", *sweep, "-", *what, ".csv")));
  return response;
}

}  // namespace switchyard::client::ui
