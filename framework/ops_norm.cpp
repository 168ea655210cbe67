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
  // A stack's models each have their own fa_center weights (K·cols, model k's for slice k).
  const int64_t K = stack_size(z);
  if (mode == ErrNorm::FaCenter) {
    if (!w.defined() || w.numel() != z.cols() * K)
      throw Error(fmt::format("error_normalize: fa_center needs {} weights for input {}, got {}",
                              z.cols() * K, z.shape().str(), w.defined() ? w.shape().str() : "none"));
    check_same_device("error_normalize", z, w);
  }
  // A new node over the same values: identity forward without a copy.
  Tensor y = z.detach();
  if (needs_grad({z}))
    record(y, [z, mode, w, K](const Tensor& g) {
      float* dz = grad_of(z);
      if (!dz) return;
      const Backend& be = backend(g.device());
      if (!w.defined())  // row-wise: the stack is just more rows
        return be.errnorm_backward(mode, z.rows(), z.cols(), g.data(), z.data(), nullptr, 1.f, dz);
      const int64_t rows = z.rows() / K, n = rows * z.cols();
      for (int64_t k = 0; k < K; ++k)
        be.errnorm_backward(mode, rows, z.cols(), g.data() + k * n, z.data() + k * n, w.data() + k * z.cols(),
                            1.f, dz + k * n);
    });
  return y;
}

}  // namespace dale
