// Synaptic geometry (opt-in, --diag.geometry 1): what learning did to the sign-constrained
// weights and to the hidden representations, measured per epoch into the records' "geometry".
//
// Per trainable sign-constrained matrix (Wex, Wix, Wei of every layer, fc_output included;
// frozen ones such as I-Norm's Wei and Bei never change and are left out), WeightStats:
//   n, mean, sd             over all entries (sd: population)
//   floor_frac              fraction at or below kWeightFloor: clamped at 0 by GD, or frozen at
//                           the lab's 1e-18 by sign-freezing GD (--opt.gd_signs freeze)
//   positive                entries above kWeightFloor: the sample of everything below
//   log_mean, log_sd,       moments of y = ln w over the positive entries (sd population;
//   log_skew, log_kurt      skewness g1 and excess kurtosis g2, scipy.stats' biased defaults)
//   ks_lognormal            Kolmogorov–Smirnov distance sup|F_n − F| of the positive entries to
//                           the maximum-likelihood log-normal (μ = log_mean, σ = log_sd)
//   ks_normal               … and to the maximum-likelihood normal of the same entries
//   log10_hist, hist_below, counts of log10 w of the positive entries in kHistBins fixed bins of
//   hist_above              width kHistWidth from kHistLo (left-closed), and of those outside
//   rel_change              ‖W − W₀‖_F / ‖W₀‖_F, W₀ the run's initial value (after --exp.init)
//   erank                   effective rank exp(H) of W's singular values (framework/spectral.h)
// Per hidden layer, cka: linear CKA (Kornblith et al. 2019) between the layer's activity
// relu(z) on a fixed batch — the first kCkaSamples test images, unjittered — under the initial
// weights and under the current ones (1: the representation has not changed).
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/network.h"

namespace dale {

constexpr double kWeightFloor = 1e-12;
constexpr double kHistLo = -10.0, kHistWidth = 0.1;
constexpr int kHistBins = 110;  // log10 w in [−10, 1)
constexpr int64_t kCkaSamples = 512;

struct WeightStats {
  int64_t n = 0, positive = 0;
  double mean = 0, sd = 0, floor_frac = 0;
  double log_mean = 0, log_sd = 0, log_skew = 0, log_kurt = 0;
  double ks_lognormal = 0, ks_normal = 0;
  std::vector<int64_t> log10_hist;  // kHistBins counts
  int64_t hist_below = 0, hist_above = 0;
  double rel_change = 0, erank = 0;
};

// Statistics of a rows × cols row-major matrix w; rel_change against w0 (same size, else Error;
// empty: 0; all zero: NaN). Log-moments and KS values are NaN when fewer than two entries are
// positive.
WeightStats weight_stats(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& w0);
nlohmann::json to_json(const WeightStats& s);

// sup_x |F_n(x) − Φ((x − mu)/sd)| of the sample x (sorted here); NaN for an empty sample or sd ≤ 0.
double ks_distance_normal(std::vector<double> x, double mu, double sd);
// The doubly centred Gram matrix H X Xᵀ H (n × n, row-major, double) of x: n × p row-major.
std::vector<double> centered_gram(const std::vector<float>& x, int64_t n, int64_t p);
// Linear CKA of two representations given by their centred Grams (n × n):
// ⟨Kx, Ky⟩_F / (‖Kx‖_F ‖Ky‖_F); NaN when either is zero.
double linear_cka(const std::vector<double>& kx, const std::vector<double>& ky);

// One run's reference point: the initial weights and the initial activity of every hidden layer
// on the fixed batch. Build it from the network before any update (and before a checkpoint is
// resumed); `test_x` is the fixed batch (rows × inputs, on the network's device).
class GeometryProbe {
 public:
  GeometryProbe(Network& net, Tensor test_x);
  // {"hist": {lo, width, bins}, "<layer>": {"cka": c, "<param>": stats…}, …}; with `with_init`,
  // also "init": the same statistics of the initial weights (the record of epoch 1 carries it).
  nlohmann::json measure(Network& net, bool with_init) const;

 private:
  struct Matrix {
    std::string layer, param;
    Tensor p;               // the parameter itself: read at each measurement
    std::vector<float> w0;  // its initial value
  };
  std::vector<Matrix> matrices_;
  std::vector<std::vector<double>> gram0_;  // per hidden layer
  nlohmann::json init_;                     // the statistics of the initial weights, by layer
  Tensor x_;
  std::vector<std::vector<double>> grams(Network& net) const;
};

}  // namespace dale
