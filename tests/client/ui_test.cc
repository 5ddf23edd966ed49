// `switchyard ui`: the HTTP server (parsing, limits, routing, garbage over a
// real socket), the security rules (login, CSRF, Host, headers), the JSON
// API against a fake coordinator, the downloads, and the event hub's
// fan-out (two pages share one upstream stream).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "client/cli.h"
#include "client/ui/http_server.h"
#include "client/ui/ui_server.h"
#include "tests/client/fake_coordinator.h"

namespace switchyard::client::ui {
namespace {

using json = nlohmann::json;
using switchyard::client::testing::FakeCoordinator;
using switchyard::client::testing::FakeState;

// ------------------------------------------------------------ parsing

TEST(HttpParseTest, ParsesRequestLineHeadersAndQuery) {
  HttpResponse error;
  absl::StatusOr<HttpRequest> r = ParseRequestHead(
      "GET /api/series?sweep=3&name=accuracy,loss&x=a%20b+c HTTP/1.1\r\n"
      "Host: 127.0.0.1:8080\r\nX-CSRF-Token:  abc \r\nCookie: a=1; switchyard_session=xyz\r\n",
      &error);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/api/series");
  EXPECT_EQ(r->Query("sweep"), "3");
  EXPECT_EQ(r->Query("name"), "accuracy,loss");
  EXPECT_EQ(r->Query("x"), "a b c");
  EXPECT_EQ(r->Header("X-Csrf-Token"), "abc");
  EXPECT_EQ(r->Cookie("switchyard_session"), "xyz");
  EXPECT_EQ(r->Cookie("missing"), "");
}

TEST(HttpParseTest, RefusesMalformedRequests) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"", 400},
      {"GARBAGE", 400},
      {"GET /\r\n", 400},
      {"GET / HTTP/2.0\r\n", 505},
      {"GET / FTP/1.0\r\n", 400},
      {"GET http://evil/ HTTP/1.1\r\n", 400},
      {"G(T / HTTP/1.1\r\n", 400},
      {"GET /a%zz HTTP/1.1\r\n", 400},
      {"GET /a%00 HTTP/1.1\r\n", 400},
      {"GET /?a=%4 HTTP/1.1\r\n", 400},
      {"GET / HTTP/1.1\r\nno colon here\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\r\n continued\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\x01\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 411},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n", 400},
      {std::string("GET /\x80 HTTP/1.1\r\n"), 400},
  };
  for (const auto& [head, status] : cases) {
    HttpResponse error;
    absl::StatusOr<HttpRequest> r = ParseRequestHead(head, &error);
    EXPECT_FALSE(r.ok()) << head;
    EXPECT_EQ(error.status, status) << head;
    EXPECT_TRUE(json::parse(error.body, nullptr, false).contains("error")) << head;
  }
}

TEST(HttpParseTest, NeverCrashesOnRandomBytes) {
  std::mt19937 random(15);
  for (int i = 0; i < 3000; ++i) {
    std::string head(random() % 200, '\0');
    for (char& c : head) c = static_cast<char>(random() % 256);
    if (i % 3 == 0) head = "GET /" + head;
    if (i % 5 == 0) head += " HTTP/1.1\r\nA: b\r\n";
    HttpResponse error;
    absl::StatusOr<HttpRequest> r = ParseRequestHead(head, &error);
    if (!r.ok()) {
      EXPECT_GE(error.status, 400);
    }
  }
}

TEST(HttpParseTest, PercentDecoding) {
  EXPECT_EQ(*PercentDecode("a%2Fb%20c+d", false), "a/b c+d");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_FALSE(PercentDecode("%", false).ok());
  EXPECT_FALSE(PercentDecode("%1", false).ok());
  EXPECT_FALSE(PercentDecode("%g1", false).ok());
  absl::StatusOr<std::map<std::string, std::string>> q = ParseQuery("a=1&b&&c=x%3Dy&a=2");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)["a"], "2");
  EXPECT_EQ((*q)["b"], "");
  EXPECT_EQ((*q)["c"], "x=y");
}

TEST(RouterTest, MatchesPatternsAndAnswers404And405) {
  Router router;
  router.Add("GET", "/api/sweeps/{id}", [](HttpRequest& r) {
    return HttpResponse::Json(200, json{{"id", r.params["id"]}}.dump());
  });
  router.Add("POST", "/api/sweeps/{id}/cancel", [](HttpRequest&) { return HttpResponse::Json(200, "{}"); });
  router.Add("GET", "/assets/*", [](HttpRequest& r) { return HttpResponse::Json(200, r.params["*"]); });
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/sweeps/12";
  HttpResponse response = router.Handle(r);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["id"], "12");
  r.path = "/api/sweeps/12/cancel";
  response = router.Handle(r);
  EXPECT_EQ(response.status, 405);
  ASSERT_FALSE(response.headers.empty());
  EXPECT_EQ(response.headers[0].first, "Allow");
  EXPECT_EQ(response.headers[0].second, "POST");
  r.path = "/api/sweeps/";
  EXPECT_EQ(router.Handle(r).status, 404);
  r.path = "/api/sweeps/1/2";
  EXPECT_EQ(router.Handle(r).status, 404);
  r.path = "/assets/a/b.js";
  response = router.Handle(r);
  EXPECT_EQ(response.body, "a/b.js");
  r.path = "/assets/";
  EXPECT_EQ(router.Handle(r).status, 404);
}

// ------------------------------------------------- over a real socket

class SocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/hello", [](HttpRequest& r) {
      return HttpResponse::Json(200, json{{"hello", r.Query("name", "world")}}.dump());
    });
    router_.Add("POST", "/echo", [](HttpRequest& r) { return HttpResponse::Json(200, r.body); });
    router_.Add("GET", "/stream", [](HttpRequest&) {
      HttpResponse response;
      response.content_type = "text/event-stream";
      response.stream = [](StreamSink& sink) {
        sink.Write("event: a\ndata: 1\n\n");
        sink.Write("event: b\ndata: 2\n\n");
      };
      return response;
    });
    HttpLimits limits;
    limits.max_body_bytes = 1000;
    limits.read_timeout_seconds = 1;
    limits.max_connections = 4;
    server_ = std::make_unique<HttpServer>([this](HttpRequest& r) { return router_.Handle(r); },
                                           SecurityHeaders(), limits);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    thread_ = std::thread([this] { server_->Serve(); });
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
    server_.reset();
  }

  int Connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server_->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
  }

  // Sends `bytes` and reads until the server closes.
  std::string Exchange(const std::string& bytes, bool half_close = true) {
    int fd = Connect();
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    if (half_close) ::shutdown(fd, SHUT_WR);
    std::string answer;
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      answer.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return answer;
  }

  static int StatusOf(const std::string& answer) {
    if (answer.size() < 12) return 0;
    return std::atoi(answer.substr(9, 3).c_str());
  }
  static std::string BodyOf(const std::string& answer) {
    size_t at = answer.find("\r\n\r\n");
    return at == std::string::npos ? "" : answer.substr(at + 4);
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(SocketTest, AnswersWithSecurityHeadersAndConnectionClose) {
  std::string answer = Exchange("GET /hello?name=a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 200);
  EXPECT_EQ(json::parse(BodyOf(answer))["hello"], "a b");
  EXPECT_NE(answer.find("Content-Security-Policy: default-src 'self'; script-src 'self'"), std::string::npos);
  EXPECT_NE(answer.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_NE(answer.find("X-Content-Type-Options: nosniff"), std::string::npos);
  EXPECT_NE(answer.find("Referrer-Policy: no-referrer"), std::string::npos);
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  EXPECT_NE(answer.find("Content-Type: application/json"), std::string::npos);
}

TEST_F(SocketTest, ReadsBodiesAndEnforcesLimits) {
  std::string answer = Exchange("POST /echo HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
  EXPECT_EQ(StatusOf(answer), 200);
  EXPECT_EQ(BodyOf(answer), "{\"a\":1}");
  answer = Exchange("POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 413);
  answer = Exchange("POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 400);
  answer = Exchange("GET /hello HTTP/1.1\r\nX: " + std::string(10000, 'a') + "\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 431);
  EXPECT_TRUE(json::parse(BodyOf(answer), nullptr, false).contains("error"));
  // A body shorter than its Content-Length: the request times out.
  answer = Exchange("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", false);
  EXPECT_EQ(StatusOf(answer), 408);
}

TEST_F(SocketTest, RoutesUnknownPathsAndMethods) {
  EXPECT_EQ(StatusOf(Exchange("GET /nope HTTP/1.1\r\n\r\n")), 404);
  std::string answer = Exchange("GET /echo HTTP/1.1\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 405);
  EXPECT_NE(answer.find("Allow: POST"), std::string::npos);
  EXPECT_EQ(json::parse(BodyOf(answer))["error"], "GET is not allowed on /echo; use POST");
}

TEST_F(SocketTest, SurvivesGarbage) {
  std::mt19937 random(7);
  for (int i = 0; i < 40; ++i) {
    std::string bytes(random() % 600, '\0');
    for (char& c : bytes) c = static_cast<char>(random() % 256);
    bytes += "\r\n\r\n";
    std::string answer = Exchange(bytes);
    int status = StatusOf(answer);
    EXPECT_TRUE(status >= 400 && status < 600) << answer;
  }
  // A client that connects and leaves, one that sends half a line.
  ::close(Connect());
  Exchange("GET /hel");
  EXPECT_EQ(StatusOf(Exchange("GET /hello HTTP/1.1\r\n\r\n")), 200);
}

TEST_F(SocketTest, RefusesConnectionsBeyondTheLimit) {
  // Four connections that send nothing hold the four threads (until the
  // 1 s read timeout); the fifth is told to come back.
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string answer = Exchange("GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 503);
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos);
  for (int fd : idle) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(StatusOf(Exchange("GET /hello HTTP/1.1\r\n\r\n")), 200);
}

TEST_F(SocketTest, StreamsWithoutContentLength) {
  std::string answer = Exchange("GET /stream HTTP/1.1\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 200);
  EXPECT_EQ(answer.find("Content-Length"), std::string::npos);
  EXPECT_EQ(BodyOf(answer), "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
}

// ---------------------------------------------------------------- TLS

// A self-signed certificate for "localhost" and its key, as PEM files.
void WriteCertificate(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  ASSERT_GT(X509_sign(x, key, EVP_sha256()), 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

TEST(HttpsTest, ServesOverTlsAndRefusesPlainHttp) {
  const std::string dir = ::testing::TempDir() + "/ui_tls_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  WriteCertificate(dir + "/cert.pem", dir + "/key.pem");
  Router router;
  router.Add("GET", "/hello", [](HttpRequest&) { return HttpResponse::Json(200, "{\"tls\":true}"); });
  HttpLimits limits;
  limits.read_timeout_seconds = 1;
  HttpServer server([&router](HttpRequest& r) { return router.Handle(r); }, SecurityHeaders(), limits);
  EXPECT_FALSE(server.EnableTls(dir + "/missing.pem", dir + "/key.pem").ok());
  absl::Status wrong = server.EnableTls(dir + "/key.pem", dir + "/key.pem");
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(std::string(wrong.message()).find("--ui-tls-cert"), std::string::npos);
  ASSERT_TRUE(server.EnableTls(dir + "/cert.pem", dir + "/key.pem").ok());
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  std::thread serving([&server] { server.Serve(); });

  auto connect = [&server] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server.port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
  };
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  for (int round = 0; round < 2; ++round) {
    int fd = connect();
    SSL* ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(SSL_connect(ssl), 1);
    const std::string request = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(SSL_write(ssl, request.data(), static_cast<int>(request.size())),
              static_cast<int>(request.size()));
    std::string answer;
    char buffer[4096];
    for (;;) {
      int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) break;
      answer.append(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("{\"tls\":true}"), std::string::npos);
    EXPECT_NE(answer.find("X-Content-Type-Options: nosniff"), std::string::npos);
    SSL_free(ssl);
    ::close(fd);
  }
  // Plain HTTP to the TLS port: no answer, and the server goes on.
  int fd = connect();
  const std::string plain = "GET /hello HTTP/1.1\r\n\r\n";
  ::send(fd, plain.data(), plain.size(), MSG_NOSIGNAL);
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, 0);
  EXPECT_LE(n, 1);  // at most a TLS alert's first byte, never "HTTP"
  if (n == 1) {
    EXPECT_NE(byte, 'H');
  }
  ::close(fd);
  SSL_CTX_free(context);
  server.Stop();
  serving.join();
  std::filesystem::remove_all(dir);
}

// ------------------------------------------------------------ policy

TEST(UiPolicyTest, LoopbackHosts) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "192.168.1.2", "10.0.0.1", "example.com", "127.0.0",
                           "127.0.0.1.evil.com", "128.0.0.1", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_EQ(RandomHex(32).size(), 64u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

// --------------------------------------------------------------- API

pb::Job MakeJob(int64_t id, int64_t sweep, int64_t cell, const std::string& model, int seed,
                pb::JobState state, double accuracy) {
  pb::Job job;
  job.set_id(id);
  job.set_sweep_id(sweep);
  job.set_cell_index(cell);
  job.set_state(state);
  job.set_config_json("{\"attention\":\"none\",\"epochs\":2,\"model\":\"" + model +
                      "\",\"seed\":" + std::to_string(seed) +
                      ",\"steps_per_epoch\":10,\"tasks\":\"IARC\",\"params\":{\"lr\":0.1}}");
  if (state == pb::JOB_STATE_SUCCEEDED) {
    (*job.mutable_final_metrics())["accuracy"] = accuracy;
    (*job.mutable_final_metrics())["loss"] = std::numeric_limits<double>::quiet_NaN();
  }
  job.set_attempt_count(1);
  return job;
}

std::vector<Asset> TestAssets() {
  return {{"index.html", "text/html; charset=utf-8", "<!doctype html><title>t</title>"},
          {"app.js", "text/javascript; charset=utf-8", "console.log(1)"}};
}

class UiApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = std::make_shared<FakeState>();
    for (int64_t id : {3, 4}) {
      pb::Sweep sweep;
      sweep.set_id(id);
      sweep.set_name(id == 3 ? "quick" : "<script>");
      sweep.set_state(id == 3 ? pb::SWEEP_STATE_FINISHED : pb::SWEEP_STATE_ACTIVE);
      sweep.mutable_counts()->set_succeeded(id == 3 ? 3 : 0);
      sweep.mutable_counts()->set_pending(id == 3 ? 0 : 2);
      sweep.set_created_at(1000);
      sweep.set_finished_at(id == 3 ? 2000 : 0);
      pb::Axis* axis = sweep.mutable_spec()->add_axes();
      axis->set_key("seed");
      axis = sweep.mutable_spec()->add_axes();
      axis->set_key("model");
      state_->sweeps.push_back(sweep);
    }
    state_->jobs.push_back(MakeJob(31, 3, 0, "lstm", 1, pb::JOB_STATE_SUCCEEDED, 0.5));
    state_->jobs.push_back(MakeJob(32, 3, 1, "lstm", 2, pb::JOB_STATE_SUCCEEDED, 0.7));
    state_->jobs.push_back(MakeJob(33, 3, 2, "mlp", 1, pb::JOB_STATE_SUCCEEDED, 0.9));
    client_ = std::make_unique<FakeCoordinator>(state_);
  }

  UiOptions Options() {
    UiOptions options;
    options.assets = TestAssets();
    options.ping_seconds = 0.05;
    options.poll_seconds = 0.05;
    options.retry_seconds = 0.05;
    options.login_failure_delay_seconds = 0;
    return options;
  }

  static HttpRequest Request(const std::string& method, const std::string& target,
                             const std::string& body = "") {
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
    HttpResponse error;
    absl::StatusOr<HttpRequest> r = ParseRequestHead(head, &error);
    EXPECT_TRUE(r.ok()) << target;
    r->body = body;
    return *r;
  }

  HttpResponse Get(UiServer& ui, const std::string& target) {
    HttpRequest r = Request("GET", target);
    return ui.Handle(r);
  }
  HttpResponse Post(UiServer& ui, const std::string& target, const std::string& csrf,
                    const std::string& body = "") {
    HttpRequest r = Request("POST", target, body);
    if (!csrf.empty()) r.headers["x-csrf-token"] = csrf;
    return ui.Handle(r);
  }
  static json Body(const HttpResponse& r) { return json::parse(r.body); }

  std::shared_ptr<FakeState> state_;
  std::unique_ptr<FakeCoordinator> client_;
};

TEST_F(UiApiTest, SessionAndCsrf) {
  UiServer ui(client_.get(), Options());
  HttpResponse session = Get(ui, "/api/session");
  ASSERT_EQ(session.status, 200);
  const std::string csrf = Body(session)["csrf"];
  EXPECT_EQ(csrf.size(), 64u);
  HttpResponse refused = Post(ui, "/api/sweeps/3/cancel", "");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, "{\"error\":\"missing or wrong CSRF token\"}");
  EXPECT_EQ(Post(ui, "/api/sweeps/3/cancel", "wrong").status, 403);
  EXPECT_TRUE(state_->cancelled.empty());
  HttpResponse ok = Post(ui, "/api/sweeps/3/cancel", csrf);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(Body(ok), (json{{"cancelled_pending", 3}, {"cancel_ordered", 1}}));
  ASSERT_EQ(state_->cancelled.size(), 1u);
  EXPECT_EQ(state_->cancelled[0].sweep_id(), 3);
  EXPECT_EQ(Post(ui, "/api/jobs/31/cancel", csrf).status, 200);
  EXPECT_EQ(state_->cancelled[1].job_id(), 31);
  // GET on a POST path.
  EXPECT_EQ(Get(ui, "/api/sweeps/3/cancel").status, 405);
  EXPECT_EQ(Get(ui, "/api/sweeps/3/retry").status, 405);
  // Retry with states.
  HttpResponse retried = Post(ui, "/api/sweeps/3/retry", csrf, "{\"states\":[\"stopped\"]}");
  EXPECT_EQ(retried.status, 200);
  EXPECT_EQ(Body(retried)["requeued"], 2);
  ASSERT_EQ(state_->retried.size(), 1u);
  ASSERT_EQ(state_->retried[0].states_size(), 1);
  EXPECT_EQ(state_->retried[0].states(0), pb::JOB_STATE_STOPPED);
  EXPECT_EQ(Post(ui, "/api/sweeps/3/retry", csrf).status, 200);
  EXPECT_EQ(state_->retried[1].states_size(), 2);
  EXPECT_EQ(Post(ui, "/api/sweeps/3/retry", csrf, "{\"states\":[\"running\"]}").status, 400);
  EXPECT_EQ(Post(ui, "/api/sweeps/3/retry", csrf, "not json").status, 400);
}

TEST_F(UiApiTest, Sweeps) {
  UiServer ui(client_.get(), Options());
  HttpResponse r = Get(ui, "/api/sweeps");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  json sweeps = Body(r)["sweeps"];
  ASSERT_EQ(sweeps.size(), 2u);
  EXPECT_EQ(sweeps[0]["id"], 4);  // newest first
  EXPECT_EQ(sweeps[0]["name"], "<script>");
  EXPECT_EQ(sweeps[0]["state"], "active");
  EXPECT_TRUE(sweeps[0]["finished_at"].is_null());
  EXPECT_EQ(sweeps[1]["state"], "finished");
  EXPECT_EQ(sweeps[1]["finished_at"], 2000.0);
  EXPECT_EQ(sweeps[1]["total"], 3);
  for (const char* key : {"pending", "running", "succeeded", "failed", "lost", "cancelled",
                          "paused", "stopped"}) {
    EXPECT_TRUE(sweeps[1]["counts"].contains(key)) << key;
  }
  EXPECT_EQ(sweeps[1]["counts"]["succeeded"], 3);
}

TEST_F(UiApiTest, OneSweepWithJobsKeysAndMetrics) {
  UiServer ui(client_.get(), Options());
  HttpResponse r = Get(ui, "/api/sweeps/3");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = Body(r);
  EXPECT_EQ(body["sweep"]["id"], 3);
  EXPECT_TRUE(body["sweep"]["scheduler"].is_null());
  EXPECT_TRUE(body["sweep"]["rungs"].is_array());
  EXPECT_EQ(body["keys"], (json{"seed", "model"}));  // sweep-file order
  EXPECT_EQ(body["metrics"], (json{"accuracy", "loss"}));
  // The page's starting choices: accuracy first; model varies, seed is
  // what a group averages over.
  EXPECT_EQ(body["defaults"], json::parse(R"({"metric":"accuracy","group_by":["model"]})"));
  ASSERT_EQ(body["jobs"].size(), 3u);
  json job = body["jobs"][0];
  EXPECT_EQ(job["id"], 31);
  EXPECT_EQ(job["cell_index"], 0);
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["config"]["model"], "lstm");
  // Only the varying keys per job; the others once, under "common".
  EXPECT_FALSE(job["config"].contains("params.lr"));
  EXPECT_EQ(body["common"]["params.lr"], 0.1);
  EXPECT_EQ(job["final"]["accuracy"], 0.5);
  EXPECT_TRUE(job["final"]["loss"].is_null());  // NaN
  EXPECT_EQ(job["attempts"], 1);
  EXPECT_EQ(job["failures"], 0);

  HttpResponse missing = Get(ui, "/api/sweeps/99");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "{\"error\":\"sweep 99 does not exist\"}");
  HttpResponse bad = Get(ui, "/api/sweeps/x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad)["error"], "sweep id: expected a positive integer, got 'x'");
}

TEST_F(UiApiTest, OneJob) {
  pb::Job& job = state_->jobs[0];
  pb::Attempt* a = job.add_attempts();
  a->set_number(1);
  a->set_worker_name("w1");
  a->set_device("cpu");
  a->set_outcome(pb::ATTEMPT_OUTCOME_CONFIG_ERROR);
  a->set_cause("<b>stderr</b>");
  a->set_started_at(10);
  pb::Decision* d = job.add_decisions();
  d->set_kind("stop");
  d->set_rung(1);
  d->set_value(std::numeric_limits<double>::infinity());
  pb::CheckpointInfo c;
  c.set_job_id(31);
  c.set_step(20);
  c.set_size_bytes(123);
  c.set_sha256("ab");
  state_->checkpoints.push_back(c);
  UiServer ui(client_.get(), Options());
  HttpResponse r = Get(ui, "/api/jobs/31");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r)["job"];
  EXPECT_EQ(j["sweep_id"], 3);
  ASSERT_EQ(j["attempts"].size(), 1u);
  EXPECT_EQ(j["attempts"][0]["outcome"], "config_error");
  EXPECT_EQ(j["attempts"][0]["worker"], "w1");
  EXPECT_EQ(j["attempts"][0]["cause"], "<b>stderr</b>");
  EXPECT_TRUE(j["attempts"][0]["ended_at"].is_null());
  EXPECT_EQ(j["decisions"][0]["kind"], "stop");
  EXPECT_TRUE(j["decisions"][0]["value"].is_null());
  ASSERT_EQ(j["checkpoints"].size(), 1u);
  EXPECT_EQ(j["checkpoints"][0]["step"], 20);
  EXPECT_EQ(Get(ui, "/api/jobs/999").body, "{\"error\":\"job 999 does not exist\"}");
}

TEST_F(UiApiTest, Workers) {
  pb::Worker w;
  w.set_id(1);
  w.set_name("gpu-1");
  w.set_slots_total(4);
  w.set_slots_busy(2);
  w.add_programs("switchyard-train");
  pb::Device* d = w.add_devices();
  d->set_name("cuda:0");
  d->set_kind("cuda");
  d->set_slots(4);
  state_->workers.push_back(w);
  UiServer ui(client_.get(), Options());
  json workers = Body(Get(ui, "/api/workers"))["workers"];
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0]["slots_busy"], 2);
  EXPECT_EQ(workers[0]["devices"][0]["name"], "cuda:0");
  EXPECT_EQ(workers[0]["programs"][0], "switchyard-train");
}

TEST_F(UiApiTest, SeriesAndAggregate) {
  pb::Series* s = state_->series.add_series();
  s->set_job_id(31);
  s->set_name("loss");
  s->set_points(10);
  s->set_last_step(9);
  pb::SeriesBucket* b = s->add_buckets();
  b->set_first_step(0);
  b->set_last_step(9);
  b->set_min(0.1);
  b->set_max(std::nan(""));
  b->set_last(0.2);
  b->set_count(10);
  pb::AggregateGroup* g = state_->aggregate.add_groups();
  (*g->mutable_key())["model"] = "lstm";
  g->add_job_ids(31);
  pb::AggregatePoint* p = g->add_points();
  p->set_x(1);
  p->set_mean(0.5);
  p->set_sd(std::nan(""));
  p->set_n(1);
  p->set_min(0.5);
  p->set_max(0.5);
  UiServer ui(client_.get(), Options());

  HttpResponse r = Get(ui, "/api/series?sweep=3&job=31,32&name=loss&max_points=50&after_step=4");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::parse(R"({"series":[{"job_id":31,"name":"loss","points":10,"last_step":9,
                                    "buckets":[[0,9,0.1,null,0.2,10]]}]})"));
  ASSERT_EQ(state_->series_requests.size(), 1u);
  const pb::QuerySeriesRequest& q = state_->series_requests[0];
  EXPECT_EQ(q.sweep_id(), 3);
  EXPECT_EQ(q.job_ids_size(), 2);
  EXPECT_EQ(q.max_points(), 50);
  EXPECT_TRUE(q.has_after_step());
  EXPECT_EQ(q.after_step(), 4);
  Get(ui, "/api/series?sweep=3");
  EXPECT_EQ(state_->series_requests[1].max_points(), 1000);
  EXPECT_FALSE(state_->series_requests[1].has_after_step());

  HttpResponse bad = Get(ui, "/api/series?sweep=3&max_points=x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "{\"error\":\"max_points: expected an integer from 1 to 100000, got 'x'\"}");
  EXPECT_EQ(Get(ui, "/api/series?sweep=3&max_points=0").status, 400);
  EXPECT_EQ(Get(ui, "/api/series?sweep=3&job=a").status, 400);
  EXPECT_EQ(Get(ui, "/api/series").status, 400);
  EXPECT_EQ(Get(ui, "/api/series?sweep=99").status, 404);
  EXPECT_EQ(Get(ui, "/api/series?sweep=99").body, "{\"error\":\"sweep 99 does not exist\"}");

  r = Get(ui, "/api/aggregate?sweep=3&name=accuracy&group_by=model&x=epoch&include_stopped=1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::parse(R"({"name":"accuracy","group_by":["model"],
                                    "groups":[{"key":{"model":"lstm"},"job_ids":[31],
                                    "points":[[1.0,0.5,null,1,0.5,0.5]]}]})"));
  const pb::AggregateRequest& a = state_->aggregate_requests[0];
  EXPECT_EQ(a.name(), "accuracy");
  EXPECT_EQ(a.x(), "epoch");
  EXPECT_TRUE(a.include_stopped());
  ASSERT_EQ(a.group_by_size(), 1);
  EXPECT_EQ(Get(ui, "/api/aggregate?sweep=3&name=accuracy&x=time").status, 400);
  EXPECT_EQ(Body(Get(ui, "/api/aggregate?sweep=3&name=accuracy&group_by=modle"))["error"],
            "group_by: unknown key 'modle'; did you mean 'model'?");
  EXPECT_EQ(Get(ui, "/api/aggregate?sweep=3").status, 400);
  EXPECT_EQ(Get(ui, "/api/aggregate?sweep=3&name=a&include_stopped=maybe").status, 400);

  // defaults=1 fills in what is not given with /api/sweeps/3's defaults, and
  // keeps what is.
  r = Get(ui, "/api/aggregate?sweep=3&defaults=1&max_points=300");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["name"], "accuracy");
  EXPECT_EQ(Body(r)["group_by"], (json{"model"}));
  EXPECT_EQ(state_->aggregate_requests.back().name(), "accuracy");
  ASSERT_EQ(state_->aggregate_requests.back().group_by_size(), 1);
  EXPECT_EQ(state_->aggregate_requests.back().group_by(0), "model");
  r = Get(ui, "/api/aggregate?sweep=3&defaults=1&name=loss&group_by=seed");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["name"], "loss");
  EXPECT_EQ(Body(r)["group_by"], (json{"seed"}));
  r = Get(ui, "/api/aggregate?sweep=3&defaults=1&name=loss&group_by=");
  EXPECT_EQ(Body(r)["group_by"], json::array());  // "no grouping" is a choice
  r = Get(ui, "/api/aggregate?sweep=99&defaults=1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\":\"sweep 99 does not exist\"}");
  EXPECT_EQ(Get(ui, "/api/aggregate?sweep=3&defaults=maybe").status, 400);

  HttpResponse csv = Get(ui, "/download/data.csv?sweep=3&what=aggregate&name=accuracy&group_by=model");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body, "model,metric,x,mean,sd,n,min,max\nlstm,accuracy,1,0.5,,1,0.5,0.5\n");
  csv = Get(ui, "/download/data.csv?sweep=3&what=series");
  EXPECT_EQ(csv.body, "job,name,first_step,last_step,min,max,last,count\n31,loss,0,9,0.1,,0.2,10\n");
}

