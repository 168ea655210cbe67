// The CPU reference kernels: the oracle every other backend is checked against. Plain loops
// (double accumulation in reductions) and OpenBLAS for GEMM. Each is a Backend table entry.
#pragma once
#include "framework/backend.h"

namespace dale::cpu {

// alloc, gemm, map, … norm_forward, … sgd_update: one per table entry.
#include "framework/kernel_decls.inc"

// Row statistics in double: μ and population variance of one row (shared by several kernels).
void row_moments(const float* x, int64_t cols, double& mean, double& var);

}  // namespace dale::cpu
