// -- audit (issue 17): the compliance actor's store port over the node's
// LMDB environment: every declared table and every stream.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/compliance/compliance_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

std::shared_ptr<compliance::store_port> make_compliance_port(std::shared_ptr<persistence::environment> env,
                                                             commit_fn commit, std::vector<std::string> tables);

} // namespace echopilot::app
