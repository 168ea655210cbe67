// Statistics of `dale report` (SPEC §9): summaries of a condition's final test accuracies and
// the two-sided Mann–Whitney U test the study uses to compare conditions. Plain functions on
// vectors of doubles, no CLI, so the tests can check them against scipy's numbers.
#pragma once
#include <cstddef>
#include <vector>

namespace dale::stats {

double mean(const std::vector<double>& x);    // 0 for an empty sample
double sd(const std::vector<double>& x);      // sample standard deviation (n − 1); 0 when n < 2
double median(const std::vector<double>& x);  // middle value, or the mean of the two middle ones
// The k largest values, largest first (all of them, sorted, when there are fewer than k).
std::vector<double> best_k(const std::vector<double>& x, size_t k);

// Mann–Whitney U statistic of sample `a` against `b` (ties count by mid-ranks):
// U_a = R_a − n_a(n_a + 1)/2, the number of pairs with a > b plus half the tied pairs.
// When p_two_sided is given it receives the two-sided p-value:
//   exact (the null distribution of U counted by dynamic programming) when n_a, n_b ≤ 20 and no
//   value occurs twice; otherwise the normal approximation with tie correction and continuity
//   correction, as scipy.stats.mannwhitneyu(method='asymptotic'). p = 1 when every value is tied.
// Both samples must be non-empty.
double mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b, double* p_two_sided);

// The exact null distribution: the number of orderings of n_a + n_b distinct values in which
// U_a = u, for u = 0 … n_a·n_b (they sum to C(n_a + n_b, n_a)). Exposed for the tests.
std::vector<double> mann_whitney_counts(size_t n_a, size_t n_b);

}  // namespace dale::stats
