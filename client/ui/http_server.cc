#include "client/ui/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <chrono>
#include <cstring>
#include <exception>
#include <system_error>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace switchyard::client::ui {
namespace {

using Clock = std::chrono::steady_clock;

bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sends all of `bytes`; false when the peer is gone or a send timed out.
bool SendAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Half-closes and discards what the client still sends for a moment, so
// that closing with unread bytes does not reset the connection before the
// client has read the response.
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  char buffer[4096];
  const Clock::time_point until = Clock::now() + std::chrono::milliseconds(500);
  size_t discarded = 0;
  while (discarded < 256 * 1024) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    discarded += static_cast<size_t>(n);
  }
  ::close(fd);
}

// One accepted connection, plain or TLS.
class Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  long ReadSome(char* buffer, size_t size, int timeout_ms) {
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (left <= 0) return -2;
        pollfd p{fd_, POLLIN, 0};
        int ready = ::poll(&p, 1, left);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) return -2;
        if (ready < 0) return -1;
      }
      if (ssl_ == nullptr) {
        ssize_t n = ::recv(fd_, buffer, size, 0);
        if (n < 0 && errno == EINTR) continue;
        return n < 0 ? -1 : static_cast<long>(n);
      }
      int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(size, INT_MAX)));
      if (n > 0) return n;
      int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) continue;
      if (error == SSL_ERROR_ZERO_RETURN) return 0;
      ERR_clear_error();
      return -1;
    }
  }

  bool WriteAll(absl::string_view bytes) {
    if (ssl_ == nullptr) return SendAll(fd_, bytes);
    while (!bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Close(bool linger) {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);  // our close_notify; we do not wait for theirs
      ERR_clear_error();
    }
    if (linger) {
      LingeringClose(fd_);
    } else {
      ::close(fd_);
    }
  }

 private:
  int fd_;
  SSL* ssl_;
};

class SocketSink final : public StreamSink {
 public:
  SocketSink(Connection* connection, const std::atomic<bool>* stopping)
      : connection_(connection), stopping_(stopping) {}
  bool Write(absl::string_view bytes) override {
    if (failed_ || stopping_->load()) return false;
    if (!connection_->WriteAll(bytes)) failed_ = true;
    return !failed_;
  }
  bool Stopping() const override { return stopping_->load(); }

 private:
  Connection* connection_;
  const std::atomic<bool>* stopping_;
  bool failed_ = false;
};

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::string PeerName(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return absl::StrCat("[", host, "]:", port);
  }
  return "?";
}

}  // namespace

// ------------------------------------------------------------ HttpRequest

