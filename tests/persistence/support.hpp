// Helpers of the persistence tests: temporary directories, a store with the
// example tables, synchronous writes through the writer, and the path of the
// helper program (store_child).
#pragma once

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <doctest/doctest.h>

#include "persistence/environment.hpp"
#include "persistence/errors.hpp"
#include "persistence/writer.hpp"
#include "tests/support/process.hpp"

namespace ptest {

/// A fresh directory under /tmp, removed with everything in it.
using temp_dir = test::temp_dir;

/// The example tables: "records" (no index) and "jobs" (a string index
/// "by_status" on "status" and a time index "by_time" on "created_ms").
std::vector<persistence::table_def> example_tables();

/// Opens the store in `dir` with the example tables; fails the test if it
/// cannot.
std::shared_ptr<persistence::environment> open_store(const std::string& dir,
                                                     std::size_t initial_map = 64 << 20,
                                                     double grow_early_at = 0.75,
                                                     std::size_t max_map = std::size_t{1} << 40);

/// The error message of opening `dir` ("" if it opened).
std::string open_error(const std::string& dir, persistence::errc* code = nullptr);

/// An actor system for a test.
struct system_bed {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  system_bed();
};

/// Sends `req` to the writer and waits for the answer (60 s at most).
caf::expected<persistence::write_ack> write(caf::actor_system& sys, const caf::actor& writer,
                                            persistence::write_request req);

/// Stops the writer and waits for it to answer.
void stop(caf::actor_system& sys, const caf::actor& writer);

/// The value of a read that must succeed; fails the test with the error
/// otherwise (a failed read is never taken for "absent").
template <class T>
T must(caf::expected<T> x) {
  if (!x)
    FAIL("read failed: " << persistence::error_message(x.error()) << " (" << caf::to_string(x.error())
                         << ")");
  return std::move(*x);
}

/// The code name of a store error ("" for none), e.g. "exists".
std::string code_of(const caf::error& err);

/// The helper program (tests/persistence/store_child.cpp).
const char* child_program();

} // namespace ptest