TEST_F(UiApiTest, UnimplementedRpcsAreA501) {
  state_->fail_with = absl::OkStatus();
  // A CoordinatorClient without the views' RPCs (an old fake or server).
  class Old final : public CoordinatorClient {
   public:
    absl::StatusOr<pb::SubmitSweepResponse> SubmitSweep(const pb::SubmitSweepRequest&) override { return absl::UnimplementedError(""); }
    absl::StatusOr<pb::Sweep> GetSweep(int64_t) override { return pb::Sweep(); }
    absl::StatusOr<std::vector<pb::Sweep>> ListSweeps() override { return std::vector<pb::Sweep>(); }
    absl::StatusOr<std::unique_ptr<SweepEventReader>> WatchSweep(int64_t) override { return absl::UnimplementedError(""); }
    absl::StatusOr<pb::CancelResponse> Cancel(const pb::CancelRequest&) override { return absl::UnimplementedError(""); }
    absl::StatusOr<pb::RetrySweepResponse> RetrySweep(const pb::RetrySweepRequest&) override { return absl::UnimplementedError(""); }
    absl::StatusOr<std::vector<pb::Job>> ListJobs(int64_t, pb::JobState) override { return std::vector<pb::Job>(); }
    absl::StatusOr<pb::Job> GetJob(int64_t) override { return pb::Job(); }
    absl::Status QueryMetrics(const pb::QueryMetricsRequest&, const std::function<absl::Status(const pb::JobMetricPoint&)>&) override { return absl::OkStatus(); }
    absl::StatusOr<std::vector<pb::Worker>> ListWorkers() override { return std::vector<pb::Worker>(); }
  } old;
  UiServer ui(&old, Options());
  EXPECT_EQ(Get(ui, "/api/series?sweep=3").status, 501);
  // No checkpoints from an old coordinator: the job still shows.
  EXPECT_EQ(Get(ui, "/api/jobs/1").status, 200);
}

