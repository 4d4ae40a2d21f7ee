// The statistics of experiment results against scipy (python3-scipy, run by
// the test itself): the pooled two-proportion z-test (z from the formula in
// Python, p = 2 * scipy.stats.norm.sf(|z|)), chi-square tails
// (scipy.stats.chi2.sf), the regularized upper incomplete gamma
// (scipy.special.gammaincc) and the sample-ratio check
// (scipy.stats.chisquare).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "actors/experiments/model.hpp"
#include "actors/experiments/stats.hpp"

using namespace echopilot::experiments;

namespace {

/// Runs `script` with python3 and reads the numbers it prints.
std::vector<double> python(const std::string& script) {
  // Debian's python3 (where python3-scipy is) when there is one, not an
  // interpreter of some other installation that happens to come first.
  std::string python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  std::string cmd = python + " -c '" + script + "'";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  REQUIRE(pclose(p) == 0);
  std::vector<double> v;
  std::istringstream in(out);
  double x;
  while (in >> x)
    v.push_back(x);
  return v;
}

bool close(double a, double b, double rel = 1e-9) {
  return std::fabs(a - b) <= rel * std::max(std::fabs(b), 1e-300) + 1e-300;
}

} // namespace

TEST_CASE("the two-proportion z-test agrees with scipy, small and large samples") {
  struct c {
    std::uint64_t c0, n0, c1, n1;
  };
  std::vector<c> cases = {{10, 100, 20, 100},   {5, 20, 9, 21},         {500, 10000, 560, 10000},
                          {1200, 50000, 1100, 50000}, {0, 10, 3, 10}, {3, 7, 3, 7},
                          {1, 3, 2, 2},         {40000, 1000000, 40500, 1000000}};
  std::string list = "[";
  for (auto& x : cases)
    list += "(" + std::to_string(x.c0) + "," + std::to_string(x.n0) + "," + std::to_string(x.c1) + ","
            + std::to_string(x.n1) + "),";
  list += "]";
  auto v = python("import math\nfrom scipy.stats import norm\n"
                  "for c0,n0,c1,n1 in " + list + ":\n"
                  "  p=(c0+c1)/(n0+n1); se=math.sqrt(p*(1-p)*(1/n0+1/n1)); z=(c1/n1-c0/n0)/se\n"
                  "  print(repr(z), repr(2*norm.sf(abs(z))))\n");
  REQUIRE(v.size() == 2 * cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto t = two_proportion_z(cases[i].c0, cases[i].n0, cases[i].c1, cases[i].n1);
    CAPTURE(i);
    REQUIRE(t.z);
    CHECK(close(*t.z, v[2 * i], 1e-12));
    CHECK(close(*t.p_value, v[2 * i + 1], 1e-9));
  }
}

TEST_CASE("the z-test is undefined without exposures or without variance") {
  auto none = two_proportion_z(0, 0, 1, 10);
  CHECK_FALSE(none.z);
  CHECK(none.reason.find("control") != std::string::npos);
  auto zero = two_proportion_z(0, 50, 0, 60);
  CHECK_FALSE(zero.z);
  CHECK_FALSE(zero.p_value);
  CHECK(zero.reason.find("no conversions") != std::string::npos);
  auto all = two_proportion_z(50, 50, 60, 60);
  CHECK_FALSE(all.z);
  CHECK(all.reason.find("every exposure") != std::string::npos);
}

TEST_CASE("chi-square tails and Q(a, x) agree with scipy for df 1, 2 and more") {
  std::vector<std::pair<double, double>> xs = {{0.5, 1},  {3.841458820694124, 1}, {10.83, 1}, {0.01, 1},
                                               {5.991, 2}, {0.2, 2},  {13.8, 2},  {1.5, 3},
                                               {30, 5},    {150, 2},  {80, 1},    {2.0, 99}};
  std::string list = "[";
  for (auto& [x, df] : xs)
    list += "(" + std::to_string(x) + "," + std::to_string(df) + "),";
  list += "]";
  auto v = python("from scipy.stats import chi2\nfrom scipy.special import gammaincc\n"
                  "for x,df in " + list + ":\n  print(repr(chi2.sf(x,df)), repr(gammaincc(df/2,x/2)))\n");
  REQUIRE(v.size() == 2 * xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    // std::to_string kept 6 decimals; use the same values here.
    double x = std::stod(std::to_string(xs[i].first));
    double df = std::stod(std::to_string(xs[i].second));
    CAPTURE(x);
    CAPTURE(df);
    CHECK(close(chi2_sf(x, df), v[2 * i], 1e-9));
    CHECK(close(gamma_q(df / 2, x / 2), v[2 * i + 1], 1e-9));
  }
  CHECK(chi2_sf(0, 1) == 1.0);
}

