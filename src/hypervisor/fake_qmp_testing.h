// Test only: a fake QMP server on one end of a socketpair, run by a thread.
//
// It sends a greeting (or whatever raw text the test chooses), then reads newline-framed
// commands; for each one the handler returns the raw lines to write back (replies, events,
// garbage). Tests may also inject raw text at any time (Send) or close the connection (EOF).
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace vbs::hypervisor::testing {

inline const char* kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"},)"
    R"( "capabilities": ["oob"]}})";

// {"return": value, "id": <the command's id>}
inline std::string Reply(const nlohmann::json& cmd, const nlohmann::json& value) {
  nlohmann::json r = {{"return", value}};
  if (cmd.contains("id")) r["id"] = cmd["id"];
  return r.dump();
}

inline std::string ErrorReply(const nlohmann::json& cmd, const std::string& cls,
                              const std::string& desc) {
  nlohmann::json r = {{"error", {{"class", cls}, {"desc", desc}}}};
  if (cmd.contains("id")) r["id"] = cmd["id"];
  return r.dump();
}

inline std::string Event(const std::string& name, const nlohmann::json& data) {
  return nlohmann::json{
      {"event", name}, {"data", data}, {"timestamp", {{"seconds", 1}, {"microseconds", 2}}}}
      .dump();
}

class FakeQmpServer {
 public:
  using Handler = std::function<std::vector<std::string>(const nlohmann::json& cmd)>;

  // `greeting` is written first, as is (a line is appended). qmp_capabilities is answered
  // by the server itself unless the handler is asked to (handle_capabilities).
  explicit FakeQmpServer(Handler handler, std::string greeting = kGreeting,
                         bool handle_capabilities = false)
      : handler_(std::move(handler)) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    client_fd_ = fds[0];
    server_fd_ = fds[1];
    thread_ = std::thread([this, greeting = std::move(greeting), handle_capabilities] {
      if (!greeting.empty()) Send(greeting + "\r\n");
      Serve(handle_capabilities);
    });
  }
  ~FakeQmpServer() {
    Close();
    if (thread_.joinable()) thread_.join();
    if (client_fd_ >= 0) ::close(client_fd_);
  }

  // The client's end; the caller owns it afterwards.
  int TakeClientFd() {
    int fd = client_fd_;
    client_fd_ = -1;
    return fd;
  }

  void Send(const std::string& raw) {
    std::lock_guard lock(write_mu_);
    if (server_fd_ < 0) return;
    size_t off = 0;
    while (off < raw.size()) {
      ssize_t n = ::send(server_fd_, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  // EOF for the client: as when QEMU exits.
  void Close() {
    std::lock_guard lock(write_mu_);
    if (server_fd_ >= 0) ::shutdown(server_fd_, SHUT_RDWR);
  }

  std::vector<nlohmann::json> Received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void Serve(bool handle_capabilities) {
    std::string buf;
    char chunk[4096];
    while (true) {
      ssize_t n = ::recv(server_fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        auto cmd = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
        buf.erase(0, nl + 1);
        {
          std::lock_guard lock(mu_);
          received_.push_back(cmd);
        }
        std::vector<std::string> out;
        if (!handle_capabilities && cmd.is_object() &&
            cmd.value("execute", "") == "qmp_capabilities") {
          out = {Reply(cmd, nlohmann::json::object())};
        } else {
          out = handler_(cmd);
        }
        for (const auto& line : out) Send(line + "\r\n");
      }
    }
    std::lock_guard lock(write_mu_);
    ::close(server_fd_);
    server_fd_ = -1;
  }

  Handler handler_;
  int client_fd_ = -1;
  int server_fd_ = -1;
  std::mutex mu_;
  std::mutex write_mu_;
  std::vector<nlohmann::json> received_;
  std::thread thread_;
};

}  // namespace vbs::hypervisor::testing
