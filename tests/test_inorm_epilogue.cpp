// The fused I-Norm epilogue (inorm_epilogue, one kernel forward and one per path backward)
// against its oracle, the composition of ordinary ops it replaces (inorm_epilogue_unfused):
// values and gradients for one network and a model stack, the stop-gradients of SPEC §2.3 path
// by path, and finite differences.
#include "framework/check.h"
#include "framework/ops.h"
#include "framework/tape.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;
using dale::test::random_tensor;
using dale::test::random_vector;

namespace {

// e and inh of a layer's scale; pooled > 0 as a mean of squares is (and not tiny next to ε_norm).
struct Inputs {
  Tensor e, inh, pooled;
  explicit Inputs(Shape s, uint64_t seed, float pooled_lo = 0.05f)
      : e(random_tensor(s, seed, -2.f, 2.f)), inh(random_tensor(s, seed + 1, 0.f, 1.f)),
        pooled(random_tensor(s, seed + 2, pooled_lo, 3.f)) {}
};

struct Result {
  std::vector<float> z, terms, de, dinh, dpooled;
};

// Values, and the gradients of Σ z·R1 + Σ terms·R2 (R random): every path carries a gradient.
Result run(const Inputs& in, bool fused) {
  for (Tensor t : {in.e, in.inh, in.pooled}) t.zero_grad();  // handles: clears the shared gradient
  const INormEpilogue ep = fused ? inorm_epilogue(in.e, in.inh, in.pooled) : inorm_epilogue_unfused(in.e, in.inh, in.pooled);
  const Tensor r1 = Tensor::from_vector(random_vector(ep.z.numel(), 91), ep.z.shape());
  const Tensor r2 = Tensor::from_vector(random_vector(ep.terms.numel(), 92), ep.terms.shape());
  backward(add(sum(mul(ep.z, r1)), sum(mul(ep.terms, r2))));
  return {ep.z.to_vector(), ep.terms.to_vector(), in.e.grad().to_vector(), in.inh.grad().to_vector(),
          in.pooled.grad().to_vector()};
}

void check_against_unfused(Shape s) {
  CAPTURE(s.str());
  const Inputs in(s, 17);
  const Result f = run(in, true), u = run(in, false);
  expect_close(f.z, u.z, 1e-6, 1e-5, "z");
  expect_close(f.terms, u.terms, 1e-6, 1e-5, "terms");
  expect_close(f.de, u.de, 1e-6, 1e-5, "d e");
  expect_close(f.dinh, u.dinh, 1e-6, 1e-4, "d inh");
  expect_close(f.dpooled, u.dpooled, 1e-6, 1e-4, "d pooled");
  // The terms are far from their minimum, so the local path's gradients are not all ~0.
  double n = 0;
  for (float g : f.dinh) n += double(g) * g;
  CHECK(n > 1e-3);
}

}  // namespace

TEST_CASE("inorm_epilogue equals the unfused composition: values and gradients") {
  check_against_unfused(Shape{33, 17});
  check_against_unfused(Shape{1, 234});
  check_against_unfused(Shape{3, 32, 23});  // a stack of 3 models: rows are rows, whatever the model
}

TEST_CASE("inorm_epilogue stop-gradients: z reaches e alone, the terms reach inh and pooled alone") {
  const Inputs in(Shape{5, 11}, 23);
  {
    const INormEpilogue ep = inorm_epilogue(in.e, in.inh, in.pooled);
    backward(sum(ep.z));
    CHECK(in.e.grad().defined());
    CHECK_FALSE(in.inh.grad().defined());
    CHECK_FALSE(in.pooled.grad().defined());
  }
  for (Tensor t : {in.e, in.inh, in.pooled}) t.zero_grad();  // handles: clears the shared gradient
  {
    const INormEpilogue ep = inorm_epilogue(in.e, in.inh, in.pooled);
    backward(sum(ep.terms));
    CHECK_FALSE(in.e.grad().defined());
    CHECK(in.inh.grad().defined());
    CHECK(in.pooled.grad().defined());
  }
}

TEST_CASE("inorm_epilogue: finite differences, path by path") {
  // Each path differentiates only its own inputs; the others enter as constants. pooled ≥ 0.5:
  // the central difference's step (1e-2) must be small next to the curvature of 1/sqrt(pooled).
  const Inputs in(Shape{6, 9}, 31, 0.5f);
  Tensor inh_c = in.inh.detach(), pooled_c = in.pooled.detach(), e_c = in.e.detach();
  dale::test::gradcheck("inorm_epilogue z",
                        [&](std::vector<Tensor>& x) { return inorm_epilogue(x[0], inh_c, pooled_c).z; }, {in.e});
  dale::test::gradcheck("inorm_epilogue terms",
                        [&](std::vector<Tensor>& x) { return inorm_epilogue(e_c, x[0], x[1]).terms; },
                        {in.inh, in.pooled});
  // A stack's terms are per row of each model.
  const Inputs st(Shape{2, 4, 7}, 41, 0.5f);
  Tensor st_e = st.e.detach();
  dale::test::gradcheck("inorm_epilogue terms, stack",
                        [&](std::vector<Tensor>& x) { return inorm_epilogue(st_e, x[0], x[1]).terms; },
                        {st.inh, st.pooled});
}

TEST_CASE("inorm_epilogue refuses inputs of different shapes") {
  const Inputs in(Shape{4, 5}, 3);
  CHECK_THROWS_AS(inorm_epilogue(in.e, random_tensor({4, 6}, 1), in.pooled), Error);
  CHECK_THROWS_AS(inorm_epilogue(in.e, in.inh, random_tensor({5, 5}, 1)), Error);
}
