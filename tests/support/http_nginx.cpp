#include "support/http_nginx.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace geoblock::test {

namespace {

constexpr const char* k_nginx = "/usr/sbin/nginx";

sockaddr_in
loopback(int port)
{
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Waits for `pid` at most `timeout_ms`; true when it exited.
bool
wait_exit(pid_t pid, int timeout_ms)
{
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

} // namespace

std::pair<std::string, std::string>
make_self_signed_cert(const std::string& dir)
{
  const std::string cert = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  const char* openssl = "/usr/bin/openssl";
  if (::access(openssl, X_OK) != 0) {
    return {};
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    return {};
  }
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    execl(openssl, openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2",
          "-keyout", key.c_str(), "-out", cert.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {};
  }
  return {cert, key};
}

int
free_port()
{
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error("socket failed");
  }
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

namespace {

// The inode of the socket listening on 127.0.0.1:port, from /proc/net/tcp
// (0: none).
unsigned long
listening_inode(int port)
{
  std::ifstream in("/proc/net/tcp");
  std::string line;
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::getline(in, line); // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, addr, remote, state, queues, timer, retrans, uid, timeout;
    unsigned long inode = 0;
    if (f >> slot >> addr >> remote >> state >> queues >> timer >> retrans >> uid >> timeout >> inode &&
        addr == local && state == "0A") {
      return inode;
    }
  }
  return 0;
}

// True when process `pid` holds the socket with this inode.
bool
holds_socket(pid_t pid, unsigned long inode)
{
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  const std::string want = "socket:[" + std::to_string(inode) + "]";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code lec;
    if (std::filesystem::read_symlink(e.path(), lec).string() == want) {
      return true;
    }
  }
  return false;
}

} // namespace

WaitResult
wait_for_listener(pid_t pid, int port, int timeout_ms)
{
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WaitResult::Exited;
    }
    const unsigned long inode = listening_inode(port);
    if (inode != 0 && holds_socket(pid, inode)) {
      return WaitResult::Listening;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WaitResult::TimedOut;
}

bool
NginxServer::available()
{
  return ::access(k_nginx, X_OK) == 0;
}

NginxServer::NginxServer(std::string root, std::string work_dir, std::string tls_cert, std::string tls_key)
    : m_root(std::move(root)), m_work(std::move(work_dir)), m_tls_cert(std::move(tls_cert)),
      m_tls_key(std::move(tls_key))
{
  ::mkdir((m_work + "/tmp").c_str(), 0700);
  // A port taken between free_port() and nginx's bind makes nginx exit:
  // try a few ports.
  for (int attempt = 0; attempt < 5; ++attempt) {
    m_port = free_port();
    const std::string conf = m_work + "/nginx.conf";
    {
      std::ofstream out(conf, std::ios::trunc);
      const std::string t = m_work + "/tmp";
      out << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
          << "pid " << m_work << "/nginx.pid;\n"
          << "error_log " << m_work << "/error.log warn;\n"
          << "events { worker_connections 1024; }\n"
          << "http {\n"
          << "  log_format plain '$request_method $uri $status $body_bytes_sent $server_protocol "
             "$connection';\n"
          << "  access_log " << m_work << "/access.log plain;\n"
          << "  client_body_temp_path " << t << "/body;\n"
          << "  proxy_temp_path " << t << "/proxy;\n"
          << "  fastcgi_temp_path " << t << "/fastcgi;\n"
          << "  uwsgi_temp_path " << t << "/uwsgi;\n"
          << "  scgi_temp_path " << t << "/scgi;\n"
          << "  default_type text/plain;\n"
          << "  keepalive_requests 10000;\n"
          << "  server {\n"
          << "    listen 127.0.0.1:" << m_port << (m_tls_cert.empty() ? "" : " ssl http2") << ";\n"
          << (m_tls_cert.empty()
                  ? ""
                  : "    ssl_certificate " + m_tls_cert + ";\n    ssl_certificate_key " + m_tls_key + ";\n")
          << "    root " << m_root << ";\n"
          << "    location / { }\n"
          << "  }\n"
          << "}\n";
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      const std::string err = m_work + "/error.log";
      execl(k_nginx, k_nginx, "-p", m_work.c_str(), "-c", conf.c_str(), "-e", err.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    m_pid = pid;
    switch (wait_for_listener(m_pid, m_port, 10'000)) {
    case WaitResult::Listening:
      return;
    case WaitResult::Exited: // most likely the port was taken after free_port(): another one
      m_pid = -1;
      break;
    case WaitResult::TimedOut:
      stop();
      break;
    }
  }
  throw std::runtime_error("cannot start nginx (see " + m_work + "/error.log)");
}

NginxServer::~NginxServer()
{
  stop();
}

void
NginxServer::stop()
{
  if (m_pid <= 0) {
    return;
  }
  ::kill(m_pid, SIGTERM);
  if (!wait_exit(m_pid, 5000)) {
    ::kill(m_pid, SIGKILL);
    wait_exit(m_pid, 5000);
  }
  m_pid = -1;
}

std::vector<AccessLogEntry>
NginxServer::access_log() const
{
  std::vector<AccessLogEntry> entries;
  std::ifstream in(m_work + "/access.log");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    AccessLogEntry e;
    if (fields >> e.method >> e.uri >> e.status >> e.body_bytes >> e.protocol >> e.connection) {
      entries.push_back(e);
    }
  }
  return entries;
}

void
NginxServer::clear_access_log() const
{
  // nginx keeps the file open with O_APPEND: truncating in place works.
  if (::truncate((m_work + "/access.log").c_str(), 0) != 0) {
    throw std::runtime_error("cannot truncate " + m_work + "/access.log");
  }
}

} // namespace geoblock::test
