// matmul and linear. For C = op_a(A) · op_b(B) the backward is
//   d op_a(A) = dC · op_b(B)ᵀ,   d op_b(B) = op_a(A)ᵀ · dC,
// written as GEMMs that accumulate (beta = 1) straight into A's and B's gradients.
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  DALE_RANGE("matmul");
  check_defined("matmul", a);
  check_defined("matmul", b);
  check_same_device("matmul", a, b);
  if (a.shape().rank != 2 || b.shape().rank != 2)
    throw Error(fmt::format("matmul: needs two matrices, got shapes {} and {}", a.shape().str(),
                            b.shape().str()));
  const int64_t M = ta ? a.cols() : a.rows(), K = ta ? a.rows() : a.cols();
  const int64_t Kb = tb ? b.cols() : b.rows(), N = tb ? b.rows() : b.cols();
  if (K != Kb)
    throw Error(fmt::format("matmul: inner dimensions differ: {}{} · {}{} ({} vs {})",
                            a.shape().str(), ta ? "ᵀ" : "", b.shape().str(), tb ? "ᵀ" : "", K, Kb));
  Tensor c = Tensor::empty({M, N}, a.device());
  const Backend& be = backend(a.device());
  be.gemm(ta, tb, M, N, K, 1.f, a.data(), a.cols(), b.data(), b.cols(), 0.f, c.data(), N);
  if (needs_grad({a, b})) {
    record(c, [a, b, ta, tb, M, N, K](const Tensor& dc) {
      const Backend& be = backend(dc.device());
      if (float* da = grad_of(a)) {
        if (!ta)  // dA = dC · op_b(B)ᵀ            (M × K)
          be.gemm(false, !tb, M, K, N, 1.f, dc.data(), N, b.data(), b.cols(), 1.f, da, a.cols());
        else  // dA = op_b(B) · dCᵀ                  (K × M)
          be.gemm(tb, true, K, M, N, 1.f, b.data(), b.cols(), dc.data(), N, 1.f, da, a.cols());
      }
      if (float* db = grad_of(b)) {
        if (!tb)  // dB = op_a(A)ᵀ · dC             (K × N)
          be.gemm(!ta, false, K, N, M, 1.f, a.data(), a.cols(), dc.data(), N, 1.f, db, b.cols());
        else  // dB = dCᵀ · op_a(A)                  (N × K)
          be.gemm(true, ta, N, K, M, 1.f, dc.data(), N, a.data(), a.cols(), 1.f, db, b.cols());
      }
    });
  }
  return c;
}

Tensor linear(const Tensor& x, const Tensor& W) { return matmul(x, W, false, true); }

}  // namespace dale
