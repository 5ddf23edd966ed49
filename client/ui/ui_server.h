// What `switchyard ui` serves (docs/ui.md): the page's files, the JSON API
// and the event stream, read through the coordinator's gRPC API.
//
//   UiServer::Handle   security (Host check, login, CSRF, headers) and the
//                      routes of docs/ui.md
//   EventHub           one WatchSweep and one TailMetrics stream per sweep
//                      that some page watches, fanned out to every page
//
// Thread safety: Handle runs concurrently on the HTTP server's connection
// threads; the client it reads through must allow concurrent calls (the
// gRPC one does). EventHub is thread-safe.
#ifndef SWITCHYARD_CLIENT_UI_UI_SERVER_H_
#define SWITCHYARD_CLIENT_UI_UI_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include "absl/strings/string_view.h"
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/coordinator_client.h"
#include "client/ui/assets.h"
#include "client/ui/http_server.h"

namespace switchyard::client::ui {

// The Content-Security-Policy and the other headers every response carries.
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

// True for an address only this machine reaches: 127.0.0.0/8, ::1,
// "localhost". A listen address that is not loopback needs a login.
bool IsLoopbackHost(absl::string_view host);

// Equal strings, in time that does not depend on where they differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// `bytes` random bytes from the kernel, as lower-case hex.
std::string RandomHex(size_t bytes);

// ------------------------------------------------------------------ JSON

// A number, or null when it is not finite.
nlohmann::json Number(double value);
// SWEEP of docs/ui.md; `detail` adds scheduler and rungs.
nlohmann::json SweepJson(const pb::Sweep& sweep, bool detail = false);
// JOB of docs/ui.md (attempts = the count).
nlohmann::json JobJson(const pb::Job& job);
// The same with `config` in place of the job's whole flat config.
nlohmann::json JobJson(const pb::Job& job, nlohmann::json config);
// A job's config as one object, a program's params as "params.NAME" keys.
nlohmann::json FlatConfig(const std::string& config_json);
nlohmann::json WorkerJson(const pb::Worker& worker);

// ---------------------------------------------------------------- events

struct Event {
  std::string name;  // sweep, jobs, points
  std::string data;  // one line of JSON
};

// One page's queue of events.
class Subscription {
 public:
  explicit Subscription(int64_t sweep_id) : sweep_id_(sweep_id) {}
  int64_t sweep_id() const { return sweep_id_; }
  // The next event, waiting up to `timeout`; nullopt on timeout or once
  // closed (a queue that overflowed, a hub shutting down).
  std::optional<Event> Next(std::chrono::milliseconds timeout);
  bool closed() const;

 private:
  friend class EventHub;
  void Push(const Event& event);  // closes the subscription when it is full
  void Close();

  static constexpr size_t kMaxQueued = 512;
  const int64_t sweep_id_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> queue_;
  bool closed_ = false;
};

class EventHub {
 public:
  // `poll_seconds`: how often the one ListSweeps poll behind the all-sweeps
  // stream runs while some page watches it; `retry_seconds`: the wait
  // before an upstream stream that broke is opened again.
  explicit EventHub(CoordinatorClient* client, double poll_seconds = 2, double retry_seconds = 2);
  ~EventHub();  // Shutdown()

  // A page starts watching sweep_id (0: every sweep's counts). The first
  // subscriber of a sweep opens its upstream streams.
  std::shared_ptr<Subscription> Subscribe(int64_t sweep_id);
  // The page left. The last subscriber of a sweep closes its streams (and
  // waits for their threads).
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Closes every stream and every subscription.
  void Shutdown();

  // For tests and logs: sweeps with upstream streams open now.
  size_t channel_count();

 private:
  struct Channel;
  void RunWatch(Channel* channel);
  void RunTail(Channel* channel);
  void RunPoll(Channel* channel);
  void Publish(Channel* channel, const Event& event);
  // Sleeps up to `seconds`; false when the channel is closing.
  bool Pause(Channel* channel, double seconds);
  void CloseChannel(std::shared_ptr<Channel> channel);

