// -- audit (issue 17): the compliance actor's store port over the node's
// LMDB environment: every declared table and every stream.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/compliance/compliance_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

/// `buffered`: takes what the node holds in memory to be written (the
/// access log's events) as a write request, for store_port::settle.
std::shared_ptr<compliance::store_port> make_compliance_port(std::shared_ptr<persistence::environment> env,
                                                             commit_fn commit, std::vector<std::string> tables,
                                                             std::function<persistence::write_request()> buffered);

} // namespace echopilot::app
