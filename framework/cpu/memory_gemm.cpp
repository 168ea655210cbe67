// CPU memory (64-byte aligned, so BLAS and vector loops see aligned rows) and GEMM via CBLAS.
#include <cblas.h>

#include <cstdlib>
#include <cstring>

#include "framework/check.h"
#include "framework/cpu/kernels.h"

namespace dale::cpu {

float* alloc(int64_t n) {
  const size_t bytes = ((size_t(n) * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  DALE_CHECK(p != nullptr, "out of host memory allocating {} floats", n);
  return static_cast<float*>(p);
}
void free(float* p) { std::free(p); }
void fill(int64_t n, float value, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}
void copy(int64_t n, const float* x, float* y) {
  if (n > 0 && x != y) std::memcpy(y, x, size_t(n) * sizeof(float));
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS leaves C untouched-ish when K = 0; make beta's meaning explicit
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

// A loop of single GEMMs: each model's product is then bit-identical to the same product of a
// lone network (what the ensemble tests compare).
void gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                  float beta, float* C, int64_t ldc, int64_t stride_c, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i)
    gemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
}

}  // namespace dale::cpu
