#include "support/http_fault.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace geoblock::test {

namespace {

constexpr int k_tick_ms = 20;

const char*
reason(int status)
{
  switch (status) {
  case 200:
    return "OK";
  case 304:
    return "Not Modified";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Status";
  }
}

// Sends everything unless the peer is gone. MSG_NOSIGNAL: a closed peer
// must not kill the test with SIGPIPE.
bool
send_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// True when the peer closed the connection (or it broke).
bool
peer_closed(int fd)
{
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) {
    return false;
  }
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
    return true;
  }
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

} // namespace

FaultServer::FaultServer(Handler handler) : m_handler(std::move(handler))
{
  m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m_listen < 0) {
    throw std::runtime_error("socket failed");
  }
  const int one = 1;
  ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(m_listen, 64) != 0 ||
      ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(m_listen);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  m_port = ntohs(a.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

FaultServer::~FaultServer()
{
  stop();
}

void
FaultServer::stop()
{
  if (m_stop.exchange(true)) {
    return;
  }
  if (m_acceptor.joinable()) {
    m_acceptor.join();
  }
  ::close(m_listen);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(m_mutex);
    threads.swap(m_connections);
  }
  for (auto& t : threads) {
    t.join();
  }
}

std::vector<FaultRequest>
FaultServer::requests() const
{
  std::lock_guard lock(m_mutex);
  return m_requests;
}

int
FaultServer::hits(const std::string& path) const
{
  std::lock_guard lock(m_mutex);
  const auto it = m_hits.find(path);
  return it == m_hits.end() ? 0 : it->second;
}

void
FaultServer::accept_loop()
{
  while (!stopping()) {
    pollfd p{m_listen, POLLIN, 0};
    if (::poll(&p, 1, k_tick_ms) <= 0) {
      continue;
    }
    const int fd = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    std::lock_guard lock(m_mutex);
    m_connections.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void
FaultServer::serve(int fd)
{
  std::string buffer;
  // Keep-alive: several requests per connection, as libcurl reuses them.
  while (!stopping()) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (stopping()) {
        return;
      }
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, k_tick_ms);
      if (r < 0 && errno != EINTR) {
        return;
      }
      if (r <= 0) {
        continue;
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        return;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);

    FaultRequest req;
    std::size_t pos = head.find("\r\n");
    const std::string request_line = head.substr(0, pos);
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.find(' ', sp1 + 1);
    req.method = request_line.substr(0, sp1);
    req.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos && pos < head.size()) {
      const std::size_t next = head.find("\r\n", pos + 2);
      const std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
          value.erase(0, 1);
        }
        req.headers[name] = value;
      }
      pos = next;
    }
    {
      std::lock_guard lock(m_mutex);
      req.hit = ++m_hits[req.path];
      m_requests.push_back(req);
    }

    const FaultReply reply = m_handler(req);
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
    for (const auto& [name, value] : reply.headers) {
      out += name + ": " + value + "\r\n";
    }
    const bool has_body = reply.status != 304 && reply.status != 204;
    if (has_body && reply.content_length) {
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    } else if (has_body) {
      out += "Connection: close\r\n";
    }
    out += "\r\n";

    switch (reply.mode) {
    case FaultReply::Mode::Normal:
      if (!send_all(fd, out) || (has_body && !send_all(fd, reply.body)) || !reply.content_length) {
        return;
      }
      break;
    case FaultReply::Mode::Hang:
      while (!stopping() && !peer_closed(fd)) {
        ::poll(nullptr, 0, k_tick_ms);
      }
      return;
    case FaultReply::Mode::Cut:
      send_all(fd, out);
      send_all(fd, std::string_view(reply.body).substr(0, reply.body.size() / 2));
      return; // the caller closes the socket
    case FaultReply::Mode::Trickle:
      if (!send_all(fd, out)) {
        return;
      }
      for (char c : reply.body) {
        for (auto waited = std::chrono::milliseconds(0); waited < reply.interval && !stopping();
             waited += std::chrono::milliseconds(k_tick_ms)) {
          ::poll(nullptr, 0, k_tick_ms);
        }
        if (stopping() || peer_closed(fd) || !send_all(fd, std::string_view(&c, 1))) {
          return;
        }
      }
      if (!reply.content_length) {
        return;
      }
      break;
    }
  }
}

} // namespace geoblock::test
