#include "http/connections.hpp"

#include <algorithm>
#include <cstdio>

namespace echopilot::http {

using namespace std::chrono;

namespace {

std::int64_t ns(steady_time t) noexcept {
  return duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

steady_time at(std::int64_t n) noexcept {
  return steady_time{duration_cast<steady_clock::duration>(nanoseconds{n})};
}

} // namespace

const char* to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::address_cap:
      return "address_cap";
    case close_reason::full:
      return "full";
    case close_reason::evicted:
      return "evicted";
    case close_reason::idle_timeout:
      return "idle_timeout";
    case close_reason::header_timeout:
      return "header_timeout";
    case close_reason::body_timeout:
      return "body_timeout";
    case close_reason::protocol_error:
      return "protocol_error";
    case close_reason::refused_body:
      return "refused_body";
    case close_reason::draining:
      return "draining";
  }
  return "unknown";
}

void connection_counters::render(std::string& out) const {
  out += "# HELP echopilot_http_connections Connections open now.\n"
         "# TYPE echopilot_http_connections gauge\n"
         "echopilot_http_connections " + std::to_string(open.load(std::memory_order_relaxed)) + "\n"
         "# HELP echopilot_http_connections_accepted_total Connections accepted.\n"
         "# TYPE echopilot_http_connections_accepted_total counter\n"
         "echopilot_http_connections_accepted_total "
         + std::to_string(accepted.load(std::memory_order_relaxed)) + "\n"
         "# HELP echopilot_http_connections_closed_total Connections the server refused or ended, by reason.\n"
         "# TYPE echopilot_http_connections_closed_total counter\n";
  for (std::size_t i = 0; i < close_reason_count; ++i)
    out += std::string{"echopilot_http_connections_closed_total{reason=\""}
           + to_string(static_cast<close_reason>(i)) + "\"} "
           + std::to_string(closed[i].load(std::memory_order_relaxed)) + "\n";
  out += "# HELP echopilot_http_bytes_total Bytes the server read (in) and wrote (out).\n"
         "# TYPE echopilot_http_bytes_total counter\n"
         "echopilot_http_bytes_total{direction=\"in\"} " + std::to_string(bytes_in.load(std::memory_order_relaxed)) + "\n"
         "echopilot_http_bytes_total{direction=\"out\"} " + std::to_string(bytes_out.load(std::memory_order_relaxed)) + "\n";
}

void conn_slot::set(conn_phase p, steady_time t) noexcept {
  since_ns.store(ns(t), std::memory_order_relaxed);
  if (p == conn_phase::headers && phase.load(std::memory_order_relaxed) != conn_phase::headers)
    request_ns.store(ns(t), std::memory_order_relaxed);
  phase.store(p, std::memory_order_release);
}

connection_table::connection_table(connection_limits limits, connection_counters& counters)
  : limits_(limits), counters_(counters) {
  limits_.max_total = std::max<std::size_t>(limits_.max_total, 1);
  if (limits_.headroom == 0)
    limits_.headroom = std::max<std::size_t>(1, limits_.max_total / 10);
  limits_.headroom = std::min(limits_.headroom, limits_.max_total - 1);
}

steady_time connection_table::deadline(const conn_slot& s) const noexcept {
  switch (s.phase.load(std::memory_order_acquire)) {
    case conn_phase::idle:
      return at(s.since_ns.load(std::memory_order_relaxed)) + limits_.idle;
    case conn_phase::headers:
      return at(s.request_ns.load(std::memory_order_relaxed)) + limits_.header;
    case conn_phase::body:
      return at(s.since_ns.load(std::memory_order_relaxed)) + limits_.body;
    case conn_phase::busy:
      break;
  }
  return steady_time::max();
}

void connection_table::close(conn_slot& s, close_reason why) {
  if (s.closing.exchange(true))
    return;
  ++closing_;
  if (s.close)
    s.close(why);
}