TEST_CASE("the sample-ratio check agrees with scipy.stats.chisquare") {
  struct c {
    std::vector<std::uint64_t> observed;
    std::vector<std::uint32_t> weights;
  };
  std::vector<c> cases = {{{500, 520}, {1, 1}},
                          {{600, 400}, {1, 1}},
                          {{330, 340, 330}, {1, 1, 1}},
                          {{100, 180, 720}, {1, 2, 7}},
                          {{10, 3}, {1, 1}},
                          {{5000, 5300, 4800}, {1, 1, 1}}};
  std::string script = "from scipy.stats import chisquare\n";
  for (auto& x : cases) {
    std::string o = "[", w = "[";
    for (auto k : x.observed)
      o += std::to_string(k) + ",";
    for (auto k : x.weights)
      w += std::to_string(k) + ",";
    script += "o=" + o + "]; w=" + w + "]; n=sum(o); e=[n*k/sum(w) for k in w]\n"
              "r=chisquare(o,e); print(repr(r.statistic), repr(r.pvalue))\n";
  }
  auto v = python(script);
  REQUIRE(v.size() == 2 * cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto t = sample_ratio(cases[i].observed, cases[i].weights);
    CAPTURE(i);
    REQUIRE(t.chi2);
    CHECK(t.df == cases[i].observed.size() - 1);
    CHECK(close(*t.chi2, v[2 * i], 1e-12));
    CHECK(close(*t.p_value, v[2 * i + 1], 1e-9));
  }
  CHECK_FALSE(sample_ratio({0, 0}, {1, 1}).chi2);
}

TEST_CASE("results: rates, lift, significance and the SRM warning") {
  experiment e;
  e.name = "pricing_v2";
  e.variants = {"A", "B"};
  std::vector<counter> counts{{1000, 100, 100}, {1000, 150, 150}};
  auto r = results(e, counts, 0.05);
  auto& b = r["variants"][1];
  CHECK(r["variants"][0]["control"] == true);
  CHECK(r["variants"][0]["p_value"].is_null());
  CHECK(b["rate"].get<double>() == doctest::Approx(0.15));
  CHECK(b["difference"].get<double>() == doctest::Approx(0.05));
  CHECK(b["lift"].get<double>() == doctest::Approx(0.5));
  CHECK(b["significant"] == true);
  CHECK(b["p_value"].get<double>() < 0.05);
  CHECK(r["srm"]["mismatch"] == false);
  CHECK(r["warnings"].empty());

  std::vector<counter> skewed{{700, 10, 10}, {300, 10, 10}};
  auto s = results(e, skewed, 0.05);
  CHECK(s["srm"]["mismatch"] == true);
  CHECK(s["srm"]["p_value"].get<double>() < srm_threshold);
  REQUIRE(s["warnings"].size() == 1);
  CHECK(s["warnings"][0].get<std::string>().find("sample ratio mismatch") != std::string::npos);

  std::vector<counter> empty(2);
  auto z = results(e, empty, 0.05);
  CHECK(z["variants"][1]["z"].is_null());
  CHECK(z["variants"][1]["reason"].is_string());
  CHECK(z["srm"]["chi2"].is_null());
  CHECK(z["srm"]["reason"] == "no exposures yet");
}

TEST_CASE("the catalog: defaults, weights, and one line naming the experiment and field") {
  std::string error;
  auto ok = parse_catalog(nlohmann::json::parse(R"({"a": {}, "b": {"variants": ["x","y","z"], "weights": [1,1,2],
                                                    "salt": "S", "goal": "paid", "description": "d"}})"),
                          error);
  REQUIRE(ok);
  CHECK(ok->at("a").variants == std::vector<std::string>{"A", "B"});
  CHECK(ok->at("a").salt == "DEFAULT");
  CHECK(ok->at("a").goal == "conversion");
  CHECK(ok->at("b").weights == std::vector<std::uint32_t>{1, 1, 2});
  auto bad = [&](const char* text, const char* expect) {
    std::string err;
    CHECK_FALSE(parse_catalog(nlohmann::json::parse(text), err));
    CAPTURE(err);
    CHECK(err.find(expect) != std::string::npos);
  };
  bad(R"({"e1": {"variants": []}})", "experiment 'e1': field 'variants'");
  bad(R"({"e2": {"variants": ["A","A"]}})", "variant 'A' appears twice");
  bad(R"({"e3": {"variants": ["A","B"], "weights": [1]}})", "experiment 'e3': field 'weights': 1 weights for 2");
  bad(R"({"e4": {"weights": [0, 1]}})", "experiment 'e4': field 'weights'");
  bad(R"({"e5": {"variants": ["A b"]}})", "experiment 'e5': field 'variants': variant 'A b'");
  bad(R"({"e6": {"colour": 1}})", "experiment 'e6': unknown field 'colour'");
  bad(R"({"bad name": {}})", "experiment 'bad name'");
}
