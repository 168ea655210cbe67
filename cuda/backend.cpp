// The CUDA backend's table, its registration, and the NVTX hooks of DALE_RANGE (host code, built
// by the host compiler). Registration runs at static initialization but only stores a probe: CUDA
// is first touched when a run asks for Device::CUDA, so CPU runs of a CUDA build never pay for
// driver start-up.
#include <nvtx3/nvToolsExt.h>

#include <cstdio>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"
#include "framework/trace.h"

namespace dale::cuda {
namespace {

const Backend kCudaBackend = {
    .name = "cuda",
    .alloc = alloc,
    .free = free,
    .fill = fill,
    .copy = copy,
    .to_host = to_host,
    .from_host = from_host,
    .alloc_bytes = alloc_bytes,
    .free_bytes = free_bytes,
    .bytes_from_host = bytes_from_host,
    .gather_batch = gather_batch,
    .advance_cursor = advance_cursor,
    .gemm = gemm,
    .gemm_batched = gemm_batched,
    .map = map,
    .add_scalar_ptr = add_scalar_ptr,
    .add_rowvec = add_rowvec,
    .col_sum = col_sum,
    .row_mean = row_mean,
    .row_var = row_var,
    .row_mean_backward = row_mean_backward,
    .row_var_backward = row_var_backward,
    .sum_all = sum_all,
    .norm_forward = norm_forward,
    .norm_backward = norm_backward,
    .errnorm_backward = errnorm_backward,
    .inorm_forward = inorm_forward,
    .inorm_backward_task = inorm_backward_task,
    .inorm_backward_local = inorm_backward_local,
    .xent_forward = xent_forward,
    .xent_backward = xent_backward,
    .count_correct = count_correct,
    .sgd_update = sgd_update,
    .eg_update = eg_update,
    .adamw_update = adamw_update,
    .update_multi = update_multi,
    .graph_begin = graph_begin,
    .graph_end = graph_end,
    .graph_launch = graph_launch,
    .graph_destroy = graph_destroy,
};

void nvtx_push(const char* name) { nvtxRangePushA(name); }
void nvtx_pop() { nvtxRangePop(); }

const Backend* probe() {
  if (device_count() == 0) return nullptr;
  try {
    ctx();
  } catch (const Error& e) {  // a GPU that does not start: say why, and run as if there were none
    std::fprintf(stderr, "dale: the CUDA device does not start: %s\n", e.what());
    return nullptr;
  }
  g_trace = {nvtx_push, nvtx_pop};
  return &kCudaBackend;
}

const int registered = (register_backend(Device::CUDA, probe), 0);

}  // namespace
}  // namespace dale::cuda
