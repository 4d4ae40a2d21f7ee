// A text value that one thread sets and any thread reads: the node's public
// URL, known only once the HTTP server has its port (port 0 in tests).
#pragma once

#include <mutex>
#include <string>
#include <utility>

namespace base {

class shared_text {
public:
  shared_text() = default;
  explicit shared_text(std::string v) : value_(std::move(v)) {}

  std::string get() const {
    std::lock_guard<std::mutex> lock{mtx_};
    return value_;
  }

  void set(std::string v) {
    std::lock_guard<std::mutex> lock{mtx_};
    value_ = std::move(v);
  }

private:
  mutable std::mutex mtx_;
  std::string value_;
};

} // namespace base
