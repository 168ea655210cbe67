// GPU memory: a caching allocator and the copies. cudaMalloc and cudaFree synchronize the device,
// so after the first training step no step may call them: a freed buffer goes back to a free list
// of its size class and the next request of that class takes the most recently freed one. A step
// that allocates the same sizes in the same order as the previous one therefore gets the same
// addresses — the step arena of DESIGN.md. A captured CUDA graph also needs its buffers kept for
// it after the host frees them: the graph pools of cuda/graph_pool.h.
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/graph_pool.h"
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

using FreeLists = std::map<size_t, std::vector<void*>>;  // size class → buffers, most recently freed last

// Blocks reserved for one CUDA graph (cuda/graph_pool.h).
struct Pool {
  FreeLists free;
  int64_t bytes = 0;  // every block of the pool, live or free
};

struct Block {
  size_t cls;
  int pool;  // 0: the shared cache; else the graph pool it belongs to
};

struct Cache {
  std::mutex m;
  FreeLists free;                          // the shared cache
  std::unordered_map<void*, Block> live;   // buffer → its size class and pool
  std::map<int, Pool> pools;
  int capturing = 0;                       // the pool being filled by a capture, 0 when none
  int next_pool = 1;
  int64_t cached = 0;                      // bytes in `free`
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: Storage may be freed at static destruction
  return *c;
}

void* pop(FreeLists& lists, size_t cls) {
  auto it = lists.find(cls);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  return p;
}

// A fresh buffer from the driver (never while capturing); on failure, the shared cache is
// released and the request tried once more.
void* device_malloc(Cache& c, size_t cls) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, cls);
  if (e == cudaErrorMemoryAllocation) {
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
  return p;
}

void* take(size_t bytes) {
  ctx();
  const size_t cls = size_class(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  void* p = nullptr;
  if (c.capturing) {  // the capture's own freed blocks first, then the shared cache's
    Pool& pool = c.pools.at(c.capturing);
    p = pop(pool.free, cls);
    if (!p && (p = pop(c.free, cls))) {
      c.cached -= int64_t(cls);
      pool.bytes += int64_t(cls);
    }
    if (!p)
      throw Error(fmt::format("CUDA graph capture: no cached buffer of {} bytes, and cudaMalloc is not allowed "
                              "while capturing; run the step eagerly until it allocates nothing new first",
                              cls));
    c.live[p] = {cls, c.capturing};
    return p;
  }
  if ((p = pop(c.free, cls))) c.cached -= int64_t(cls);
  else p = device_malloc(c, cls);
  c.live[p] = {cls, 0};
  return p;
}

void give_back(void* p) {
  if (!p) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  auto it = c.live.find(p);
  DALE_CHECK(it != c.live.end(), "cuda free: {} was not allocated by dale", p);
  Block b = it->second;
  c.live.erase(it);
  if (b.pool == 0 && c.capturing) {  // a buffer the capture may have read: the graph keeps it
    b.pool = c.capturing;
    c.pools.at(b.pool).bytes += int64_t(b.cls);
  }
  if (b.pool) {
    c.pools.at(b.pool).free[b.cls].push_back(p);
  } else {
    c.free[b.cls].push_back(p);
    c.cached += int64_t(b.cls);
  }
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
int64_t graph_pool_bytes() {
  std::lock_guard<std::mutex> lock(cache().m);
  int64_t n = 0;
  for (const auto& [id, pool] : cache().pools) n += pool.bytes;
  return n;
}

int begin_graph_pool() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  DALE_CHECK(c.capturing == 0, "CUDA graph capture: a capture is already in progress");
  // One live graph at a time: a block of a live pool freed while another graph records would join
  // that recording's pool only if pools could nest; they cannot, so refuse rather than risk a block
  // going back to the shared cache while a graph still writes it.
  DALE_CHECK(c.pools.empty(), "CUDA graph capture: another graph is still alive (reset it first)");
  c.capturing = c.next_pool++;
  c.pools[c.capturing];
  return c.capturing;
}
void end_graph_pool() {
  std::lock_guard<std::mutex> lock(cache().m);
  cache().capturing = 0;
}
// The graph is gone (its last replay is queued before any later use of these buffers, on the one
// stream): its free blocks return to the shared cache, its live ones on their free.
void release_graph_pool(int id) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  auto it = c.pools.find(id);
  if (it == c.pools.end()) return;
  for (auto& [cls, v] : it->second.free) {
    c.free[cls].insert(c.free[cls].end(), v.begin(), v.end());
    c.cached += int64_t(cls) * int64_t(v.size());
  }
  for (auto& [p, b] : c.live)
    if (b.pool == id) b.pool = 0;
  c.pools.erase(it);
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
