// The value of a read the store ports cannot do without: a failed read (the
// store's read_failed) throws, so that the calling actor ends and its
// supervisor restarts it, instead of taking the failure for an empty store.
#pragma once

#include <stdexcept>
#include <utility>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/errors.hpp"

namespace echopilot::app {

template <class T>
T must_read(caf::expected<T> x) {
  if (!x)
    throw std::runtime_error(persistence::error_message(x.error()));
  return std::move(*x);
}

inline void must_read(const caf::error& err) {
  if (err)
    throw std::runtime_error(persistence::error_message(err));
}

} // namespace echopilot::app
