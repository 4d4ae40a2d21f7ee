// The statistics of experiment results (S13): the two-proportion z-test of a
// variant against the control and the chi-square sample-ratio-mismatch
// check. Pure functions; nothing here knows actors or storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace echopilot::experiments {

/// P(Z > z) for a standard normal Z.
double normal_sf(double z) noexcept;

/// The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a)
/// (a > 0, x >= 0): a series for x < a + 1, a continued fraction beyond.
double gamma_q(double a, double x) noexcept;

/// P(X > x) for X chi-square distributed with `df` degrees of freedom.
double chi2_sf(double x, double df) noexcept;

/// The pooled two-proportion z-test of `c1` of `n1` against `c0` of `n0`.
/// z and p_value are null (with a reason) when the test is undefined: no
/// exposures on a side, or a pooled rate of 0 or 1 (no variance).
struct z_test {
  std::optional<double> z;
  std::optional<double> p_value; ///< two-sided
  std::string reason;
};
z_test two_proportion_z(std::uint64_t c0, std::uint64_t n0, std::uint64_t c1, std::uint64_t n1) noexcept;

/// The chi-square goodness of fit of `observed` counts against the shares of
/// `weights` (df = k - 1). Undefined (null, with a reason) with fewer than
/// two variants or no observation.
struct srm_test {
  std::optional<double> chi2;
  std::uint32_t df = 0;
  std::optional<double> p_value;
  std::vector<double> expected;
  std::string reason;
};
srm_test sample_ratio(const std::vector<std::uint64_t>& observed, const std::vector<std::uint32_t>& weights);

} // namespace echopilot::experiments