TEST_F(UiApiTest, CoordinatorErrors) {
  state_->fail_with = ServerError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  UiServer ui(client_.get(), Options());
  HttpResponse r = Get(ui, "/api/sweeps");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(Body(r)["error"].get<std::string>().find("down"), std::string::npos);
}

TEST_F(UiApiTest, PagesAndAssets) {
  UiServer ui(client_.get(), Options());
  for (const char* page : {"/", "/sweeps/3", "/jobs/31", "/workers", "/sweeps/999"}) {
    HttpResponse r = Get(ui, page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << page;
    EXPECT_EQ(r.body, "<!doctype html><title>t</title>") << page;
  }
  HttpResponse js = Get(ui, "/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(Get(ui, "/assets/nope.js").status, 404);
  EXPECT_EQ(Get(ui, "/assets/../../etc/passwd").status, 404);
  EXPECT_EQ(Get(ui, "/nowhere").status, 404);
  // Without web/src in the build: a page that says so.
  UiOptions bare = Options();
  bare.assets.clear();
  UiServer empty(client_.get(), bare);
  HttpResponse r = Get(empty, "/");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("web/src"), std::string::npos);
}

TEST_F(UiApiTest, HostHeaderIsChecked) {
  UiOptions options = Options();
  options.allowed_hosts = {"127.0.0.1:8080", "localhost:8080"};
  UiServer ui(client_.get(), options);
  EXPECT_EQ(Get(ui, "/api/sweeps").status, 200);  // Host: 127.0.0.1:8080
  HttpRequest r = Request("GET", "/api/sweeps");
  r.headers["host"] = "evil.example:8080";
  EXPECT_EQ(ui.Handle(r).status, 403);
  r.headers.erase("host");
  EXPECT_EQ(ui.Handle(r).status, 403);
}

TEST_F(UiApiTest, LoginOnNonLoopback) {
  UiOptions options = Options();
  options.require_login = true;
  options.ui_token = "t0ken";
  UiServer ui(client_.get(), options);
  HttpResponse r = Get(ui, "/api/sweeps");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(Body(r).contains("error"));
  EXPECT_EQ(Get(ui, "/download/data.csv?sweep=3&what=jobs").status, 401);
  EXPECT_EQ(Get(ui, "/api/session").status, 401);
  HttpResponse page = Get(ui, "/sweeps/3");
  EXPECT_EQ(page.status, 303);
  HttpResponse login = Get(ui, "/login");
  EXPECT_EQ(login.status, 200);
  EXPECT_NE(login.body.find("<form method=\"post\" action=\"/login\">"), std::string::npos);
  EXPECT_EQ(login.body.find("<script"), std::string::npos);
  EXPECT_EQ(Get(ui, "/assets/app.js").status, 200);

  HttpRequest wrong = Request("POST", "/login", "token=nope");
  HttpResponse refused = ui.Handle(wrong);
  EXPECT_EQ(refused.status, 303);
  bool has_cookie = false;
  for (const auto& [name, value] : refused.headers) has_cookie |= name == "Set-Cookie";
  EXPECT_FALSE(has_cookie);

  HttpRequest cross = Request("POST", "/login", "token=t0ken");
  cross.headers["origin"] = "http://evil.example";
  EXPECT_EQ(ui.Handle(cross).status, 403);

  HttpRequest right = Request("POST", "/login", "token=t0ken");
  HttpResponse ok = ui.Handle(right);
  EXPECT_EQ(ok.status, 303);
  std::string cookie;
  for (const auto& [name, value] : ok.headers) {
    if (name == "Set-Cookie") cookie = value;
  }
  ASSERT_FALSE(cookie.empty());
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);
  const std::string session = cookie.substr(0, cookie.find(';'));

  HttpRequest with = Request("GET", "/api/sweeps");
  with.headers["cookie"] = session;
  EXPECT_EQ(ui.Handle(with).status, 200);
  HttpRequest forged = Request("GET", "/api/sweeps");
  forged.headers["cookie"] = "switchyard_session=" + std::string(64, 'a');
  EXPECT_EQ(ui.Handle(forged).status, 401);
  // The CSRF rule holds for a logged-in page too.
  HttpRequest post = Request("POST", "/api/sweeps/3/cancel");
  post.headers["cookie"] = session;
  EXPECT_EQ(ui.Handle(post).status, 403);
  HttpRequest csrf = Request("GET", "/api/session");
  csrf.headers["cookie"] = session;
  post.headers["x-csrf-token"] = Body(ui.Handle(csrf))["csrf"];
  EXPECT_EQ(ui.Handle(post).status, 200);
}

