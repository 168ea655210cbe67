// GEMM through cuBLAS. dale's matrices are row-major and cuBLAS is column-major; a row-major
// C = op(A)·op(B) is the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a row-major X read as column-major
// is Xᵀ. So: swap the operands, swap M and N, keep each operand's transpose flag and its
// leading dimension (the row-major row length).
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cublas_api.h"
#include "cuda/kernels.h"

namespace dale::cuda {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // C = beta·C, as the CPU reference defines it (beta = 0 overwrites, even NaN)
    if (beta == 0.f) {
      if (ldc == N) return fill(M * N, 0.f, C);
      for (int64_t i = 0; i < M; ++i) fill(N, 0.f, C + i * ldc);
    } else {
      for (int64_t i = 0; i < M; ++i) map(MapOp::Scale, N, C + i * ldc, nullptr, nullptr, beta, 0.f, C + i * ldc);
    }
    return;
  }
  DALE_CHECK(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX, "gemm: {}×{}×{} is too large for cuBLAS", M, N, K);
  DALE_CUBLAS_CHECK(cublas_api().sgemm(ctx().cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                int(N), int(M), int(K), &alpha, B, int(ldb), A, int(lda), &beta, C, int(ldc)));
}

// One cuBLAS call for an ensemble's `batch` products (the same operand swap as gemm).
void gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                  float beta, float* C, int64_t ldc, int64_t stride_c, int64_t batch) {
  if (batch <= 0 || M == 0 || N == 0) return;
  if (batch == 1 || K == 0) {
    for (int64_t i = 0; i < batch; ++i)
      gemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
    return;
  }
  DALE_CHECK(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX && batch <= INT32_MAX,
             "gemm_batched: {}×{}×{} ×{} is too large for cuBLAS", M, N, K, batch);
  DALE_CUBLAS_CHECK(cublas_api().sgemm_strided_batched(
      ctx().cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M), int(K), &alpha,
      B, int(ldb), stride_b, A, int(lda), stride_a, &beta, C, int(ldc), stride_c, int(batch)));
}

}  // namespace dale::cuda