std::string HttpRequest::Header(absl::string_view name) const {
  auto it = headers.find(absl::AsciiStrToLower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::Cookie(absl::string_view name) const {
  for (absl::string_view part : absl::StrSplit(Header("cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) continue;
    if (part.substr(0, eq) == name) {
      absl::string_view value = part.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return "";
}

std::string HttpRequest::Query(absl::string_view name, std::string fallback) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? fallback : it->second;
}

// ----------------------------------------------------------- HttpResponse

HttpResponse HttpResponse::Error(int status, absl::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", std::string(message)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

absl::string_view StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

// --------------------------------------------------------------- parsing

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("a '%' not followed by two hex digits");
      }
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return absl::InvalidArgumentError("a '%' not followed by two hex digits");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return absl::InvalidArgumentError("a NUL byte");
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseQuery(absl::string_view text) {
  std::map<std::string, std::string> query;
  for (absl::string_view part : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    absl::StatusOr<std::string> name = PercentDecode(part.substr(0, eq), true);
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != absl::string_view::npos) {
      absl::StatusOr<std::string> decoded = PercentDecode(part.substr(eq + 1), true);
      if (!decoded.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter '", *name, "': ", decoded.status().message()));
      }
      value = *std::move(decoded);
    }
    query[*name] = std::move(value);
  }
  return query;
}

absl::StatusOr<HttpRequest> ParseRequestHead(absl::string_view head, HttpResponse* error) {
  auto fail = [error](int status, absl::string_view message) {
    *error = HttpResponse::Error(status, message);
    return absl::InvalidArgumentError(message);
  };
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  for (absl::string_view& line : lines) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  // A few empty lines before the request line are allowed (RFC 9112 2.2).
  size_t first = 0;
  while (first < lines.size() && lines[first].empty()) ++first;
  if (first == lines.size()) return fail(400, "empty request");
  std::vector<absl::string_view> parts = absl::StrSplit(lines[first], ' ');
  if (parts.size() != 3) return fail(400, "malformed request line");
  HttpRequest request;
  if (!IsToken(parts[0])) return fail(400, "malformed method");
  request.method = std::string(parts[0]);
  if (!absl::StartsWith(parts[2], "HTTP/1.")) {
    return fail(absl::StartsWith(parts[2], "HTTP/") ? 505 : 400,
                absl::StartsWith(parts[2], "HTTP/") ? "only HTTP/1.x is served"
                                                    : "malformed request line");
  }
  absl::string_view target = parts[1];
  if (target.empty() || target.front() != '/') {
    return fail(400, "the request target must be a path starting with '/'");
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return fail(400, "the request target holds a control or non-ASCII byte");
    }
  }
  request.target = std::string(target);
  size_t question = target.find('?');
  absl::StatusOr<std::string> path = PercentDecode(target.substr(0, question), false);
  if (!path.ok()) return fail(400, absl::StrCat("path: ", path.status().message()));
  request.path = *std::move(path);
  if (question != absl::string_view::npos) {
    absl::StatusOr<std::map<std::string, std::string>> query =
        ParseQuery(target.substr(question + 1));
    if (!query.ok()) return fail(400, query.status().message());
    request.query = *std::move(query);
  }
  for (size_t i = first + 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (line.empty()) continue;  // the head's last CRLF
    if (line.front() == ' ' || line.front() == '\t') {
      return fail(400, "folded header lines are not accepted");
    }
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return fail(400, "malformed header line");
    absl::string_view name = line.substr(0, colon);
    if (!IsToken(name)) return fail(400, "malformed header name");
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return fail(400, "a header value holds a control byte");
      }
    }
    std::string key = absl::AsciiStrToLower(name);
    auto [it, inserted] = request.headers.emplace(key, std::string(value));
    if (!inserted) {
      if (key == "content-length" || key == "host") {
        if (it->second != value) return fail(400, absl::StrCat("conflicting ", key, " headers"));
      } else {
        absl::StrAppend(&it->second, key == "cookie" ? "; " : ", ", value);
      }
    }
  }
  if (request.headers.count("transfer-encoding")) {
    return fail(411, "send the body with Content-Length; Transfer-Encoding is not accepted");
  }
  return request;
}

absl::StatusOr<HttpRequest> ReadRequest(const ReadSome& read, const HttpLimits& limits,
                                        HttpResponse* error) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(limits.read_timeout_seconds * 1000));
  std::string buffer;
  // Reads more bytes into buffer; false on EOF, error or timeout (which sets
  // *timed_out).
  bool timed_out = false;
  auto read_more = [&](size_t at_most) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) {
      timed_out = true;
      return false;
    }
    char chunk[4096];
    long n = read(chunk, std::min(sizeof chunk, at_most), left);
    if (n == -2) timed_out = true;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  };
  size_t head_end = std::string::npos;
  size_t body_start = 0;
  for (;;) {
    size_t crlf = buffer.find("\r\n\r\n");
    size_t lf = buffer.find("\n\n");
    if (crlf != std::string::npos && (lf == std::string::npos || crlf < lf)) {
      head_end = crlf;
      body_start = crlf + 4;
    } else if (lf != std::string::npos) {
      head_end = lf;
      body_start = lf + 2;
    }
    if (head_end != std::string::npos) break;
    if (buffer.size() > limits.max_header_bytes) {
      *error = HttpResponse::Error(
          431, absl::StrCat("the request line and headers exceed ", limits.max_header_bytes, " bytes"));
      return absl::InvalidArgumentError("headers too large");
    }
    if (!read_more(limits.max_header_bytes + 4 - buffer.size())) {
      if (timed_out && !buffer.empty()) {
        *error = HttpResponse::Error(408, "the request was not complete in time");
        return absl::DeadlineExceededError("request timeout");
      }
      return absl::CancelledError("connection closed");
    }
  }
  if (head_end > limits.max_header_bytes) {
    *error = HttpResponse::Error(
        431, absl::StrCat("the request line and headers exceed ", limits.max_header_bytes, " bytes"));
    return absl::InvalidArgumentError("headers too large");
  }
  absl::StatusOr<HttpRequest> request =
      ParseRequestHead(absl::string_view(buffer).substr(0, head_end), error);
  if (!request.ok()) return request.status();
  size_t length = 0;
  if (std::string value = request->Header("content-length"); !value.empty()) {
    uint64_t parsed = 0;
    bool digits = value.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || value.size() > 18 || !absl::SimpleAtoi(value, &parsed)) {
      *error = HttpResponse::Error(400, "malformed Content-Length");
      return absl::InvalidArgumentError("bad content-length");
    }
    if (parsed > limits.max_body_bytes) {
      *error = HttpResponse::Error(
          413, absl::StrCat("the body exceeds ", limits.max_body_bytes, " bytes"));
      return absl::InvalidArgumentError("body too large");
    }
    length = static_cast<size_t>(parsed);
  }
  while (buffer.size() - body_start < length) {
    if (!read_more(length - (buffer.size() - body_start))) {
      if (timed_out) {
        *error = HttpResponse::Error(408, "the request body was not complete in time");
        return absl::DeadlineExceededError("request timeout");
      }
      return absl::CancelledError("connection closed");
    }
  }
  request->body = buffer.substr(body_start, length);
  return request;
}