TEST_F(UiApiTest, FigureAndJobsDownloads) {
  UiServer ui(client_.get(), Options());
  HttpResponse svg = Get(ui, "/download/figure.svg?sweep=3&kind=bars&group_by=model");
  ASSERT_EQ(svg.status, 200) << svg.body;
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_NE(svg.body.find("<svg"), std::string::npos);
  EXPECT_NE(svg.body.find("class=\"bar\""), std::string::npos);
  bool attachment = false;
  for (const auto& [name, value] : svg.headers) {
    attachment |= name == "Content-Disposition" && value.find("sweep-3-bars.svg") != std::string::npos;
  }
  EXPECT_TRUE(attachment);
  HttpResponse bad = Get(ui, "/download/figure.svg?sweep=3&kind=pie");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad)["error"], "kind: expected one of curves, bars, heatmap, got 'pie'");
  bad = Get(ui, "/download/figure.svg?sweep=3&kind=bars&group_by=modle");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(Body(bad)["error"].get<std::string>().find("group_by: unknown key 'modle'"),
            std::string::npos);
  EXPECT_EQ(Get(ui, "/download/figure.svg?sweep=3&kind=heatmap").status, 400);
  EXPECT_EQ(Get(ui, "/download/figure.svg?sweep=99&kind=bars").status, 404);

  HttpResponse csv = Get(ui, "/download/data.csv?sweep=3&what=jobs");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.body,
            "job,cell_index,state,attempts,failures,seed,model,final.accuracy,final.loss,last_cause\n"
            "31,0,succeeded,1,0,1,lstm,0.5,,\n"
            "32,1,succeeded,1,0,2,lstm,0.7,,\n"
            "33,2,succeeded,1,0,1,mlp,0.9,,\n");
  EXPECT_EQ(Get(ui, "/download/data.csv?sweep=3").status, 400);
}

