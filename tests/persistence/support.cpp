#include "tests/persistence/support.hpp"

#include <chrono>
#include <stdexcept>

#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

namespace ptest {

std::vector<persistence::table_def> example_tables() {
  return {{"records", {}},
          {"jobs",
           {persistence::field_index("by_status", "status"),
            persistence::time_index("by_time", "created_ms")}}};
}

std::shared_ptr<persistence::environment> open_store(const std::string& dir, std::size_t initial_map,
                                                     double grow_early_at, std::size_t max_map) {
  persistence::options o;
  o.dir = dir;
  o.initial_map_size = initial_map;
  o.max_map_size = max_map;
  o.grow_early_at = grow_early_at;
  o.tables = example_tables();
  auto r = persistence::environment::open(o);
  if (auto* e = std::get_if<std::string>(&r))
    FAIL("open failed: " << *e);
  return std::get<std::shared_ptr<persistence::environment>>(r);
}

std::string open_error(const std::string& dir, persistence::errc* code) {
  persistence::options o;
  o.dir = dir;
  o.tables = example_tables();
  auto r = persistence::environment::open_coded(o);
  auto* e = std::get_if<persistence::open_error>(&r);
  if (e != nullptr && code != nullptr)
    *code = e->code;
  return e ? e->message : std::string{};
}

system_bed::system_bed() : sys(cfg) {
}

caf::expected<persistence::write_ack> write(caf::actor_system& sys, const caf::actor& writer,
                                            persistence::write_request req) {
  caf::scoped_actor self{sys};
  caf::expected<persistence::write_ack> out = caf::make_error(caf::sec::request_timeout);
  self->request(writer, std::chrono::seconds{60}, persistence::write_atom::value, std::move(req))
    .receive([&](persistence::write_ack& a) { out = std::move(a); },
             [&](caf::error& e) { out = std::move(e); });
  return out;
}

void stop(caf::actor_system& sys, const caf::actor& writer) {
  caf::scoped_actor self{sys};
  self->request(writer, std::chrono::seconds{60}, persistence::stop_atom::value)
    .receive([] {}, [](caf::error&) {});
}

std::string code_of(const caf::error& err) {
  if (!err)
    return {};
  if (err.category() == persistence::error_category)
    return persistence::to_string(static_cast<persistence::errc>(err.code()));
  return caf::to_string(err);
}

const char* child_program() {
  return STORE_CHILD;
}

} // namespace ptest