std::string SerializeResponse(const HttpResponse& response,
                              const std::vector<std::pair<std::string, std::string>>& common) {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", StatusText(response.status), "\r\n");
  for (const auto& [name, value] : common) absl::StrAppend(&out, name, ": ", value, "\r\n");
  for (const auto& [name, value] : response.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  if (!response.content_type.empty()) {
    absl::StrAppend(&out, "Content-Type: ", response.content_type, "\r\n");
  }
  if (response.stream) {
    absl::StrAppend(&out, "\r\n");
    return out;
  }
  absl::StrAppend(&out, "Content-Length: ", response.body.size(), "\r\nConnection: close\r\n\r\n",
                  response.body);
  return out;
}

// ----------------------------------------------------------------- Router

namespace {
std::vector<std::string> Segments(absl::string_view path) {
  std::vector<std::string> segments;
  for (absl::string_view s : absl::StrSplit(path, '/')) segments.emplace_back(s);
  // "/a/b" -> ["", "a", "b"]; drop the leading empty one.
  if (!segments.empty() && segments.front().empty()) segments.erase(segments.begin());
  return segments;
}
}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back(Route{std::move(method), Segments(pattern), std::move(handler)});
}

bool Router::Match(const Route& route, const std::vector<std::string>& segments,
                   std::map<std::string, std::string>* params) {
  params->clear();
  const std::vector<std::string>& pattern = route.segments;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == "*" && i + 1 == pattern.size()) {
      if (i >= segments.size()) return false;
      std::string rest;
      for (size_t k = i; k < segments.size(); ++k) {
        absl::StrAppend(&rest, k == i ? "" : "/", segments[k]);
      }
      if (rest.empty()) return false;
      (*params)["*"] = rest;
      return true;
    }
    if (i >= segments.size()) return false;
    if (pattern[i].size() > 2 && pattern[i].front() == '{' && pattern[i].back() == '}') {
      if (segments[i].empty()) return false;
      (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = segments[i];
      continue;
    }
    if (pattern[i] != segments[i]) return false;
  }
  return pattern.size() == segments.size();
}

HttpResponse Router::Handle(HttpRequest& request) const {
  const std::vector<std::string> segments = Segments(request.path);
  std::vector<std::string> allowed;
  std::map<std::string, std::string> params;
  for (const Route& route : routes_) {
    if (!Match(route, segments, &params)) continue;
    if (route.method != request.method) {
      if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
        allowed.push_back(route.method);
      }
      continue;
    }
    request.params = params;
    return route.handler(request);
  }
  if (!allowed.empty()) {
    HttpResponse response = HttpResponse::Error(
        405, absl::StrCat(request.method, " is not allowed on ", request.path, "; use ",
                          absl::StrJoin(allowed, " or ")));
    response.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
    return response;
  }
  return HttpResponse::Error(404, absl::StrCat("no such path: ", request.path));
}

// ------------------------------------------------------------- HttpServer

HttpServer::HttpServer(std::function<HttpResponse(HttpRequest&)> handle,
                       std::vector<std::pair<std::string, std::string>> common_headers,
                       HttpLimits limits)
    : handle_(std::move(handle)), common_headers_(std::move(common_headers)), limits_(limits) {}

HttpServer::~HttpServer() {
  Stop();
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return active_ == 0; });
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (tls_context_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(tls_context_));
}

