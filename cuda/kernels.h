// The CUDA kernels behind the backend table (framework/backend.h): the same signatures as the CPU
// reference, on device pointers, everything queued on ctx().stream. Implemented in memory.cu
// (alloc … bytes_from_host), batch.cu, gemm.cu, elementwise.cu (map, add_scalar_ptr,
// add_rowvec), reduce.cu, norm.cu (norm_*, errnorm_backward), inorm.cu (inorm_*), xent.cu (xent_*, count_correct),
// optim.cu (sgd/eg/adamw_update), optim_multi.cu (update_multi), graph.cu (graph_*).
#pragma once
#include "framework/backend.h"

namespace dale::cuda {

#include "framework/kernel_decls.inc"

void to_host(int64_t n, const float* x, float* host);  // synchronizes: the caller reads `host` next
void from_host(int64_t n, const float* host, float* y);
int64_t cached_bytes();  // held by the allocator's cache, free for reuse
int64_t graph_pool_bytes();  // reserved for CUDA graphs that exist (memory.cu), live or free

// CUDA graphs (graph.cu), the backend table's graph entries.
void graph_begin();
void* graph_end();
void graph_launch(void* graph);
void graph_destroy(void* graph);

}  // namespace dale::cuda