// -------------------------------------------------------------- events

bool WaitFor(const std::function<bool()>& condition, double seconds = 5) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

pb::SweepEvent CountsEvent(int64_t running) {
  pb::SweepEvent event;
  event.mutable_sweep()->set_id(4);
  event.mutable_sweep()->set_state(pb::SWEEP_STATE_ACTIVE);
  event.mutable_sweep()->mutable_counts()->set_running(running);
  return event;
}

TEST_F(UiApiTest, TwoPagesShareOneUpstreamStream) {
  state_->block_streams = true;
  EventHub hub(client_.get(), 0.05, 0.05);
  std::shared_ptr<Subscription> a = hub.Subscribe(4);
  std::shared_ptr<Subscription> b = hub.Subscribe(4);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->watch_open == 1 && state_->tail_open == 1;
  }));
  EXPECT_EQ(hub.channel_count(), 1u);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->events.push_back(CountsEvent(2));
    pb::TailMetricsResponse batch;
    pb::JobMetricPoint* p = batch.add_points();
    p->set_job_id(41);
    p->mutable_point()->set_name("loss");
    p->mutable_point()->set_step(7);
    p->mutable_point()->set_value(0.25);
    state_->tail.push_back(batch);
    state_->stream_cv.notify_all();
  }
  for (const auto& s : {a, b}) {
    std::set<std::string> names;
    for (int i = 0; i < 3 && names.size() < 2; ++i) {
      std::optional<Event> e = s->Next(std::chrono::seconds(5));
      ASSERT_TRUE(e.has_value());
      names.insert(e->name);
      if (e->name == "sweep") {
        json sweep = json::parse(e->data);
        EXPECT_EQ(sweep["counts"]["running"], 2);
      }
      if (e->name == "points") {
        EXPECT_EQ(json::parse(e->data), json::parse(R"({"points":[[41,"loss",7,0.25]]})"));
      }
    }
    EXPECT_TRUE(names.count("sweep") && names.count("points"));
  }
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    EXPECT_EQ(state_->watch_opened, 1);
    EXPECT_EQ(state_->tail_opened, 1);
  }
  hub.Unsubscribe(a);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    EXPECT_EQ(state_->watch_open, 1);
  }
  hub.Unsubscribe(b);
  EXPECT_EQ(hub.channel_count(), 0u);
  std::lock_guard<std::mutex> lock(state_->mutex);
  EXPECT_EQ(state_->watch_open, 0);
  EXPECT_EQ(state_->tail_open, 0);
}