bool connection_table::admit(const std::string& address, steady_time) {
  auto refuse = [&](close_reason why) {
    counters_.closed[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
    return false;
  };
  if (draining_.load())
    return refuse(close_reason::draining);
  std::lock_guard<std::mutex> lock{mtx_};
  auto a = per_address_.find(address);
  if (a != per_address_.end() && a->second >= limits_.max_per_address)
    return refuse(close_reason::address_cap);
  // Room for the newcomer and `headroom` more: close idle and slow ones.
  auto staying = slots_.size() - closing_;
  auto target = limits_.max_total - limits_.headroom;
  if (staying + 1 > target)
    evict(staying + 1 - target);
  // Those being closed still hold their descriptors.
  if (slots_.size() >= limits_.max_total)
    return refuse(close_reason::full);
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::size_t connection_table::evict(std::size_t n) {
  struct candidate {
    bool idle;
    std::int64_t since;
    conn_slot* slot;
  };
  std::vector<candidate> c;
  c.reserve(slots_.size());
  for (auto& [key, s] : slots_) {
    static_cast<void>(key);
    if (s->closing.load())
      continue;
    auto p = s->phase.load(std::memory_order_acquire);
    if (p == conn_phase::busy)
      continue;
    bool idle = p == conn_phase::idle;
    c.push_back({idle, idle ? s->since_ns.load() : s->request_ns.load(), s.get()});
  }
  n = std::min(n, c.size());
  auto first = [](const candidate& a, const candidate& b) {
    return a.idle != b.idle ? a.idle : a.since < b.since;
  };
  std::nth_element(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n), c.end(), first);
  for (std::size_t i = 0; i < n; ++i)
    close(*c[i].slot, close_reason::evicted);
  return n;
}

void connection_table::add(std::shared_ptr<conn_slot> slot) {
  std::lock_guard<std::mutex> lock{mtx_};
  ++per_address_[slot->address];
  counters_.open.fetch_add(1, std::memory_order_relaxed);
  auto* key = slot.get();
  slots_.emplace(key, std::move(slot));
}

void connection_table::remove(const conn_slot* slot) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto i = slots_.find(slot);
  if (i == slots_.end())
    return;
  if (i->second->closing.load())
    --closing_;
  auto a = per_address_.find(i->second->address);
  if (a != per_address_.end() && --a->second == 0)
    per_address_.erase(a);
  counters_.open.fetch_sub(1, std::memory_order_relaxed);
  slots_.erase(i);
}

void connection_table::closed(close_reason why) noexcept {
  counters_.closed[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
}

void connection_table::spare(conn_slot& slot) {
  std::lock_guard<std::mutex> lock{mtx_};
  if (slot.closing.exchange(false) && slots_.count(&slot) != 0)
    --closing_;
}

void connection_table::sweep(steady_time now) {
  bool drain = draining_.load();
  std::lock_guard<std::mutex> lock{mtx_};
  for (auto& [key, s] : slots_) {
    static_cast<void>(key);
    if (s->closing.load())
      continue;
    auto p = s->phase.load(std::memory_order_acquire);
    if (drain && p == conn_phase::idle) {
      close(*s, close_reason::draining);
      continue;
    }
    if (now < deadline(*s))
      continue;
    close(*s, p == conn_phase::idle      ? close_reason::idle_timeout
              : p == conn_phase::headers ? close_reason::header_timeout
                                         : close_reason::body_timeout);
  }
}

void connection_table::drain() {
  draining_ = true;
  sweep(steady_clock::now());
}

std::size_t connection_table::size() const {
  std::lock_guard<std::mutex> lock{mtx_};
  return slots_.size();
}

std::size_t connection_table::count(const std::string& address) const {
  std::lock_guard<std::mutex> lock{mtx_};
  auto a = per_address_.find(address);
  return a == per_address_.end() ? 0 : a->second;
}

} // namespace echopilot::http
