// The queue's jobs ready to run (issue 15, part "flow"): high before normal
// before low, first in first out within a priority.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include "actors/jobs/model.hpp"

namespace echopilot::jobs {

class ready_queue {
public:
  /// (id, attempts when queued); stale entries are skipped by dispatch.
  using entry = std::pair<std::string, std::uint32_t>;

  /// `active`: where an entry's priority is looked up (a job not there
  /// counts as normal).
  explicit ready_queue(const std::unordered_map<std::string, job>* active) : active_(active) {
  }

  void emplace_back(std::string id, std::uint32_t attempts) {
    int rank = 1;
    if (auto i = active_->find(id); i != active_->end())
      rank = priority_rank(i->second.priority);
    emplace_back(std::move(id), attempts, rank);
  }

  void emplace_back(std::string id, std::uint32_t attempts, int rank) {
    lanes_[static_cast<std::size_t>(rank < 0 ? 0 : rank > 2 ? 2 : rank)].emplace_back(std::move(id), attempts);
  }

  bool empty() const noexcept {
    return lanes_[0].empty() && lanes_[1].empty() && lanes_[2].empty();
  }

  std::size_t size() const noexcept {
    return lanes_[0].size() + lanes_[1].size() + lanes_[2].size();
  }

  /// The next entry (the queue must not be empty).
  const entry& front() const {
    return lane().front();
  }

  void pop_front() {
    lane().pop_front();
  }

private:
  std::deque<entry>& lane() {
    return lanes_[lanes_[0].empty() ? (lanes_[1].empty() ? 2 : 1) : 0];
  }
  const std::deque<entry>& lane() const {
    return lanes_[lanes_[0].empty() ? (lanes_[1].empty() ? 2 : 1) : 0];
  }

  const std::unordered_map<std::string, job>* active_;
  std::array<std::deque<entry>, 3> lanes_;
};

} // namespace echopilot::jobs
