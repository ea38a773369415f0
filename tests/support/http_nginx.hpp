// A real nginx serving a directory on 127.0.0.1 at a random free port, with
// a configuration written by the test into its own work directory. nginx
// gives real ETag/Last-Modified and 304 handling. Stopped (and waited for)
// by the destructor.
#pragma once

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace geoblock::test {

struct AccessLogEntry {
  std::string method;
  std::string uri;
  int status = 0;
  long body_bytes = 0;  // $body_bytes_sent
  std::string protocol; // "HTTP/1.1", "HTTP/2.0"
  long connection = 0;  // nginx's connection serial number ($connection)
};

class NginxServer {
public:
  // Serves `root`; keeps its config and logs in `work_dir` (must exist).
  // With a certificate and key (PEM files), serves HTTPS with HTTP/2.
  // Throws std::runtime_error when nginx cannot be started.
  NginxServer(std::string root, std::string work_dir, std::string tls_cert = "", std::string tls_key = "");
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  // True when /usr/sbin/nginx exists (tests skip otherwise).
  static bool available();

  int port() const { return m_port; }
  std::string base_url() const
  {
    return (m_tls_cert.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(m_port);
  }

  // Every request served so far, oldest first (the access log).
  std::vector<AccessLogEntry> access_log() const;
  // Forgets the requests so far (truncates the access log).
  void clear_access_log() const;

  void stop();

private:
  std::string m_root;
  std::string m_work;
  std::string m_tls_cert;
  std::string m_tls_key;
  int m_port = 0;
  pid_t m_pid = -1;
};

// Writes a self-signed certificate for 127.0.0.1 and its key into `dir`
// (with the openssl tool, no shell) and returns {cert, key}; empty paths when
// openssl is missing or fails.
std::pair<std::string, std::string> make_self_signed_cert(const std::string& dir);

// A free TCP port on 127.0.0.1 (bound and released: another process may
// take it before the server binds it, so servers started on it are watched
// with wait_for_listener and started again on another port if they exit).
int free_port();

enum class WaitResult { Listening, Exited, TimedOut };
// Waits (bounded by `timeout_ms`) until process `pid` itself listens on
// 127.0.0.1:port (a listener of another process does not count), or exits
// (then it is reaped).
WaitResult wait_for_listener(pid_t pid, int port, int timeout_ms);

} // namespace geoblock::test
