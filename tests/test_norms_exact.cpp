// Exact values of the normalizations (SPEC §5), the error-normalization modes (SPEC §4) and the
// smoothed cross-entropy, against numbers computed by hand (in double, outside dale) for small
// cases, and the relations between them that SPEC.md states.
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;

namespace {
// z = [1, 2, 3, 4]: μ = 2.5, var = 1.25, σ = sqrt(1.25 + 1e-5); incoming g below.
const std::vector<float> kZ = {1, 2, 3, 4};
const std::vector<float> kG = {0.5f, -1.f, 2.f, 0.25f};

std::pair<std::vector<float>, std::vector<float>> norm_fwd_bwd(NormKind k, bool detach) {
  Tensor z = Tensor::from_vector(kZ, {1, 4});
  z.set_requires_grad(true);
  Tensor y = normalize(z, k, detach);
  backward(sum(mul(y, Tensor::from_vector(kG, {1, 4}))));
  return {y.to_vector(), z.grad().to_vector()};
}

std::vector<float> errnorm_grad(ErrNorm m, const std::vector<float>& zv, Tensor w = Tensor()) {
  Tensor z = Tensor::from_vector(zv, {1, 4});
  z.set_requires_grad(true);
  Tensor y = error_normalize(z, m, w);
  expect_close(y.to_vector(), zv, 0, 0, "G is the identity forward");
  backward(sum(mul(y, Tensor::from_vector(kG, {1, 4}))));
  return z.grad().to_vector();
}
}  // namespace

TEST_CASE("LayerNorm forward and exact backward") {
  auto [y, dz] = norm_fwd_bwd(NormKind::Layer, false);
  expect_close(y, {-1.34163542f, -0.447211807f, 0.447211807f, 1.34163542f}, 1e-6, 1e-6, "LN y");
  expect_close(dz, {0.35776703f, -1.18511209f, 1.29691504f, -0.469569982f}, 1e-6, 1e-5, "LN dz");
}

TEST_CASE("LayerNorm detached passes the error through unchanged") {
  auto [y, dz] = norm_fwd_bwd(NormKind::Layer, true);
  expect_close(y, {-1.34163542f, -0.447211807f, 0.447211807f, 1.34163542f}, 1e-6, 1e-6, "LN- y");
  expect_close(dz, kG, 0, 0, "LN- dz");
}

TEST_CASE("MeanNorm forward and backward") {
  auto [y, dz] = norm_fwd_bwd(NormKind::Mean, false);
  expect_close(y, {-1.5f, -0.5f, 0.5f, 1.5f}, 1e-6, 0, "MeanNorm y");
  expect_close(dz, {0.0625f, -1.4375f, 1.5625f, -0.1875f}, 1e-6, 0, "MeanNorm dz");
}

TEST_CASE("DivisiveNorm forward and exact backward") {
  auto [y, dz] = norm_fwd_bwd(NormKind::Divisive, false);
  expect_close(y, {0.894423613f, 1.78884723f, 2.68327084f, 3.57769445f}, 1e-6, 1e-6, "Div y");
  expect_close(dz, {1.92299896f, -0.402494561f, 1.29691817f, -1.25218125f}, 1e-6, 1e-5, "Div dz");
}

TEST_CASE("error-normalization modes of SPEC §4 on a hand-computed row") {
  const std::vector<float> z = {0.5f, -1.5f, 2.0f, -0.25f};
  expect_close(errnorm_grad(ErrNorm::None, z), kG, 0, 0, "none");
  expect_close(errnorm_grad(ErrNorm::Full, z),
               {-0.511759416f, 0.548754072f, -1.01118728f, 0.132564186f}, 1e-6, 1e-5, "full");
  expect_close(errnorm_grad(ErrNorm::Center, z), {0.0625f, -1.4375f, 1.5625f, -0.1875f}, 1e-6, 0,
               "center");
  expect_close(errnorm_grad(ErrNorm::FaCenter, z, Tensor::from_vector({0.1f, 0.2f, 0.3f, 0.4f}, {4})),
               {-0.05f, -1.55f, 1.45f, -0.3f}, 1e-6, 0, "fa_center");
  expect_close(errnorm_grad(ErrNorm::Scale, z), {0.39460967f, -0.78921934f, 1.57843868f, 0.197304835f},
               1e-6, 1e-5, "scale");
  expect_close(errnorm_grad(ErrNorm::Decorrelate, z),
               {-0.2109375f, 1.1328125f, -0.84375f, 0.60546875f}, 1e-6, 1e-6, "decorrelate");
}

