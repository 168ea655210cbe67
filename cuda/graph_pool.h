// The caching allocator's side of CUDA-graph capture (implemented in memory.cu, used by graph.cu).
// A captured graph replays into the very buffers the capture was given, long after the host has
// "freed" them: so from begin_graph_pool to end_graph_pool every block taken or freed joins a new
// private pool, whose blocks only that capture may take again, and which no other allocation gets
// until release_graph_pool (when the graph is destroyed). While capturing, a request the cache
// cannot serve throws instead of calling cudaMalloc (not allowed during capture): an eager step
// run before the capture fills the cache.
#pragma once

namespace dale::cuda {

int begin_graph_pool();  // returns the new pool's id; one capture, and one live graph, at a time
void end_graph_pool();
void release_graph_pool(int pool);  // its free blocks go back to the cache, its live ones will on free

}  // namespace dale::cuda
