#include "actors/experiments/stats.hpp"

#include <cmath>
#include <limits>

namespace echopilot::experiments {

double normal_sf(double z) noexcept {
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

namespace {

constexpr int max_iterations = 1000;
constexpr double eps = 1e-15;
constexpr double tiny = 1e-300;

/// P(a, x) by its series (converges fast for x < a + 1).
double gamma_p_series(double a, double x) noexcept {
  double sum = 1.0 / a;
  double term = sum;
  double ap = a;
  for (int n = 0; n < max_iterations; ++n) {
    ap += 1.0;
    term *= x / ap;
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * eps)
      break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

/// Q(a, x) by its continued fraction (modified Lentz; x >= a + 1).
double gamma_q_fraction(double a, double x) noexcept {
  double b = x + 1.0 - a;
  double c = 1.0 / tiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i <= max_iterations; ++i) {
    double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny)
      d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny)
      c = tiny;
    d = 1.0 / d;
    double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < eps)
      break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

} // namespace

double gamma_q(double a, double x) noexcept {
  if (!(a > 0.0) || x < 0.0 || std::isnan(x))
    return std::numeric_limits<double>::quiet_NaN();
  if (x == 0.0)
    return 1.0;
  if (std::isinf(x))
    return 0.0;
  if (x < a + 1.0)
    return 1.0 - gamma_p_series(a, x);
  return gamma_q_fraction(a, x);
}

double chi2_sf(double x, double df) noexcept {
  if (x <= 0.0)
    return 1.0;
  return gamma_q(df / 2.0, x / 2.0);
}

z_test two_proportion_z(std::uint64_t c0, std::uint64_t n0, std::uint64_t c1, std::uint64_t n1) noexcept {
  z_test t;
  if (n0 == 0 || n1 == 0) {
    t.reason = n0 == 0 ? "the control has no exposures" : "this variant has no exposures";
    return t;
  }
  double p0 = static_cast<double>(c0) / static_cast<double>(n0);
  double p1 = static_cast<double>(c1) / static_cast<double>(n1);
  double pooled = static_cast<double>(c0 + c1) / static_cast<double>(n0 + n1);
  double variance = pooled * (1.0 - pooled) * (1.0 / static_cast<double>(n0) + 1.0 / static_cast<double>(n1));
  if (!(variance > 0.0)) {
    t.reason = pooled == 0.0 ? "no conversions on either side: the rates cannot differ yet"
                             : "every exposure converted on both sides: the rates cannot differ";
    return t;
  }
  double z = (p1 - p0) / std::sqrt(variance);
  t.z = z;
  t.p_value = std::erfc(std::fabs(z) / std::sqrt(2.0));
  return t;
}

srm_test sample_ratio(const std::vector<std::uint64_t>& observed, const std::vector<std::uint32_t>& weights) {
  srm_test t;
  if (observed.size() < 2 || observed.size() != weights.size()) {
    t.reason = "fewer than two variants";
    return t;
  }
  t.df = static_cast<std::uint32_t>(observed.size() - 1);
  std::uint64_t n = 0;
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    n += observed[i];
    w += weights[i];
  }
  for (auto x : weights)
    t.expected.push_back(static_cast<double>(n) * x / static_cast<double>(w));
  if (n == 0) {
    t.reason = "no exposures yet";
    return t;
  }
  double chi2 = 0.0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    double d = static_cast<double>(observed[i]) - t.expected[i];
    chi2 += d * d / t.expected[i];
  }
  t.chi2 = chi2;
  t.p_value = chi2_sf(chi2, t.df);
  return t;
}

} // namespace echopilot::experiments
