#include "app/store_backup.hpp"

#include "persistence/backup.hpp"

namespace echopilot::app {

namespace {

class backup_port_impl : public backup::store_port {
public:
  backup_port_impl(std::shared_ptr<persistence::environment> env, std::vector<persistence::table_def> tables)
    : env_(std::move(env)), tables_(std::move(tables)) {
  }

  std::string copy_to(const std::string& dir) override {
    return persistence::backup(*env_, dir);
  }

  nlohmann::json check(const std::string& dir) override {
    return check_copy(dir, tables_);
  }

private:
  std::shared_ptr<persistence::environment> env_;
  std::vector<persistence::table_def> tables_;
};

} // namespace

std::shared_ptr<backup::store_port> make_backup_port(std::shared_ptr<persistence::environment> env,
                                                     std::vector<persistence::table_def> tables) {
  return std::make_shared<backup_port_impl>(std::move(env), std::move(tables));
}

nlohmann::json check_copy(const std::string& dir, const std::vector<persistence::table_def>& tables) {
  auto r = persistence::verify(dir, tables);
  if (!r.ok)
    return {{"ok", false}, {"error", r.error}};
  return {{"ok", true}, {"bytes", r.bytes}, {"records", r.records}};
}

} // namespace echopilot::app
