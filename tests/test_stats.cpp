// Tests of tools/dale/stats.h, the statistics of `dale report`: summaries, and the Mann–Whitney
// U test against scipy's numbers (tests/fixtures/mannwhitney.json, from
// tools/make_stats_fixtures.py: scipy.stats.mannwhitneyu with its default method "auto", and
// "exact" and "asymptotic") and against a brute-force enumeration of the exact null distribution.
//
// tools/dale/*.cpp are compiled only into the `dale` executable, not into a library the tests
// link, so this suite compiles stats.cpp itself (it needs nothing but dale_core's headers).
#include "tools/dale/stats.cpp"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

using namespace dale::stats;

namespace {

// One tolerance rule for p-values: |got − want| ≤ rtol·|want| (+ a tiny atol for p ≈ 0).
void check_p(double got, double want, double rtol, const std::string& what) {
  CHECK_MESSAGE(std::fabs(got - want) <= 1e-300 + rtol * std::fabs(want),
                what << ": p = " << got << ", scipy " << want);
}

double binom(int n, int k) {
  double c = 1;
  for (int i = 1; i <= k; ++i) c = c * double(n - k + i) / double(i);
  return c;
}

// The fixture: scipy 1.10.1's two-sided p-values of many sample pairs.
const nlohmann::json& scipy_fixture() {
  static const nlohmann::json doc = [] {
    const std::string path = std::string(DALE_TEST_DATA) + "/fixtures/mannwhitney.json";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path << " (regenerate with tools/make_stats_fixtures.py)");
    return nlohmann::json::parse(in);
  }();
  return doc;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Summaries

TEST_CASE("mean, sd (n − 1), median and best_k") {
  const std::vector<double> x = {3, 1, 4, 1, 5, 9, 2, 6};
  CHECK(mean(x) == doctest::Approx(31.0 / 8));
  // Σ(x − 3.875)² = 52.875 → sd = sqrt(52.875 / 7) (python statistics.stdev: 2.748376…)
  CHECK(sd(x) == doctest::Approx(std::sqrt(52.875 / 7)));
  CHECK(median(x) == doctest::Approx(3.5));                  // even n: mean of 3 and 4
  CHECK(median(std::vector<double>{7, 1, 3}) == doctest::Approx(3));  // odd n
  CHECK(best_k(x, 3) == std::vector<double>{9, 6, 5});
  CHECK(best_k(x, 20).size() == x.size());  // fewer than k: all of them, largest first
  CHECK(best_k(x, 20).front() == 9);
  CHECK(sd(std::vector<double>{42}) == 0);  // n = 1
  CHECK(mean(std::vector<double>{}) == 0);
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U

TEST_CASE("Mann–Whitney U and two-sided p match scipy.stats.mannwhitneyu (auto, exact, asymptotic)") {
  const auto& cases = scipy_fixture().at("cases");
  REQUIRE(cases.size() >= 60);
  int auto_exact = 0, auto_asymptotic = 0, with_ties = 0, n30 = 0, n10 = 0;
  for (const auto& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    const std::vector<double> a = c.at("x").get<std::vector<double>>(), b = c.at("y").get<std::vector<double>>();
    const double u = c.at("u").get<double>();
    const std::string picked = c.at("auto_method").get<std::string>();
    const MwuMethod want_method = picked == "exact" ? MwuMethod::exact : MwuMethod::asymptotic;
    auto_exact += want_method == MwuMethod::exact;
    auto_asymptotic += want_method == MwuMethod::asymptotic;
    with_ties += c.at("ties").get<bool>();
    n30 += a.size() == 30 && b.size() == 30;
    n10 += a.size() == 10 && b.size() == 10;

    // The default is scipy's default.
    const MannWhitney d = mann_whitney(a, b);
    CHECK_MESSAGE(d.u == u, name << ": U = " << d.u << ", scipy " << u);
    CHECK_MESSAGE(d.method == want_method, name << ": auto used " << mwu_method_name(d.method) << ", scipy " << picked);
    check_p(d.p, c.at("p_auto").get<double>(), 1e-9, name + " (auto)");
    for (const auto& [m, key] : {std::pair{MwuMethod::exact, "p_exact"}, std::pair{MwuMethod::asymptotic, "p_asymptotic"}}) {
      const MannWhitney r = mann_whitney(a, b, m);
      CHECK(r.method == m);
      CHECK(r.u == u);
      check_p(r.p, c.at(key).get<double>(), 1e-9, name + " (" + mwu_method_name(m) + ")");
    }
    // Swapping the samples: U_b = n_a·n_b − U_a, the same two-sided p.
    const MannWhitney s = mann_whitney(b, a);
    CHECK_MESSAGE(s.u == double(a.size() * b.size()) - u, name << ": U of b = " << s.u);
    check_p(s.p, c.at("p_auto").get<double>(), 1e-9, name + " (swapped)");
  }
  // The fixture covers what it claims: both choices of auto, ties, the report's 30 vs 30 and 10 vs 10.
  CHECK(auto_exact >= 10);
  CHECK(auto_asymptotic >= 10);
  CHECK(with_ties >= 10);
  CHECK(n30 >= 4);
  CHECK(n10 >= 4);
}

TEST_CASE("scipy's rule for method auto") {
  CHECK(mwu_auto_choice(8, 30, false) == MwuMethod::exact);  // one sample of at most 8
  CHECK(mwu_auto_choice(30, 8, false) == MwuMethod::exact);
  CHECK(mwu_auto_choice(9, 9, false) == MwuMethod::asymptotic);  // both larger than 8
  CHECK(mwu_auto_choice(10, 10, false) == MwuMethod::asymptotic);
  CHECK(mwu_auto_choice(3, 3, true) == MwuMethod::asymptotic);  // ties
  CHECK(parse_mwu_method("auto") == MwuMethod::automatic);
  CHECK(parse_mwu_method("exact") == MwuMethod::exact);
  CHECK(parse_mwu_method("asymptotic") == MwuMethod::asymptotic);
  CHECK_FALSE(parse_mwu_method("Exact").has_value());
  CHECK_FALSE(parse_mwu_method("").has_value());
  for (MwuMethod m : {MwuMethod::automatic, MwuMethod::exact, MwuMethod::asymptotic})
    CHECK(parse_mwu_method(mwu_method_name(m)) == m);
}

TEST_CASE("fully separated samples: exact p = 2 / C(n_a + n_b, n_a)") {
  for (int na : {1, 2, 5, 10, 20})
    for (int nb : {1, 3, 7, 20}) {
      std::vector<double> a, b;
      for (int i = 0; i < na; ++i) a.push_back(100 + i);  // every a above every b
      for (int i = 0; i < nb; ++i) b.push_back(i);
      const MannWhitney r = mann_whitney(a, b, MwuMethod::exact);
      CHECK(r.u == double(na * nb));
      const double want = std::min(1.0, 2.0 / binom(na + nb, na));
      check_p(r.p, want, 1e-12, "separated " + std::to_string(na) + " vs " + std::to_string(nb));
    }
  // 20 vs 20: scipy's exact p, 1.4508889103849684e-11.
  std::vector<double> a, b;
  for (int i = 0; i < 20; ++i) a.push_back(i), b.push_back(20 + i);
  const MannWhitney r = mann_whitney(a, b, MwuMethod::exact);
  CHECK(r.u == 0);
  check_p(r.p, 1.4508889103849684e-11, 1e-12, "separated 20 vs 20");
}

TEST_CASE("the exact null distribution matches a brute-force enumeration") {
  // Every way to choose which n_a of the ranks 1 … n_a + n_b belong to a (bit masks); U_a of each.
  for (int na = 1; na <= 7; ++na)
    for (int nb = 1; nb <= 7; ++nb) {
      const int n = na + nb;
      std::vector<double> brute(size_t(na * nb + 1), 0.0);
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (__builtin_popcount(mask) != na) continue;
        int u = 0, below_b = 0;  // U_a = Σ over a's values of the b's below it
        for (int r = 0; r < n; ++r) {
          if (mask >> r & 1) u += below_b;
          else ++below_b;
        }
        brute[size_t(u)] += 1;
      }
      const std::vector<double> c = mann_whitney_counts(size_t(na), size_t(nb));
      CHECK_MESSAGE(c == brute, "null distribution of U for n_a = " << na << ", n_b = " << nb);
    }
  // And the p-value of an arbitrary ordering: a holds ranks {2, 3, 7, 9} of 1 … 10.
  const std::vector<double> a = {2, 3, 7, 9}, b = {1, 4, 5, 6, 8, 10};
  const MannWhitney r = mann_whitney(a, b, MwuMethod::exact);
  const double u = r.u;
  CHECK(u == 1 + 1 + 4 + 5);  // b's below each of a's values
  const std::vector<double> c = mann_whitney_counts(4, 6);
  const double u_far = std::max(u, 24 - u);
  double tail = 0;
  for (size_t k = 0; k < c.size(); ++k) tail += double(k) >= u_far ? c[k] : 0.0;
  check_p(r.p, 2 * tail / binom(10, 4), 1e-12, "ranks {2, 3, 7, 9} of 10");
}

TEST_CASE("Mann–Whitney needs two non-empty samples without NaN") {
  CHECK_THROWS_AS(mann_whitney({}, {1.0}), dale::Error);
  CHECK_THROWS_AS(mann_whitney({1.0}, {}), dale::Error);
  CHECK_THROWS_AS(mann_whitney({1.0, std::nan("")}, {2.0}), dale::Error);
  CHECK(mann_whitney({1.0, 2.0}, {1.5}).u == 1.0);
}
