// The multi-tensor optimizer update on the GPU: one launch updates many parameter tensors.
//
// The slot table travels as a kernel argument (__grid_constant__, up to 32 764 bytes since CUDA
// 12.1 on Volta and later), not as a device buffer: nothing is uploaded, allocated or cached, and
// a captured graph freezes the arguments exactly as it freezes the per-tensor kernels' pointers.
// Each slot owns a contiguous range of blocks; a block finds its slot by binary search over the
// ranges' starts and runs a grid-stride loop over that slot alone, with optim_math.h's
// per-element rules — the code the per-tensor kernels (optim.cu) and the CPU run.
#include <algorithm>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

struct Entry {
  UpdateSlot s;
  float step_size = 0.f;  // AdamW's bias-corrected step size, computed on the host as adamw_update does
  int64_t first_block = 0;
};

#if CUDART_VERSION >= 12010
constexpr size_t kParamBytes = 32764;
#else
constexpr size_t kParamBytes = 4096;
#endif
constexpr int kMaxEntries = int((kParamBytes - 16) / sizeof(Entry));
// Blocks per slot: enough to cover a hidden layer's weights (234 × 784) in one pass.
constexpr int64_t kMaxBlocksPerSlot = 1024;

struct Table {
  int32_t count;
  Entry e[kMaxEntries];
};
static_assert(sizeof(Table) <= kParamBytes, "the slot table must fit the kernel parameter limit");

__global__ void update_multi_kernel(__grid_constant__ const Table t) {
  int lo = 0, hi = t.count - 1;  // the last slot whose first block is ≤ this block
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (t.e[mid].first_block <= int64_t(blockIdx.x)) lo = mid;
    else hi = mid - 1;
  }
  const Entry& e = t.e[lo];
  const int64_t end = lo + 1 < t.count ? t.e[lo + 1].first_block : int64_t(gridDim.x);
  const int64_t stride = (end - e.first_block) * blockDim.x;
  const UpdateSlot& s = e.s;
  for (int64_t i = (int64_t(blockIdx.x) - e.first_block) * blockDim.x + threadIdx.x; i < s.n; i += stride) {
    if (s.rule == UpdateRule::AdamW) {
      adamw_element(s.p[i], s.g[i], s.m[i], s.v[i], s.a, e.step_size);
    } else {  // SGD, or EG (the host set a.exponentiated for UpdateRule::EG)
      float unused = 0.f;  // v is null without momentum (the host then set momentum 0)
      descent_element(s.p[i], s.g[i], s.v ? s.v[i] : unused, s.a);
    }
  }
}

}  // namespace

void update_multi(int64_t count, const UpdateSlot* slots) {
  Table t;  // ~32 KB on the host stack, once per call
  int64_t blocks = 0;
  auto launch = [&] {
    if (t.count == 0) return;
    update_multi_kernel<<<unsigned(blocks), kBlock, 0, stream()>>>(t);
    DALE_LAUNCH_CHECK(update_multi_kernel);
    t.count = 0;
    blocks = 0;
  };
  t.count = 0;
  for (int64_t i = 0; i < count; ++i) {
    const UpdateSlot& s = slots[i];
    if (s.n <= 0) continue;
    if (t.count == kMaxEntries) launch();
    Entry& e = t.e[t.count++];
    e.s = s;
    // The per-tensor entries' argument rules (optim.cu): EG is sgd_update with a.exponentiated
    // and no buffer; no buffer means no momentum.
    if (s.rule == UpdateRule::EG) {
      e.s.a.exponentiated = true;
      e.s.v = nullptr;
    }
    if (s.rule != UpdateRule::AdamW && !e.s.v) e.s.a.momentum = 0.f;
    e.step_size = s.rule == UpdateRule::AdamW ? adamw_step_size(s.a) : 0.f;
    e.first_block = blocks;
    blocks += std::min<int64_t>(kMaxBlocksPerSlot, (s.n + kBlock - 1) / kBlock);
  }
  launch();
}

}  // namespace dale::cuda
