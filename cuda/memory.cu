// GPU memory: a caching allocator and the copies. cudaMalloc and cudaFree synchronize the device,
// so after the first training step no step may call them: a freed buffer goes back to a free list
// of its size class and the next request of that class takes the most recently freed one. A step
// that allocates the same sizes in the same order as the previous one therefore gets the same
// addresses — the step arena of DESIGN.md, and what a captured CUDA graph needs.
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

// Size classes: multiples of 512 bytes up to 1 MiB, then of 2 MiB (bounded waste, and a large
// request never rounds up to far more than it needs).
size_t size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= (1u << 20)) return (bytes + 511) / 512 * 512;
  const size_t two_mib = size_t(2) << 20;
  return (bytes + two_mib - 1) / two_mib * two_mib;
}

struct Cache {
  std::mutex m;
  std::map<size_t, std::vector<void*>> free;  // size class → buffers, most recently freed last
  std::unordered_map<void*, size_t> live;     // buffer → its size class
  int64_t cached = 0;
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: Storage may be freed at static destruction
  return *c;
}

void* take(size_t bytes) {
  ctx();
  const size_t cls = size_class(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  auto it = c.free.find(cls);
  void* p = nullptr;
  if (it != c.free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.cached -= int64_t(cls);
  } else {
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {  // release the cache and try once more
      cudaGetLastError();
      DALE_CUDA_CHECK(cudaStreamSynchronize(stream()));
      const auto lists = std::move(c.free);  // emptied first: a failing cudaFree leaves no stale entry
      c.free.clear();
      c.cached = 0;
      for (const auto& [k, v] : lists)
        for (void* q : v) DALE_CUDA_CHECK(cudaFree(q));
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();  // a caught failure must not resurface at the next, unrelated launch check
      fail("cudaMalloc", fmt::format("{} bytes: {}", cls, cudaGetErrorString(e)).c_str(), __FILE__, __LINE__);
    }
  }
  c.live[p] = cls;
  return p;
}

void give_back(void* p) {
  if (!p) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  auto it = c.live.find(p);
  DALE_CHECK(it != c.live.end(), "cuda free: {} was not allocated by dale", p);
  c.free[it->second].push_back(p);
  c.cached += int64_t(it->second);
  c.live.erase(it);
}

__global__ void fill_kernel(int64_t n, float value, float* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = value;
}

}  // namespace

float* alloc(int64_t n) { return static_cast<float*>(take(size_t(n) * sizeof(float))); }
void free(float* p) { give_back(p); }
void* alloc_bytes(int64_t bytes) { return take(size_t(bytes)); }
void free_bytes(void* p) { give_back(p); }
int64_t cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().m);
  return cache().cached;
}

void fill(int64_t n, float value, float* y) {
  if (n <= 0) return;
  fill_kernel<<<grid_for(n), kBlock, 0, stream()>>>(n, value, y);
  DALE_LAUNCH_CHECK(fill_kernel);
}
void copy(int64_t n, const float* x, float* y) {
  if (n <= 0 || x == y) return;
  DALE_CUDA_CHECK(cudaMemcpyAsync(y, x, size_t(n) * sizeof(float), cudaMemcpyDeviceToDevice, stream()));
}
void to_host(int64_t n, const float* x, float* host) {
  if (n <= 0) return;
  DALE_CUDA_CHECK(cudaMemcpyAsync(host, x, size_t(n) * sizeof(float), cudaMemcpyDeviceToHost, stream()));
  DALE_CUDA_CHECK(cudaStreamSynchronize(stream()));  // the caller reads `host` next
}
void from_host(int64_t n, const float* host, float* y) {
  bytes_from_host(int64_t(size_t(n) * sizeof(float)), host, y);
}
void bytes_from_host(int64_t bytes, const void* host, void* dst) {
  if (bytes <= 0) return;
  DALE_CUDA_CHECK(cudaMemcpyAsync(dst, host, size_t(bytes), cudaMemcpyHostToDevice, stream()));
  // The host buffer may be a temporary that dies right after this call: wait for the copy.
  DALE_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace dale::cuda