TEST_F(UiApiTest, JobsEventsCarryTheJobsThatChanged) {
  state_->block_streams = true;
  state_->jobs.push_back(MakeJob(41, 4, 0, "lstm", 1, pb::JOB_STATE_PENDING, 0));
  state_->jobs.push_back(MakeJob(42, 4, 1, "lstm", 2, pb::JOB_STATE_PENDING, 0));
  EventHub hub(client_.get(), 0.05, 0.05);
  std::shared_ptr<Subscription> s = hub.Subscribe(4);
  auto next_jobs = [&]() -> json {
    for (int i = 0; i < 5; ++i) {
      std::optional<Event> e = s->Next(std::chrono::seconds(5));
      if (!e.has_value()) return nullptr;
      if (e->name == "jobs") return json::parse(e->data)["jobs"];
    }
    return nullptr;
  };
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->events.push_back(CountsEvent(0));
    state_->stream_cv.notify_all();
  }
  // The channel's first listing sends no jobs: each page read them from
  // /api/sweeps/ID (1,000 jobs were most of a big sweep's first bytes).
  std::optional<Event> first = s->Next(std::chrono::seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->name, "sweep");
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->list_jobs_calls > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->jobs[4].set_state(pb::JOB_STATE_RUNNING);
    state_->events.push_back(CountsEvent(1));
    state_->stream_cv.notify_all();
  }
  json changed = next_jobs();  // the first `jobs` event: the change, not the seed
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0]["id"], 42);
  EXPECT_EQ(changed[0]["state"], "running");
  hub.Unsubscribe(s);
}

