// Statistics of `dale report` (SPEC §9): summaries of a condition's final test accuracies and
// the two-sided Mann–Whitney U test the study uses to compare conditions. Plain functions on
// vectors of doubles, no CLI, so the tests can check them against scipy's numbers
// (tests/fixtures/mannwhitney.json, written by tools/make_stats_fixtures.py).
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace dale::stats {

double mean(const std::vector<double>& x);    // 0 for an empty sample
double sd(const std::vector<double>& x);      // sample standard deviation (n − 1); 0 when n < 2
double median(const std::vector<double>& x);  // middle value, or the mean of the two middle ones
// The k largest values, largest first (all of them, sorted, when there are fewer than k).
std::vector<double> best_k(const std::vector<double>& x, size_t k);

// How the p-value of the Mann–Whitney test is computed; the three methods of
// scipy.stats.mannwhitneyu (scipy 1.10), whose default is `automatic`:
//   exact       the null distribution of U counted by dynamic programming, with no tie correction
//               (U is truncated to an integer first, as scipy does);
//   asymptotic  the normal approximation with tie correction and continuity correction (½);
//   automatic   exact when one sample has at most 8 values and no value occurs twice in the
//               pooled sample, otherwise asymptotic.
enum class MwuMethod { automatic, exact, asymptotic };

// "auto", "exact", "asymptotic"; nullopt for anything else.
std::optional<MwuMethod> parse_mwu_method(std::string_view name);
const char* mwu_method_name(MwuMethod m);
// The method `automatic` picks for samples of these sizes (`ties`: some value occurs twice).
MwuMethod mwu_auto_choice(size_t n_a, size_t n_b, bool ties);

struct MannWhitney {
  double u;          // U_a = R_a − n_a(n_a + 1)/2: pairs with a > b, plus half the tied pairs
  double p;          // two-sided p-value, in [0, 1]
  MwuMethod method;  // the method used (exact or asymptotic, never automatic)
};

// The two-sided test of `a` against `b`, as scipy.stats.mannwhitneyu(a, b, method=...) with
// use_continuity=True: p = 2·P(U ≥ max(U_a, U_b)) under the null, clipped to 1. Every value
// tied gives p = 1 (asymptotic). Both samples must be non-empty and hold no NaN.
MannWhitney mann_whitney(const std::vector<double>& a, const std::vector<double>& b,
                         MwuMethod method = MwuMethod::automatic);

// The exact null distribution: the number of orderings of n_a + n_b distinct values in which
// U_a = u, for u = 0 … n_a·n_b (they sum to C(n_a + n_b, n_a)). Exposed for the tests.
std::vector<double> mann_whitney_counts(size_t n_a, size_t n_b);

}  // namespace dale::stats
