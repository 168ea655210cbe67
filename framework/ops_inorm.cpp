// The I-Norm layer's fused epilogue (see ops.h): z and the local-loss terms from one forward
// kernel, and a backward per path — about 14 launches forward and 20 backward replaced by 1 + 2
// (DESIGN.md, "Fuse where the data is small"). The stop-gradients of SPEC §2.3 are built into the
// two backwards: z's reaches e alone, the terms' reaches inh and pooled alone.
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

INormEpilogue inorm_epilogue(const Tensor& e, const Tensor& inh, const Tensor& pooled) {
  DALE_RANGE("inorm_epilogue");
  check_same_shape("inorm_epilogue", e, inh);
  check_same_shape("inorm_epilogue", e, pooled);
  const Shape& s = e.shape();
  const int64_t rows = e.rows(), cols = e.cols();
  INormEpilogue out{Tensor::empty(s, e.device()),
                    Tensor::empty(s.rank == 3 ? Shape{s.d[0], s.d[1], 1} : Shape{rows, 1}, e.device())};
  backend(e.device()).inorm_forward(rows, cols, e.data(), inh.data(), pooled.data(), out.z.data(), out.terms.data());
  if (needs_grad({e}))
    record(out.z, [e, pooled, rows, cols](const Tensor& g) {
      if (float* de = grad_of(e)) backend(g.device()).inorm_backward_task(rows, cols, g.data(), pooled.data(), de);
    });
  if (needs_grad({inh, pooled})) {
    const Tensor z = out.z;  // u in value
    record(out.terms, [inh, pooled, z, rows, cols](const Tensor& g) {
      backend(g.device()).inorm_backward_local(rows, cols, g.data(), z.data(), pooled.data(), grad_of(inh),
                                               grad_of(pooled));
    });
  }
  return out;
}

INormEpilogue inorm_epilogue_unfused(const Tensor& e, const Tensor& inh, const Tensor& pooled) {
  const Tensor zd = sqrt(add_scalar(pooled, kEpsNorm));
  const Tensor z = div(sub(e, stop_grad(inh)), stop_grad(zd));
  const Tensor u = div(sub(stop_grad(e), inh), zd);
  return {z, add(square(row_mean(u)), square(add_scalar(row_var(u), -1.f)))};
}

}  // namespace dale
