// step_all (one multi-tensor Backend::update_multi call for every parameter of several
// optimizers) against its oracle, each optimizer's own step() (one per-tensor kernel call per
// parameter): on the CPU they must agree bit for bit — parameters, optimizer state and host
// counters — for every algorithm and option, frozen and gradient-less parameters included, and
// with optimizers of different algorithms in one call.
#include <cstring>
#include <memory>

#include "framework/optimizer.h"
#include "framework/safetensors.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::random_vector;

namespace {

// One optimizer's parameters: every group at awkward sizes, plus a frozen Wei and a Wex that
// gets no gradient in some steps.
struct Model {
  std::vector<Tensor> params;
  Tensor skipped;  // has a gradient only on odd steps
  Model(uint64_t seed) {
    const Group groups[] = {Group::Wex, Group::Wix, Group::Wei, Group::Bix, Group::Bei, Group::Bias};
    const char* names[] = {"l.Wex", "l.Wix", "l.Wei", "l.Bix", "l.Bei", "l.bias"};
    const int64_t sizes[] = {37, 5, 3, 41, 9, 7};
    for (int i = 0; i < 6; ++i) {
      // Small non-negative values for the sign-constrained groups, so that steps clamp some.
      const bool nonneg = is_sign_constrained(groups[i]);
      Tensor t = Tensor::from_vector(random_vector(sizes[i], seed + i, nonneg ? 0.f : -1.f, nonneg ? 0.05f : 1.f),
                                     {sizes[i]});
      t.as_parameter(names[i], groups[i]);
      params.push_back(t);
    }
    Tensor frozen = Tensor::from_vector(random_vector(4, seed + 10, 0.f, 1.f), {4});
    frozen.as_parameter("l.Wei_frozen", Group::Wei, true);
    params.push_back(frozen);
    skipped = Tensor::from_vector(random_vector(6, seed + 11, 0.f, 1.f), {6});
    skipped.as_parameter("m.Wex", Group::Wex);
    params.push_back(skipped);
  }
  // This step's gradients (the same for both copies of a model): frozen ones get one too, which
  // the optimizer must ignore.
  void grads(uint64_t seed, int step) const {
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].impl() == skipped.impl() && step % 2 == 0) continue;
      params[i].grad_for_accumulation().copy_from(random_vector(params[i].numel(), seed + 100 * step + i));
    }
  }
  std::vector<std::vector<float>> values() const {
    std::vector<std::vector<float>> v;
    for (const Tensor& p : params) v.push_back(p.to_vector());
    return v;
  }
};

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The optimizer state and counters of a checkpoint, bit for bit.
void check_same_state(const Optimizer& a, const Optimizer& b) {
  SafetensorsFile fa, fb;
  a.save_state(fa);
  b.save_state(fb);
  CHECK(fa.metadata == fb.metadata);
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    CAPTURE(fa.tensors[i].name);
    CHECK(fa.tensors[i].name == fb.tensors[i].name);
    CHECK(bits_equal(fa.tensors[i].data, fb.tensors[i].data));
  }
}

// Trains copies of the same models for a few steps, once with step() per optimizer and once with
// step_all, and compares everything after each step.
void check_step_all(const std::vector<OptimConfig>& cfgs) {
  const int kSteps = 4;
  std::vector<Model> oracle, fused;
  std::vector<std::unique_ptr<Optimizer>> oracle_opts, fused_opts;
  for (size_t k = 0; k < cfgs.size(); ++k) {
    oracle.emplace_back(1000 * (k + 1));
    fused.emplace_back(1000 * (k + 1));
    oracle_opts.push_back(std::make_unique<Optimizer>(oracle.back().params, cfgs[k]));
    fused_opts.push_back(std::make_unique<Optimizer>(fused.back().params, cfgs[k]));
  }
  const auto initial = oracle[0].values();
  std::vector<Optimizer*> all;
  for (auto& o : fused_opts) all.push_back(o.get());
  for (int step = 1; step <= kSteps; ++step) {
    CAPTURE(step);
    for (size_t k = 0; k < cfgs.size(); ++k) {
      oracle[k].grads(7 * (k + 1), step);
      fused[k].grads(7 * (k + 1), step);
      oracle_opts[k]->step();
    }
    step_all(all);
    for (size_t k = 0; k < cfgs.size(); ++k) {
      CAPTURE(k);
      const auto want = oracle[k].values(), got = fused[k].values();
      for (size_t i = 0; i < want.size(); ++i) {
        CAPTURE(oracle[k].params[i].name());
        CHECK(bits_equal(got[i], want[i]));
        // step_all clears the gradients step() clears (a frozen parameter's is not its business)
        CHECK(fused[k].params[i].grad().defined() == oracle[k].params[i].grad().defined());
      }
      CHECK(fused_opts[k]->steps() == oracle_opts[k]->steps());
      check_same_state(*fused_opts[k], *oracle_opts[k]);
    }
  }
  // The oracle really moved the trainable parameters and left the frozen one alone.
  const auto last = oracle[0].values();
  CHECK(last[0] != initial[0]);
  CHECK(last[6] == initial[6]);
  CHECK(last[7] != initial[7]);
  CHECK_FALSE(fused[0].params[0].grad().defined());
}

