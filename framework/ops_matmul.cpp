// matmul and linear. For C = op_a(A) · op_b(B) the backward is
//   d op_a(A) = dC · op_b(B)ᵀ,   d op_b(B) = op_a(A)ᵀ · dC,
// written as GEMMs that accumulate (beta = 1) straight into A's and B's gradients.
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

// Two stacks [S, ·, ·]: S products, one batched GEMM forward and one per gradient.
static Tensor matmul_stacked(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const int64_t S = a.shape().d[0];
  const int64_t ar = a.shape().d[1], ac = a.shape().d[2], br = b.shape().d[1], bc = b.shape().d[2];
  const int64_t M = ta ? ac : ar, K = ta ? ar : ac, Kb = tb ? bc : br, N = tb ? br : bc;
  if (b.shape().d[0] != S || K != Kb)
    throw Error(fmt::format("matmul: stacks {}{} · {}{} differ in size or inner dimension", a.shape().str(),
                            ta ? "ᵀ" : "", b.shape().str(), tb ? "ᵀ" : ""));
  const int64_t sa = ar * ac, sb = br * bc, sc = M * N;
  Tensor c = Tensor::empty({S, M, N}, a.device());
  backend(a.device()).gemm_batched(ta, tb, M, N, K, 1.f, a.data(), ac, sa, b.data(), bc, sb, 0.f, c.data(), N, sc,
                                   S);
  if (needs_grad({a, b}))
    record(c, [a, b, ta, tb, M, N, K, S, ac, bc, sa, sb, sc](const Tensor& dc) {
      const Backend& be = backend(dc.device());
      if (float* da = grad_of(a)) {  // the same products as matmul's, per slice
        if (!ta)
          be.gemm_batched(false, !tb, M, K, N, 1.f, dc.data(), N, sc, b.data(), bc, sb, 1.f, da, ac, sa, S);
        else
          be.gemm_batched(tb, true, K, M, N, 1.f, b.data(), bc, sb, dc.data(), N, sc, 1.f, da, ac, sa, S);
      }
      if (float* db = grad_of(b)) {
        if (!tb)
          be.gemm_batched(!ta, false, K, N, M, 1.f, a.data(), ac, sa, dc.data(), N, sc, 1.f, db, bc, sb, S);
        else
          be.gemm_batched(true, ta, N, K, M, 1.f, dc.data(), N, sc, a.data(), ac, sa, 1.f, db, bc, sb, S);
      }
    });
  return c;
}

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  DALE_RANGE("matmul");
  check_defined("matmul", a);
  check_defined("matmul", b);
  check_same_device("matmul", a, b);
  const int ra = a.shape().rank, rb = b.shape().rank;
  if (ra == 3 && rb == 3) return matmul_stacked(a, b, ta, tb);
  if (!((ra == 2 || (ra == 3 && !ta)) && rb == 2))
    throw Error(fmt::format("matmul: needs two matrices, two stacks, or a stack times a matrix; got "
                            "shapes {}{} and {}{}",
                            a.shape().str(), ta ? "ᵀ" : "", b.shape().str(), tb ? "ᵀ" : ""));
  // A stack times a matrix is the stack's rows times the matrix: one GEMM, the stack kept.
  const int64_t M = ta ? a.cols() : a.rows(), K = ta ? a.rows() : a.cols();
  const int64_t Kb = tb ? b.cols() : b.rows(), N = tb ? b.rows() : b.cols();
  if (K != Kb)
    throw Error(fmt::format("matmul: inner dimensions differ: {}{} · {}{} ({} vs {})",
                            a.shape().str(), ta ? "ᵀ" : "", b.shape().str(), tb ? "ᵀ" : "", K, Kb));
  Tensor c = Tensor::empty(ra == 3 ? Shape{a.shape().d[0], a.shape().d[1], N} : Shape{M, N}, a.device());
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
