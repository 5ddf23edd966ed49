// A small HTTP/1.1 server on POSIX sockets (HTTPS with OpenSSL when
// EnableTls is called) for `switchyard ui`: one thread
// per connection (at most max_connections at once; beyond that a 503), one
// request per connection (every answer carries Connection: close, except an
// event stream, which holds its connection until either side ends it).
//
// Requests are read with limits: the request line and headers at most
// max_header_bytes (431 beyond), a body at most max_body_bytes and only with
// Content-Length (413 beyond, 411 for any Transfer-Encoding), the whole
// request within read_timeout_seconds (408). Malformed input is a 400 with a
// JSON error; nothing a client sends crashes the server.
//
// Routing (Router) is by method and path pattern: "/api/sweeps/{id}" binds
// {id} to one path segment. A path that matches no pattern is 404, a path
// that matches only with another method 405 (with Allow).
//
// Thread safety: a Router is built before Serve and then only read. Handlers
// run concurrently on the connection threads. Stop() may be called from any
// thread (a signal handler's thread included, not the handler itself).
#ifndef SWITCHYARD_CLIENT_UI_HTTP_SERVER_H_
#define SWITCHYARD_CLIENT_UI_HTTP_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace switchyard::client::ui {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/api/series?sweep=3"
  std::string path;    // percent-decoded, without the query: "/api/series"
  std::map<std::string, std::string> query;    // decoded; a name given twice keeps the last
  std::map<std::string, std::string> headers;  // names lower-cased
  std::map<std::string, std::string> params;   // bound by the route: {"id": "3"}
  std::string body;
  std::string peer;  // "127.0.0.1:54321"

  // The header's value, "" when absent (name in any case).
  std::string Header(absl::string_view name) const;
  // The value of a cookie in the Cookie header, "" when absent.
  std::string Cookie(absl::string_view name) const;
  bool Has(absl::string_view name) const { return query.count(std::string(name)) > 0; }
  std::string Query(absl::string_view name, std::string fallback = "") const;
};

// Writes an event stream's bytes to the connection.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // False once the client has gone or the server stops; the stream should end.
  virtual bool Write(absl::string_view bytes) = 0;
  // True once the server stops.
  virtual bool Stopping() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  // Set: an event stream. The server writes the status line and headers
  // (no Content-Length, no Connection: close) and then runs this on the
  // connection's thread until it returns; `body` is ignored.
  std::function<void(StreamSink&)> stream;

  // {"error": message} with `status`.
  static HttpResponse Error(int status, absl::string_view message);
  static HttpResponse Json(int status, std::string body);
};

// The reason phrase of a status: "Not Found".
absl::string_view StatusText(int status);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query
// strings and forms). INVALID_ARGUMENT for a bad escape or a NUL byte.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space);

// "a=1&b=x%20y" -> {a: 1, b: "x y"}; a name without '=' has the value "".
absl::StatusOr<std::map<std::string, std::string>> ParseQuery(absl::string_view text);

struct HttpLimits {
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  double read_timeout_seconds = 10;
  int max_connections = 64;
};

// Parses the request line and headers (`head` ends before the blank line's
// CRLF CRLF; bare LF line ends are accepted too). The error, if any, is the
// response to send: 400 for a malformed request, 411 for a
// Transfer-Encoding, 505 for a version other than HTTP/1.x.
absl::StatusOr<HttpRequest> ParseRequestHead(absl::string_view head, HttpResponse* error);

// Reads up to `size` bytes into `buffer`, waiting at most timeout_ms:
// the count read, 0 at the end of the stream, -1 on an error, -2 on timeout.
using ReadSome = std::function<long(char* buffer, size_t size, int timeout_ms)>;

// Reads one request through `read` under `limits`. On failure *error is the
// response to send (and the status is not OK); a connection closed before a
// full request yields CANCELLED and no response.
absl::StatusOr<HttpRequest> ReadRequest(const ReadSome& read, const HttpLimits& limits,
                                        HttpResponse* error);

// The bytes of a complete response: status line, `common` headers, the
// response's own, Content-Type, Content-Length and Connection: close (for a
// stream: the head only, without length and Connection).
std::string SerializeResponse(const HttpResponse& response,
                              const std::vector<std::pair<std::string, std::string>>& common);

using Handler = std::function<HttpResponse(HttpRequest&)>;

class Router {
 public:
  // `pattern`: "/api/sweeps/{id}/cancel"; a {name} segment matches one
  // non-empty segment; a trailing "/*" matches the rest (bound to "*").
  void Add(std::string method, std::string pattern, Handler handler);
  // Routes the request: its handler's response, 404 or 405.
  HttpResponse Handle(HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  static bool Match(const Route& route, const std::vector<std::string>& segments,
                    std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

class HttpServer {
 public:
  // `handle` answers every request; `common_headers` go on every response
  // (errors the server writes itself included).
  HttpServer(std::function<HttpResponse(HttpRequest&)> handle,
             std::vector<std::pair<std::string, std::string>> common_headers,
             HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on host:port (port 0: any free port); host is an IPv4
  // or IPv6 address or "localhost".
  absl::Status Listen(const std::string& host, int port);
  int port() const { return port_; }

  // Serves HTTPS (TLS 1.2 or newer) with this certificate chain and key
  // (PEM files); call before Serve. An error names the file. Ignores SIGPIPE
  // for the whole process (OpenSSL writes without MSG_NOSIGNAL).
  absl::Status EnableTls(const std::string& cert_file, const std::string& key_file);
  bool tls() const { return tls_context_ != nullptr; }

  // Accepts connections until Stop(); then waits (up to a few seconds) for
  // the connection threads to end and returns.
  void Serve();
  // Makes Serve return: closes the listening socket, ends event streams and
  // shuts every open connection down.
  void Stop();
  bool stopping() const { return stopping_.load(); }

 private:
  void HandleConnection(int fd, std::string peer);

  void* tls_context_ = nullptr;  // SSL_CTX*, when TLS is on
  std::function<HttpResponse(HttpRequest&)> handle_;
  std::vector<std::pair<std::string, std::string>> common_headers_;
  HttpLimits limits_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  std::set<int> open_fds_;  // guarded by mutex_
  int active_ = 0;          // connection threads alive; guarded by mutex_
};

}  // namespace switchyard::client::ui

#endif  // SWITCHYARD_CLIENT_UI_HTTP_SERVER_H_
