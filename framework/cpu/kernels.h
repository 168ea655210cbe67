// The CPU reference kernels: the oracle every other backend is checked against. Plain loops
// (double accumulation in reductions) and OpenBLAS for GEMM. Each is a Backend table entry.
#pragma once
#include "framework/backend.h"

namespace dale::cpu {

float* alloc(int64_t n);
void free(float* p);
void fill(int64_t n, float value, float* y);
void copy(int64_t n, const float* x, float* y);
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void map(MapOp op, int64_t n, const float* a, const float* b, const float* c, float s, float beta,
         float* y);
void add_scalar_ptr(int64_t n, const float* s, float alpha, float* y);

void add_rowvec(int64_t rows, int64_t cols, const float* x, const float* v, float* y);
void col_sum(int64_t rows, int64_t cols, const float* x, float beta, float* out);
void row_mean(int64_t rows, int64_t cols, const float* x, float* out);
void row_var(int64_t rows, int64_t cols, const float* x, float* out);
void row_mean_backward(int64_t rows, int64_t cols, const float* g, float* dx);
void row_var_backward(int64_t rows, int64_t cols, const float* g, const float* x, float* dx);
void sum_all(int64_t n, const float* x, float* out);

void norm_forward(NormKind k, int64_t rows, int64_t cols, const float* z, float* y, float* mu,
                  float* rstd);
void norm_backward(NormKind k, int64_t rows, int64_t cols, const float* g, const float* z,
                   const float* mu, const float* rstd, float beta, float* dz);
void errnorm_backward(ErrNorm m, int64_t rows, int64_t cols, const float* g, const float* z,
                      const float* w, float beta, float* dz);

void xent_forward(int64_t rows, int64_t classes, const float* logits, const float* labels,
                  float smoothing, float* loss_rows, float* probs);
void xent_backward(int64_t rows, int64_t classes, const float* probs, const float* labels,
                   float smoothing, const float* g, float scale, float* dlogits);
void count_correct(int64_t rows, int64_t classes, const float* logits, const float* labels,
                   float* out);

void sgd_update(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a);
void eg_update(int64_t n, float* p, const float* g, const UpdateArgs& a);
void adamw_update(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a);

// Row statistics in double: μ and population variance of one row (shared by several kernels).
void row_moments(const float* x, int64_t cols, double& mean, double& var);

}  // namespace dale::cpu
