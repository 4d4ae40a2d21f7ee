#include "http/route_faults.hpp"

#include <algorithm>
#include <cctype>

namespace echopilot::http {

const char* to_string(fault_mode m) noexcept {
  switch (m) {
    case fault_mode::off:
      return "off";
    case fault_mode::status_500:
      return "status_500";
    case fault_mode::drop_header:
      return "drop_header";
    case fault_mode::bad_envelope:
      return "bad_envelope";
  }
  return "off";
}

std::optional<fault_mode> parse_fault_mode(std::string_view s) noexcept {
  for (auto m : {fault_mode::off, fault_mode::status_500, fault_mode::drop_header, fault_mode::bad_envelope})
    if (s == to_string(m))
      return m;
  return std::nullopt;
}

route_faults::route_faults(std::size_t routes)
  : size_(routes), modes_(std::make_unique<std::atomic<std::uint8_t>[]>(routes)) {
  for (std::size_t i = 0; i < size_; ++i)
    modes_[i].store(0, std::memory_order_relaxed);
}

void route_faults::set(std::size_t idx, fault_mode m) {
  if (idx >= size_)
    return;
  std::lock_guard<std::mutex> lock{set_mtx_};
  auto old = modes_[idx].exchange(static_cast<std::uint8_t>(m));
  bool was = old != 0;
  bool is = m != fault_mode::off;
  if (was && !is)
    active_.fetch_sub(1);
  else if (!was && is)
    active_.fetch_add(1);
}

fault_mode route_faults::mode(std::size_t idx) const noexcept {
  return idx < size_ ? static_cast<fault_mode>(modes_[idx].load(std::memory_order_relaxed)) : fault_mode::off;
}

void route_faults::apply_set(std::size_t idx, response& res) const {
  switch (mode(idx)) {
    case fault_mode::off:
      return;
    case fault_mode::status_500: {
      auto broken = fail(500, "fault_injected", "fault injection: this route is set to answer 500");
      res.status = broken.status;
      res.content_type = broken.content_type;
      res.body = std::move(broken.body);
      return;
    }
    case fault_mode::drop_header:
      res.headers.erase(std::remove_if(res.headers.begin(), res.headers.end(),
                                       [](auto& h) {
                                         auto& n = h.first;
                                         return n.size() == 22
                                                && std::equal(n.begin(), n.end(), "x-content-type-options",
                                                              [](char a, char b) {
                                                                return std::tolower(static_cast<unsigned char>(a)) == b;
                                                              });
                                       }),
                        res.headers.end());
      return;
    case fault_mode::bad_envelope:
      res.content_type = "application/json";
      res.body = R"({"fault_injected":"bad_envelope","result":null})";
      return;
  }
}

} // namespace echopilot::http
