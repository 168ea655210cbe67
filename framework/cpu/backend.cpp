// The CPU backend's table, and the registry that maps a Device to its table.
#include <cstring>
#include <mutex>

#include "framework/check.h"
#include "framework/cpu/kernels.h"

namespace dale {

static const Backend kCpuBackend = {
    .name = "cpu",
    .alloc = cpu::alloc,
    .free = cpu::free,
    .fill = cpu::fill,
    .copy = cpu::copy,
    .to_host = cpu::copy,
    .from_host = cpu::copy,
    .alloc_bytes = cpu::alloc_bytes,
    .free_bytes = cpu::free_bytes,
    .bytes_from_host = cpu::bytes_from_host,
    .gather_batch = cpu::gather_batch,
    .advance_cursor = cpu::advance_cursor,
    .gemm = cpu::gemm,
    .gemm_batched = cpu::gemm_batched,
    .map = cpu::map,
    .add_scalar_ptr = cpu::add_scalar_ptr,
    .add_rowvec = cpu::add_rowvec,
    .col_sum = cpu::col_sum,
    .row_mean = cpu::row_mean,
    .row_var = cpu::row_var,
    .row_mean_backward = cpu::row_mean_backward,
    .row_var_backward = cpu::row_var_backward,
    .sum_all = cpu::sum_all,
    .norm_forward = cpu::norm_forward,
    .norm_backward = cpu::norm_backward,
    .errnorm_backward = cpu::errnorm_backward,
    .inorm_forward = cpu::inorm_forward,
    .inorm_backward_task = cpu::inorm_backward_task,
    .inorm_backward_local = cpu::inorm_backward_local,
    .xent_forward = cpu::xent_forward,
    .xent_backward = cpu::xent_backward,
    .count_correct = cpu::count_correct,
    .sgd_update = cpu::sgd_update,
    .eg_update = cpu::eg_update,
    .adamw_update = cpu::adamw_update,
    .update_multi = cpu::update_multi,
    // No CUDA graphs on the CPU: the graph entries stay null.
    .graph_begin = nullptr,
    .graph_end = nullptr,
    .graph_launch = nullptr,
    .graph_destroy = nullptr,
};

static const Backend* cpu_probe() { return &kCpuBackend; }
static const Backend* (*g_probes[2])() = {cpu_probe, nullptr};
static const Backend* g_backends[2] = {&kCpuBackend, nullptr};
static std::once_flag g_probed[2];

void register_backend(Device d, const Backend* (*probe)()) { g_probes[int(d)] = probe; }

static const Backend* find_backend(Device d) {
  std::call_once(g_probed[int(d)], [d] {
    if (g_probes[int(d)]) g_backends[int(d)] = g_probes[int(d)]();
  });
  return g_backends[int(d)];
}
bool backend_available(Device d) { return find_backend(d) != nullptr; }

const Backend& backend(Device d) {
  if (!find_backend(d))
    throw InputError(fmt::format(
        "device {}: no backend available (dale was built without CUDA, or no GPU is present)",
        device_name(d)));
  return *g_backends[int(d)];
}

}  // namespace dale
