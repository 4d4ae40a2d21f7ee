// -- audit (issue 17): the audit actor's store port over the node's LMDB
// environment (streams "audit" and "audit.reports": no tables to declare).
#pragma once

#include <memory>

#include "actors/audit/audit_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

std::shared_ptr<audit::store_port> make_audit_port(std::shared_ptr<persistence::environment> env, commit_fn commit);

} // namespace echopilot::app
