// CUDA graphs of dale's one stream (the backend table's graph entries, framework/backend.h).
// Capture records every launch, copy and cuBLAS call queued on ctx().stream; the instantiated
// graph then replays all of them with one launch and the arguments they had when recorded.
//
// Capture mode ThreadLocal: this thread may not make a call that is unsafe during capture
// (cudaMalloc, a synchronization, a copy to pageable host memory) — such a call fails and the
// capture is abandoned, which is what we want, since a replay would silently skip it — while
// CUDA work of other threads is not affected. cuBLAS on the capturing stream is fine: the handle
// has its own workspace (context.cu), so it records no allocation of its own.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/graph_pool.h"
#include "cuda/kernels.h"

namespace dale::cuda {
namespace {

struct Graph {
  cudaGraphExec_t exec = nullptr;
  int pool = 0;  // the allocator's graph pool holding the buffers this graph replays into
};

// Ends the capture and the pool's filling; on failure the pool is released (nothing recorded
// ever ran, so its buffers are free to reuse) and the error thrown.
[[noreturn]] void abandon(int pool, const char* what, cudaError_t e) {
  cudaGetLastError();  // capture errors are not sticky, but a peeked one would resurface
  release_graph_pool(pool);
  fail(what, cudaGetErrorString(e), __FILE__, __LINE__);
}

int g_pool = 0;  // the pool of the capture in progress

}  // namespace

void graph_begin() {
  g_pool = begin_graph_pool();
  const cudaError_t e = cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    end_graph_pool();
    abandon(g_pool, "cudaStreamBeginCapture", e);
  }
}

void* graph_end() {
  cudaGraph_t g = nullptr;
  const cudaError_t e = cudaStreamEndCapture(stream(), &g);  // ends the capture even when it failed
  end_graph_pool();
  const int pool = g_pool;
  g_pool = 0;
  if (e != cudaSuccess || g == nullptr) abandon(pool, "cudaStreamEndCapture", e != cudaSuccess ? e : cudaErrorUnknown);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t ie = cudaGraphInstantiate(&exec, g, 0);
  const cudaError_t de = cudaGraphDestroy(g);  // the executable graph is independent of it
  if (ie != cudaSuccess) abandon(pool, "cudaGraphInstantiate", ie);
  if (de != cudaSuccess) {
    cudaGraphExecDestroy(exec);  // best effort: the error reported is the one above
    abandon(pool, "cudaGraphDestroy", de);
  }
  return new Graph{exec, pool};
}

void graph_launch(void* graph) {
  DALE_CHECK(graph != nullptr, "graph_launch: no graph");
  DALE_CUDA_CHECK(cudaGraphLaunch(static_cast<Graph*>(graph)->exec, stream()));
}

// A replay still running keeps its buffers until it ends: work queued later on the stream, the
// only one that may reuse them, starts after it.
void graph_destroy(void* graph) {
  if (!graph) return;
  const Graph g = *static_cast<Graph*>(graph);
  delete static_cast<Graph*>(graph);
  release_graph_pool(g.pool);
  DALE_CUDA_CHECK(cudaGraphExecDestroy(g.exec));
}

}  // namespace dale::cuda