TEST_CASE("G=full is LayerNorm's exact backward when the input is already layer-normalized") {
  // SPEC §4: `full` is what LN's backward does at an input with μ = 0, var = 1. Build such rows
  // by layer-normalizing random data, then compare both backwards on random errors.
  const int64_t B = 9, D = 37;
  Tensor raw = dale::test::random_tensor({B, D}, 81, -2.f, 2.f, false);
  Tensor zn = normalize(raw, NormKind::Layer, false);
  Tensor g = dale::test::random_tensor({B, D}, 82, -1.f, 1.f, false);
  std::vector<float> via_g, via_ln;
  for (int path = 0; path < 2; ++path) {
    Tensor z = zn.clone();
    z.set_requires_grad(true);
    Tensor y = path == 0 ? error_normalize(z, ErrNorm::Full) : normalize(z, NormKind::Layer, false);
    backward(sum(mul(y, g)));
    (path == 0 ? via_g : via_ln) = z.grad().to_vector();
  }
  // They differ only through ε_norm (var(zn) = 1/(1 + ε/var(raw)) instead of 1): ~1e-5 relative.
  CHECK(dale::test::rel_error(via_g, via_ln) < 5e-5);
  // And `center` is not `full`: the check above can fail.
  Tensor z = zn.clone();
  z.set_requires_grad(true);
  backward(sum(mul(error_normalize(z, ErrNorm::Center), g)));
  CHECK(dale::test::rel_error(z.grad().to_vector(), via_ln) > 1e-2);
}

TEST_CASE("cross-entropy with label smoothing 0.1, hand-computed") {
  Tensor logits = Tensor::from_vector({1, 2, 3}, {1, 3});
  logits.set_requires_grad(true);
  Tensor loss = cross_entropy(logits, Tensor::from_vector({2}, {1}), 0.1f);
  expect_close(loss.to_vector(), {0.507605964f}, 1e-6, 1e-6, "loss");
  backward(loss);
  expect_close(logits.grad().to_vector(), {0.0566972398f, 0.211395138f, -0.268092378f}, 1e-6, 1e-5,
               "dlogits");
  // mean over the batch: two identical rows give the same loss and half the gradient each
  Tensor l2 = Tensor::from_vector({1, 2, 3, 1, 2, 3}, {2, 3});
  l2.set_requires_grad(true);
  Tensor loss2 = cross_entropy(l2, Tensor::from_vector({2, 2}, {2}), 0.1f);
  expect_close(loss2.to_vector(), {0.507605964f}, 1e-6, 1e-6, "batch mean");
  backward(loss2);
  expect_close(l2.grad().to_vector(),
               {0.0283486199f, 0.105697569f, -0.134046189f, 0.0283486199f, 0.105697569f,
                -0.134046189f},
               1e-6, 1e-5, "batch dlogits");
}

TEST_CASE("count_correct: arg-max against labels, first maximum wins") {
  Tensor logits = Tensor::from_vector({0, 5, 1, /**/ 2, 2, 0, /**/ 0, 0, 9}, {3, 3});
  Tensor n = count_correct(logits, Tensor::from_vector({1, 1, 2}, {3}));
  CHECK(n.item() == 2.f);  // row 1 ties 2 = 2: arg-max is 0, not the label 1
}
