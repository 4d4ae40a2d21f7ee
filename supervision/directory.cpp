#include "supervision/directory.hpp"

#include <mutex>

#include <nlohmann/json.hpp>

#include "supervision/errors.hpp"

namespace supervision {

const char* to_string(child_state x) noexcept {
  switch (x) {
    case child_state::starting:
      return "starting";
    case child_state::running:
      return "running";
    case child_state::restarting:
      return "restarting";
    case child_state::stopping:
      return "stopping";
    case child_state::stopped:
      return "stopped";
  }
  return "unknown";
}

directory::directory(base::clock& wall_clock) : clock_(wall_clock) {
}

caf::expected<caf::actor> directory::resolve(const std::string& id) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = nodes_.find(id);
  if (i == nodes_.end())
    return make_error(errc::unknown_child, id);
  auto& n = i->second;
  switch (n.state) {
    case child_state::running:
    case child_state::starting:
      if (n.handle)
        return n.handle;
      return make_error(errc::restarting, id);
    case child_state::restarting:
      return make_error(errc::restarting, id);
    case child_state::stopping:
    case child_state::stopped:
      break;
  }
  return make_error(errc::child_stopped, id);
}

std::optional<node_status> directory::status(const std::string& id) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = nodes_.find(id);
  if (i == nodes_.end())
    return std::nullopt;
  return i->second;
}

namespace {

using nodes_map = std::unordered_map<std::string, node_status>;

nlohmann::json node_json(const nodes_map& nodes, const node_status& n, base::time_point now,
                         int depth) {
  using nlohmann::json;
  json j = json::object();
  j["id"] = n.id;
  j["kind"] = to_string(n.kind);
  j["state"] = to_string(n.state);
  j["restarts"] = n.restarts;
  j["restart"] = to_string(n.restart);
  j["last_exit"] = n.last_exit.empty() ? json(nullptr) : json(n.last_exit);
  j["last_restart"] = n.last_restart ? json(base::to_iso8601(*n.last_restart)) : json(nullptr);
  bool up = n.state == child_state::running || n.state == child_state::starting;
  if (up && n.started_at) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - *n.started_at);
    j["uptime_ms"] = ms.count() < 0 ? 0 : ms.count();
  } else {
    j["uptime_ms"] = nullptr;
  }
  if (n.kind == child_kind::supervisor) {
    j["strategy"] = n.strategy ? json(to_string(*n.strategy)) : json(nullptr);
    json kids = json::array();
    // Depth bound: a tree is never this deep; a cycle (a bug) must not hang.
    if (depth < 64) {
      for (auto& cid : n.children) {
        auto c = nodes.find(cid);
        if (c != nodes.end() && c->second.parent == n.id)
          kids.push_back(node_json(nodes, c->second, now, depth + 1));
      }
    }
    j["children"] = std::move(kids);
  }
  return j;
}

} // namespace

nlohmann::json directory::snapshot(const std::string& root_id) const {
  auto now = clock_.now();
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = nodes_.find(root_id);
  if (i == nodes_.end())
    return nullptr;
  return node_json(nodes_, i->second, now, 0);
}

std::vector<std::string> directory::roots() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  std::vector<std::string> out;
  for (auto& [id, n] : nodes_)
    if (n.parent.empty())
      out.push_back(id);
  return out;
}

caf::error directory::add(node_status rec) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto i = nodes_.find(rec.id);
  if (i != nodes_.end()) {
    auto& old = i->second;
    bool same_parent = old.parent == rec.parent;
    if (!same_parent || old.state != child_state::stopped)
      return make_error(errc::duplicate_id, rec.id);
    old = std::move(rec);
    return caf::none;
  }
  auto id = rec.id;
  nodes_.emplace(std::move(id), std::move(rec));
  return caf::none;
}

bool directory::update(const std::string& id, const std::function<void(node_status&)>& f) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto i = nodes_.find(id);
  if (i == nodes_.end())
    return false;
  f(i->second);
  return true;
}

void directory::remove(const std::string& id) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  nodes_.erase(id);
}

void directory::release_children(const std::string& parent, const caf::actor_addr& owner) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  for (auto& [id, n] : nodes_) {
    if (n.parent != parent || n.owner != owner)
      continue;
    n.handle = nullptr;
    n.state = child_state::stopped;
  }
}

void directory::mark_exited(const std::string& id, const caf::actor_addr& addr,
                            const caf::error& reason) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto i = nodes_.find(id);
  if (i == nodes_.end())
    return;
  auto& n = i->second;
  if (!n.handle || n.handle.address() != addr)
    return;
  n.handle = nullptr;
  if (n.state == child_state::stopping)
    return;
  bool restarts = n.restart == restart_type::permanent
                  || (n.restart == restart_type::transient && !is_normal_exit(reason));
  n.state = restarts ? child_state::restarting : child_state::stopped;
}

} // namespace supervision
