// The payments actor's stripe_port over the Stripe connector.
#pragma once

#include <memory>

#include "actors/payments/payments_actor.hpp"

namespace echopilot::connectors {
class stripe_client;
}

namespace echopilot::payments {

std::shared_ptr<stripe_port> make_stripe_port(std::shared_ptr<connectors::stripe_client> client);

} // namespace echopilot::payments
