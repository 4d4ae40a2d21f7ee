#include "supervision/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace supervision {

const char* to_string(errc x) noexcept {
  switch (x) {
    case errc::restarting:
      return "restarting";
    case errc::unknown_child:
      return "unknown_child";
    case errc::child_stopped:
      return "child_stopped";
    case errc::start_failed:
      return "start_failed";
    case errc::max_restart_intensity:
      return "max_restart_intensity";
    case errc::invalid_spec:
      return "invalid_spec";
    case errc::duplicate_id:
      return "duplicate_id";
    case errc::not_a_pool:
      return "not_a_pool";
    case errc::shutting_down:
      return "shutting_down";
  }
  return "unknown_errc";
}

caf::error make_error(errc x) {
  return {static_cast<std::uint8_t>(x), error_category};
}

caf::error make_error(errc x, std::string context) {
  return {static_cast<std::uint8_t>(x), error_category,
          caf::make_message(std::move(context))};
}

namespace {

std::string context_text(const caf::message& ctx) {
  if (ctx.empty())
    return {};
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return to_string(ctx);
}

} // namespace

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
                           std::string out = "supervision::";
                           out += to_string(static_cast<errc>(code));
                           auto text = context_text(ctx);
                           if (!text.empty()) {
                             out += " (";
                             out += text;
                             out += ')';
                           }
                           return out;
                         });
}

std::string describe(const caf::error& x) {
  if (!x)
    return "normal";
  std::string out;
  if (x.category() == error_category) {
    out = "supervision::";
    out += to_string(static_cast<errc>(x.code()));
  } else if (x.category() == caf::atom("exit")) {
    out = caf::to_string(static_cast<caf::exit_reason>(x.code()));
  } else if (x.category() == caf::atom("system")) {
    out = caf::to_string(static_cast<caf::sec>(x.code()));
  } else {
    out = caf::to_string(x.category());
    out += ':';
    out += std::to_string(x.code());
  }
  auto ctx = context_text(x.context());
  if (!ctx.empty()) {
    out += ": ";
    out += ctx;
  }
  return out;
}

bool is_normal_exit(const caf::error& x) noexcept {
  if (!x)
    return true;
  return x == caf::exit_reason::normal || x == caf::exit_reason::user_shutdown;
}

} // namespace supervision
