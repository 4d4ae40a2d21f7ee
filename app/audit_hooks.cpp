#include "app/audit_hooks.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "protocol/audit.hpp"

namespace echopilot::app {

using nlohmann::json;

std::function<void(const std::string&, const std::string&, bool)>
key_refused_auditor(std::shared_ptr<supervision::directory> dir) {
  return [dir](const std::string& ip, const std::string& route, bool key_sent) {
    auto a = dir->resolve(audit::actor_id);
    if (!a) {
      std::fprintf(stderr, "echopilot: audit: a refused key on %s from %s was not recorded (no audit actor)\n",
                   route.c_str(), ip.c_str());
      return;
    }
    json payload = {{"event_type", "auth.key_refused"},
                    {"action", key_sent ? "wrong key" : "missing key"},
                    {"resource", route},
                    {"user", ip},
                    {"details", {{"ip", ip}, {"route", route}, {"key", key_sent ? "wrong" : "missing"}}}};
    caf::anon_send(*a, audit::record_atom::value, std::move(payload));
  };
}

std::function<void(const json&)> backup_auditor(std::shared_ptr<supervision::directory> dir) {
  return [dir](const json& made) {
    auto file = made.value("file", "");
    auto a = dir->resolve(audit::actor_id);
    if (!a) {
      std::fprintf(stderr, "echopilot: audit: the backup %s was not recorded (no audit actor)\n", file.c_str());
      return;
    }
    json payload = {{"event_type", "backup.made"},
                    {"action", "backup"},
                    {"resource", file},
                    {"user", "node"},
                    {"details", {{"size", made.value("size", json(nullptr))}, {"sha256", made.value("sha256", "")}}}};
    caf::anon_send(*a, audit::record_atom::value, std::move(payload));
  };
}

std::string record_restore(caf::actor_system& sys, const supervision::directory& dir,
                           const std::string& data_dir) {
  auto path = data_dir + "/" + restored_file;
  std::ifstream in{path};
  if (!in)
    return {};
  std::stringstream text;
  text << in.rdbuf();
  auto j = json::parse(text.str(), nullptr, false);
  auto field = [&](const char* k) { return j.is_object() && j.contains(k) && j.at(k).is_string() && !j.at(k).get_ref<const std::string&>().empty(); };
  if (!field("backup") || !field("sha256") || !field("restored_at"))
    return path + " is not {\"backup\", \"sha256\", \"restored_at\"} (strings): left in place, not audited";
  auto a = dir.resolve(audit::actor_id);
  if (!a)
    return path + ": the audit actor is not up: left in place for the next start";
  json payload = {{"event_type", "store.restored"},
                  {"action", "restore"},
                  {"resource", j.at("backup").get<std::string>()},
                  {"user", "operator"},
                  {"details",
                   {{"backup", j.at("backup")}, {"sha256", j.at("sha256")}, {"restored_at", j.at("restored_at")}}}};
  caf::scoped_actor self{sys};
  std::string problem;
  self->request(*a, std::chrono::seconds{10}, audit::record_atom::value, payload)
    .receive([](const json&) {},
             [&](const caf::error& err) { problem = path + ": the audit entry was not written (" + sys.render(err) + "): left in place"; });
  if (!problem.empty())
    return problem;
  if (std::remove(path.c_str()) != 0)
    return path + " was audited but could not be removed";
  return {};
}

} // namespace echopilot::app