OptimConfig config(Algorithm alg, float momentum, float inhib_momentum, float wd, bool nesterov) {
  OptimConfig c;
  c.algorithm = alg;
  c.lr = 0.1f;
  c.lr_wix = 0.05f;
  c.lr_wei = 0.02f;
  c.momentum = momentum;
  c.inhib_momentum = inhib_momentum;
  c.wd = wd;
  c.nesterov = nesterov;
  return c;
}

}  // namespace

TEST_CASE("step_all equals step() per optimizer: SGD plain, momentum, Nesterov, weight decay") {
  SUBCASE("plain") { check_step_all({config(Algorithm::SGD, 0.f, 0.f, 0.f, false)}); }
  SUBCASE("momentum, inhibitory momentum") { check_step_all({config(Algorithm::SGD, 0.9f, 0.5f, 0.f, false)}); }
  SUBCASE("momentum only for wex and bias") { check_step_all({config(Algorithm::SGD, 0.9f, 0.f, 0.f, false)}); }
  SUBCASE("Nesterov with weight decay") { check_step_all({config(Algorithm::SGD, 0.9f, 0.5f, 0.01f, true)}); }
  SUBCASE("weight decay without momentum") { check_step_all({config(Algorithm::SGD, 0.f, 0.f, 0.3f, false)}); }
}

TEST_CASE("step_all equals step() per optimizer: EG and AdamW") {
  SUBCASE("EG") { check_step_all({config(Algorithm::EG, 0.f, 0.f, 0.f, false)}); }
  SUBCASE("EG with momentum") { check_step_all({config(Algorithm::EG, 0.9f, 0.9f, 0.f, false)}); }
  SUBCASE("EG with momentum for wex and bias only") { check_step_all({config(Algorithm::EG, 0.9f, 0.f, 0.f, false)}); }
  SUBCASE("EG, Nesterov, sign(p) weight decay") { check_step_all({config(Algorithm::EG, 0.9f, 0.5f, 0.1f, true)}); }
  SUBCASE("EG weight decay without momentum") { check_step_all({config(Algorithm::EG, 0.f, 0.f, 0.3f, false)}); }
  SUBCASE("AdamW") { check_step_all({config(Algorithm::AdamW, 0.f, 0.f, 0.01f, false)}); }
  SUBCASE("AdamW without decay") { check_step_all({config(Algorithm::AdamW, 0.f, 0.f, 0.f, false)}); }
}

TEST_CASE("step_all over an ensemble's optimizers, with different rates and algorithms in one call") {
  OptimConfig slow = config(Algorithm::SGD, 0.f, 0.f, 0.f, false);
  slow.lr = 0.001f;
  check_step_all({config(Algorithm::SGD, 0.f, 0.f, 0.f, false), slow, config(Algorithm::SGD, 0.9f, 0.5f, 0.01f, true),
                  config(Algorithm::EG, 0.f, 0.f, 0.f, false), config(Algorithm::EG, 0.9f, 0.5f, 0.1f, true),
                  config(Algorithm::AdamW, 0.f, 0.f, 0.01f, false)});
}

TEST_CASE("step_all with no optimizers, or none with a gradient, changes nothing but the counters") {
  step_all({});
  Model m(5);
  Optimizer opt(m.params, config(Algorithm::SGD, 0.9f, 0.9f, 0.f, false));
  const auto before = m.values();
  step_all({&opt});
  CHECK(m.values() == before);
  CHECK(opt.steps() == 1);
}
