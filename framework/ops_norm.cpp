// Row normalizations (SPEC §5) and the error-normalization op G (SPEC §4). Both are ops with a
// hand-written backward kernel; the forward of G is the identity (it shares z's storage).
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

Tensor normalize(const Tensor& z, NormKind kind, bool detach) {
  DALE_RANGE("normalize");
  check_defined("normalize", z);
  if (z.cols() < 1) throw Error(fmt::format("normalize: input {} has no units", z.shape().str()));
  const Backend& be = backend(z.device());
  Tensor y = Tensor::empty(z.shape(), z.device());
  Tensor mu = Tensor::empty({z.rows()}, z.device()), rstd = Tensor::empty({z.rows()}, z.device());
  be.norm_forward(kind, z.rows(), z.cols(), z.data(), y.data(), mu.data(), rstd.data());
  if (needs_grad({z}))
    record(y, [z, kind, detach, mu, rstd](const Tensor& g) {
      float* dz = grad_of(z);
      if (!dz) return;
      const Backend& be = backend(g.device());
      if (detach) be.map(MapOp::Copy, g.numel(), g.data(), nullptr, nullptr, 0.f, 1.f, dz);
      else be.norm_backward(kind, z.rows(), z.cols(), g.data(), z.data(), mu.data(), rstd.data(), 1.f, dz);
    });
  return y;
}

Tensor error_normalize(const Tensor& z, ErrNorm mode, const Tensor& w) {
  DALE_RANGE("error_normalize");
  check_defined("error_normalize", z);
  if (mode == ErrNorm::FaCenter) {
    if (!w.defined() || w.numel() != z.cols())
      throw Error(fmt::format("error_normalize: fa_center needs {} weights for input {}, got {}",
                              z.cols(), z.shape().str(), w.defined() ? w.shape().str() : "none"));
    check_same_device("error_normalize", z, w);
  }
  // A new node over the same values: identity forward without a copy.
  Tensor y = z.detach();
  if (needs_grad({z}))
    record(y, [z, mode, w](const Tensor& g) {
      if (float* dz = grad_of(z))
        backend(g.device()).errnorm_backward(mode, z.rows(), z.cols(), g.data(), z.data(),
                                             w.defined() ? w.data() : nullptr, 1.f, dz);
    });
  return y;
}

}  // namespace dale
