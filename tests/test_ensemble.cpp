// Ensembles (models/ensemble.h): K models trained in lock step must each train exactly as they
// would alone. Every variant kind (E/EI with each explicit norm, I-Norm with each error mode,
// I-Norm sub) is run for a few steps as an ensemble of models with different seeds, rates and
// inputs, and as the same models one by one with the plain step; the parameters must agree
// bit for bit (the CPU's batched GEMM is a loop of the lone network's GEMMs, and every other
// kernel is row-wise or per model).
#include <doctest/doctest.h>

#include "framework/check.h"
#include "models/ensemble.h"
#include "models/trainer.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::random_tensor;

namespace {

constexpr int64_t kInputs = 20, kWidth = 12, kBatch = 5;

NetworkConfig model_config(const std::string& variant, uint64_t seed) {
  NetworkConfig c;
  c.variant = variant;
  c.width = kWidth;
  c.inputs = kInputs;
  c.seed = seed;
  return c;
}

OptimConfig optim_config(size_t k) {  // a different rate per model, and momentum on one
  OptimConfig o;
  o.lr = 0.05f * float(k + 1);
  o.lr_wix = 0.1f / float(k + 1);
  o.lr_wei = 0.01f;
  o.momentum = k == 2 ? 0.5f : 0.f;
  return o;
}

Tensor labels(int64_t n, uint64_t seed) {
  std::vector<float> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = float((i * 7 + int64_t(seed) * 3) % 10);
  return Tensor::from_vector(y, {n});
}

// Model k's inputs and labels at step s, and the same K of them as one stack.
Tensor model_x(size_t k, int s) { return random_tensor({kBatch, kInputs}, 1000 * k + uint64_t(s), 0.f, 1.f); }
Tensor model_y(size_t k, int s) { return labels(kBatch, 31 * k + uint64_t(s)); }

std::pair<Tensor, Tensor> stacked_batch(size_t K, int s) {
  std::vector<float> x, y;
  for (size_t k = 0; k < K; ++k) {
    const auto xk = model_x(k, s).to_vector(), yk = model_y(k, s).to_vector();
    x.insert(x.end(), xk.begin(), xk.end());
    y.insert(y.end(), yk.begin(), yk.end());
  }
  return {Tensor::from_vector(x, {int64_t(K), kBatch, kInputs}), Tensor::from_vector(y, {int64_t(K) * kBatch})};
}

void check_lock_step_equals_lone_runs(const std::string& variant) {
  CAPTURE(variant);
  constexpr size_t K = 3;
  constexpr int kSteps = 4;
  const uint64_t seeds[K] = {3, 11, 4};

  std::vector<NetworkConfig> cfgs;
  for (size_t k = 0; k < K; ++k) cfgs.push_back(model_config(variant, seeds[k]));
  Ensemble ens(cfgs);
  std::vector<std::unique_ptr<Optimizer>> opts;
  std::vector<Optimizer*> opt_ptrs;
  for (size_t k = 0; k < K; ++k) {
    opts.push_back(std::make_unique<Optimizer>(ens.model(k).parameters(), optim_config(k)));
    opt_ptrs.push_back(opts.back().get());
  }
  std::vector<std::vector<float>> task_losses(K);
  for (int s = 0; s < kSteps; ++s) {
    const auto [x, y] = stacked_batch(K, s);
    const std::vector<float> task = ens.train_step(opt_ptrs, x, y).to_vector();
    REQUIRE(task.size() == K);
    for (size_t k = 0; k < K; ++k) task_losses[k].push_back(task[k]);
  }

  for (size_t k = 0; k < K; ++k) {
    CAPTURE(k);
    Network lone(cfgs[k]);
    Optimizer opt(lone.parameters(), optim_config(k));
    for (int s = 0; s < kSteps; ++s) {
      const float task = train_step(lone, opt, Batch{model_x(k, s), model_y(k, s)}).item();
      CHECK(task == task_losses[k][size_t(s)]);
    }
    const auto ps = ens.model(k).parameters(), ref = lone.parameters();
    REQUIRE(ps.size() == ref.size());
    for (size_t i = 0; i < ps.size(); ++i) {
      CAPTURE(ps[i].name());
      CHECK(ps[i].shape() == ref[i].shape());
      CHECK(ps[i].to_vector() == ref[i].to_vector());
    }
    // The models really moved apart (different seeds, rates and data): not a vacuous equality.
    if (k > 0) CHECK(ens.model(k).parameters()[0].to_vector() != ens.model(0).parameters()[0].to_vector());
  }
}

}  // namespace

TEST_CASE("an ensemble's models train exactly as lone networks") {
  for (const char* v : {"ei", "ei-ln+", "ei-mean-", "ei-div+", "e-ln+", "inorm+", "inorm-", "inorm-scale",
                        "inorm-decorrelate", "inorm-fa", "inorm-sub+", "inorm-sub-"})
    check_lock_step_equals_lone_runs(v);
}

TEST_CASE("an ensemble's model is a view: an update through it is seen by the stack") {
  Ensemble ens({model_config("inorm+", 1), model_config("inorm+", 2)});
  Tensor wex = ens.model(1).parameters()[0];
  CHECK(wex.name() == "fc0.Wex");
  std::vector<float> v = wex.to_vector();
  v[5] = 0.125f;
  wex.copy_from(v);
  const Tensor stacked = ens.stack().parameters()[0];
  CHECK(stacked.shape() == Shape{2, kWidth, kInputs});
  CHECK(stacked.to_vector()[size_t(kWidth * kInputs + 5)] == 0.125f);
}

TEST_CASE("ensemble: models of different variants or widths are refused") {
  CHECK_THROWS_WITH_AS(Ensemble({model_config("inorm+", 1), model_config("ei-ln+", 1)}),
                       doctest::Contains("--model.variant"), InputError);
  NetworkConfig wide = model_config("inorm+", 2);
  wide.width = kWidth + 1;
  CHECK_THROWS_WITH_AS(Ensemble({model_config("inorm+", 1), wide}), doctest::Contains("--model.hidden_layer_width"),
                       InputError);
}