class FakeSink final : public StreamSink {
 public:
  bool Write(absl::string_view bytes) override {
    std::lock_guard<std::mutex> lock(mutex);
    written.append(bytes.data(), bytes.size());
    return !closed;
  }
  bool Stopping() const override { return stopping.load(); }
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex);
    return written;
  }
  std::mutex mutex;
  std::string written;
  bool closed = false;
  std::atomic<bool> stopping{false};
};

TEST_F(UiApiTest, EventStreamSendsSweepPingAndLeaves) {
  state_->block_streams = true;
  UiServer ui(client_.get(), Options());
  HttpResponse r = Get(ui, "/api/events?sweep=4");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream; charset=utf-8");
  ASSERT_TRUE(r.stream);
  FakeSink sink;
  std::thread stream([&] { r.stream(sink); });
  ASSERT_TRUE(WaitFor([&] { return sink.Text().find("event: ping\ndata: {}\n\n") != std::string::npos; }));
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->events.push_back(CountsEvent(5));
    state_->stream_cv.notify_all();
  }
  ASSERT_TRUE(WaitFor([&] { return sink.Text().find("\"running\":5") != std::string::npos; }));
  const std::string text = sink.Text();
  EXPECT_EQ(text.rfind("retry: 3000\n\nevent: sweep\ndata: {", 0), 0u) << text;
  EXPECT_EQ(ui.hub().channel_count(), 1u);
  sink.stopping = true;
  stream.join();
  EXPECT_EQ(ui.hub().channel_count(), 0u);
  EXPECT_EQ(Get(ui, "/api/events?sweep=99").status, 404);
  EXPECT_EQ(Get(ui, "/api/events?sweep=x").status, 400);
}

TEST_F(UiApiTest, AllSweepsStreamPollsOncePerProcess) {
  EventHub hub(client_.get(), 0.05, 0.05);
  std::shared_ptr<Subscription> a = hub.Subscribe(0);
  std::shared_ptr<Subscription> b = hub.Subscribe(0);
  for (const auto& s : {a, b}) {
    std::optional<Event> e = s->Next(std::chrono::seconds(5));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->name, "sweep");
  }
  EXPECT_EQ(hub.channel_count(), 1u);
  hub.Unsubscribe(a);
  hub.Unsubscribe(b);
  EXPECT_EQ(hub.channel_count(), 0u);
}

// ------------------------------------------------------------- command

TEST(UiCommandTest, HelpAndBadListen) {
  std::ostringstream out, err;
  CliIo io;
  io.out = &out;
  io.err = &err;
  EXPECT_EQ(RunCli({"ui", "--help"}, io), 0);
  EXPECT_NE(out.str().find("serving on http://HOST:PORT"), std::string::npos);
  EXPECT_NE(out.str().find("--ui-token-file"), std::string::npos);
  EXPECT_NE(out.str().find("X-CSRF-Token"), std::string::npos);
  EXPECT_EQ(RunCli({"ui", "--listen", "nope"}, io), 1);
  EXPECT_NE(err.str().find("--listen: expected HOST:PORT"), std::string::npos);
  EXPECT_EQ(RunCli({"ui", "--listen", "127.0.0.1:99999"}, io), 1);
}

}  // namespace
}  // namespace switchyard::client::ui