absl::Status HttpServer::EnableTls(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) return absl::InternalError(absl::StrCat("TLS: ", OpenSslError()));
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_mode(context, SSL_MODE_AUTO_RETRY);
  absl::Status status;
  if (SSL_CTX_use_certificate_chain_file(context, cert_file.c_str()) != 1) {
    status = absl::InvalidArgumentError(absl::StrCat("--ui-tls-cert: cannot load ", cert_file,
                                                     " as a PEM certificate chain: ", OpenSslError()));
  } else if (SSL_CTX_use_PrivateKey_file(context, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    status = absl::InvalidArgumentError(
        absl::StrCat("--ui-tls-key: cannot load ", key_file, " as a PEM key: ", OpenSslError()));
  } else if (SSL_CTX_check_private_key(context) != 1) {
    status = absl::InvalidArgumentError(absl::StrCat("--ui-tls-key: ", key_file,
                                                     " is not the key of ", cert_file));
    ERR_clear_error();
  }
  if (!status.ok()) {
    SSL_CTX_free(context);
    return status;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (tls_context_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(tls_context_));
  tls_context_ = context;
  return absl::OkStatus();
}

absl::Status HttpServer::Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = bound.ss_family == AF_INET6
                ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    listen_fd_ = fd;
    ::freeaddrinfo(found);
    return absl::OkStatus();
  }
  ::freeaddrinfo(found);
  return absl::InvalidArgumentError(
      absl::StrCat("--listen: cannot listen on ", host, ":", port, ": ", last_error));
}

void HttpServer::Serve() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready <= 0) continue;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    timeval send_timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (active_ >= limits_.max_connections || stopping_.load()) {
        HttpResponse busy = HttpResponse::Error(
            503, absl::StrCat("too many connections (at most ", limits_.max_connections, ")"));
        busy.headers.emplace_back("Retry-After", "1");
        timeval short_timeout{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &short_timeout, sizeof short_timeout);
        SendAll(fd, SerializeResponse(busy, common_headers_));
        ::close(fd);
        continue;
      }
      ++active_;
      open_fds_.insert(fd);
    }
    try {
      std::thread([this, fd, peer = PeerName(address)] { HandleConnection(fd, peer); }).detach();
    } catch (const std::system_error&) {
      // No thread to be had: drop the connection, keep serving.
      std::lock_guard<std::mutex> lock(mutex_);
      open_fds_.erase(fd);
      ::close(fd);
      --active_;
      idle_.notify_all();
    }
  }
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait_for(lock, std::chrono::seconds(5), [this] { return active_ == 0; });
}

void HttpServer::Stop() {
  stopping_.store(true);
  std::lock_guard<std::mutex> lock(mutex_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

void HttpServer::HandleConnection(int fd, std::string peer) {
  SSL* ssl = nullptr;
  bool ready = true;
  if (tls_context_ != nullptr) {
    // The handshake blocks; the socket's timeouts bound it.
    timeval receive_timeout{static_cast<time_t>(limits_.read_timeout_seconds), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
    ssl = SSL_new(static_cast<SSL_CTX*>(tls_context_));
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
      ERR_clear_error();
      ready = false;  // not TLS, or a failed handshake: nothing to answer
    }
  }
  Connection connection(fd, ssl);
  bool streamed = false;
  if (ready) {
    HttpResponse error;
    absl::StatusOr<HttpRequest> request = ReadRequest(
        [&connection](char* buffer, size_t size, int timeout_ms) {
          return connection.ReadSome(buffer, size, timeout_ms);
        },
        limits_, &error);
    if (request.ok()) {
      request->peer = std::move(peer);
      HttpResponse response;
      try {
        response = handle_(*request);
      } catch (const std::exception& e) {
        response = HttpResponse::Error(500, absl::StrCat("internal error: ", e.what()));
      } catch (...) {
        response = HttpResponse::Error(500, "internal error");
      }
      if (response.stream) {
        streamed = true;
        if (connection.WriteAll(SerializeResponse(response, common_headers_))) {
          SocketSink sink(&connection, &stopping_);
          try {
            response.stream(sink);
          } catch (...) {
            // The stream ends; the client reconnects.
          }
        }
      } else {
        connection.WriteAll(SerializeResponse(response, common_headers_));
      }
    } else if (!absl::IsCancelled(request.status())) {
      connection.WriteAll(SerializeResponse(error, common_headers_));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open_fds_.erase(fd);
  }
  connection.Close(/*linger=*/ready && !streamed);
  std::lock_guard<std::mutex> lock(mutex_);
  --active_;
  idle_.notify_all();
}

}  // namespace switchyard::client::ui
