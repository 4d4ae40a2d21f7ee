// -- brain (issue 18): the brain actor's store port over the node's LMDB
// environment: the streams brain.decisions and exec.briefs.
#pragma once

#include <memory>

#include "actors/brain/brain_actor.hpp"
#include "app/store_payments.hpp"
#include "persistence/environment.hpp"

namespace echopilot::app {

std::shared_ptr<brain::store_port> make_brain_port(std::shared_ptr<persistence::environment> env, commit_fn commit);

} // namespace echopilot::app
