// A small fault-injecting HTTP/1.1 server for tests: it does on request what
// real servers will not (fail, hang, cut, trickle). Listens on 127.0.0.1 at
// a random free port; one thread per connection; every wait is bounded and
// ends when the server stops (destructor).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace geoblock::test {

struct FaultReply {
  enum class Mode {
    Normal,  // status, headers, Content-Length, body
    Hang,    // read the request, never answer (until the client or the server gives up)
    Cut,     // announce the full Content-Length, send half the body, close
    Trickle, // announce the full body, then send one byte per `interval`
  };
  Mode mode = Mode::Normal;
  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers; // extra response headers
  std::chrono::milliseconds interval{200};
  bool content_length = true; // false: no Content-Length, the body ends when the connection closes
};

struct FaultRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers; // names lower case
  int hit = 0;                                // 1 for the first request of this path, 2 for the second, ...
};

class FaultServer {
public:
  using Handler = std::function<FaultReply(const FaultRequest&)>;

  explicit FaultServer(Handler handler);
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  int port() const { return m_port; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

  // Requests received so far, oldest first.
  std::vector<FaultRequest> requests() const;
  int hits(const std::string& path) const;

  void stop();

private:
  void accept_loop();
  void serve(int fd);
  bool stopping() const { return m_stop.load(); }

  Handler m_handler;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_acceptor;
  mutable std::mutex m_mutex;
  std::vector<std::thread> m_connections;
  std::vector<FaultRequest> m_requests;
  std::map<std::string, int> m_hits;
};

} // namespace geoblock::test