  CoordinatorClient* client_;
  const double poll_seconds_;
  const double retry_seconds_;
  std::mutex mutex_;
  std::map<int64_t, std::shared_ptr<Channel>> channels_;  // guarded by mutex_
  bool shut_down_ = false;                                // guarded by mutex_
};

// ---------------------------------------------------------------- server

struct UiOptions {
  // A non-loopback listen address: every /api and /download request needs a
  // session, which POST /login with `ui_token` opens.
  bool require_login = false;
  std::string ui_token;
  bool secure_cookie = false;  // the Secure cookie attribute (TLS)
  // Host header values accepted (DNS rebinding): empty = any. `ui` sets the
  // loopback names with the port when it needs no login.
  std::vector<std::string> allowed_hosts;
  std::vector<Asset> assets;  // EmbeddedAssets(), or a test's own
  double ping_seconds = 15;
  double session_seconds = 12 * 3600;
  double login_failure_delay_seconds = 0.5;
  double poll_seconds = 2;   // EventHub
  double retry_seconds = 2;  // EventHub
};

class UiServer {
 public:
  UiServer(CoordinatorClient* client, UiOptions options);
  ~UiServer();

  // Every request goes through here.
  HttpResponse Handle(HttpRequest& request);
  // The CSRF token /api/session hands out.
  const std::string& csrf_token() const { return csrf_; }
  EventHub& hub() { return hub_; }
  void set_allowed_hosts(std::vector<std::string> hosts) { options_.allowed_hosts = std::move(hosts); }
  // Closes the upstream streams and ends every event stream.
  void Shutdown();

 private:
  void AddRoutes();
  bool HasSession(const HttpRequest& request);
  std::string NewSession();
  const Asset* FindAsset(absl::string_view path) const;
  HttpResponse Page(const HttpRequest& request);
  HttpResponse LoginPage(const HttpRequest& request);
  HttpResponse Login(HttpRequest& request);
  HttpResponse Logout(HttpRequest& request);

  // A sweep with its jobs as the page sees them: each job's config flat,
  // the keys that vary across jobs (axes first) and the metrics they logged.
  struct SweepListing {
    pb::Sweep sweep;
    std::vector<pb::Job> jobs;
    std::vector<nlohmann::json> configs;  // FlatConfig of jobs[i]
    std::vector<std::string> keys;
    std::vector<std::string> metrics;
  };
  using SharedListing = absl::StatusOr<std::shared_ptr<const SweepListing>>;
  // Reads a sweep's listing; a caller that finds a read of the same sweep
  // under way shares its answer (the sweep page asks /api/sweeps/ID and
  // /api/aggregate?defaults=1 at once; a 1,000-job listing is read once).
  SharedListing ListSweep(int64_t sweep_id);
  SharedListing ReadSweepListing(int64_t sweep_id);

  HttpResponse GetSession(HttpRequest& request);
  HttpResponse GetSweeps(HttpRequest& request);
  HttpResponse GetSweep(HttpRequest& request);
  HttpResponse GetJob(HttpRequest& request);
  HttpResponse GetWorkers(HttpRequest& request);
  HttpResponse GetSeries(HttpRequest& request);
  HttpResponse GetAggregate(HttpRequest& request);
  HttpResponse GetEvents(HttpRequest& request);
  HttpResponse CancelSweep(HttpRequest& request);
  HttpResponse CancelJob(HttpRequest& request);
  HttpResponse RetrySweep(HttpRequest& request);
  HttpResponse DownloadFigure(HttpRequest& request);
  HttpResponse DownloadData(HttpRequest& request);

  CoordinatorClient* client_;
  UiOptions options_;
  const std::string csrf_;
  EventHub hub_;
  Router router_;
  std::atomic<bool> stopping_{false};
  std::mutex sessions_mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;  // id -> expiry
  std::mutex listings_mutex_;
  std::map<int64_t, std::shared_future<SharedListing>> listings_in_flight_;
};

}  // namespace switchyard::client::ui

#endif  // SWITCHYARD_CLIENT_UI_UI_SERVER_H_
