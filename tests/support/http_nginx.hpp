// A real nginx serving a directory on 127.0.0.1 at a random free port, with
// a configuration written by the test into its own work directory. nginx
// gives real ETag/Last-Modified and 304 handling. Stopped (and waited for)
// by the destructor.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace geoblock::test {

struct AccessLogEntry {
  std::string method;
  std::string uri;
  int status = 0;
  long body_bytes = 0; // $body_bytes_sent
};

class NginxServer {
public:
  // Serves `root`; keeps its config and logs in `work_dir` (must exist).
  // Throws std::runtime_error when nginx cannot be started.
  NginxServer(std::string root, std::string work_dir);
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  // True when /usr/sbin/nginx exists (tests skip otherwise).
  static bool available();

  int port() const { return m_port; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

  // Every request served so far, oldest first (the access log).
  std::vector<AccessLogEntry> access_log() const;
  // Forgets the requests so far (truncates the access log).
  void clear_access_log() const;

  void stop();

private:
  std::string m_root;
  std::string m_work;
  int m_port = 0;
  pid_t m_pid = -1;
};

// A free TCP port on 127.0.0.1 (bound and released; a tiny race remains).
int free_port();

// Waits (bounded by `timeout_ms`) until 127.0.0.1:port accepts connections.
bool wait_for_port(int port, int timeout_ms);

} // namespace geoblock::test
