// The backend table: every kernel dale runs, as plain function pointers (ggml's design). The CPU
// backend (framework/cpu/) is the reference; the CUDA backend (cuda/) fills the same table. Ops
// and the tape call kernels only through this table and never branch on the device.
//
// Conventions: matrices are row-major, `rows × cols`; pointers are device pointers of the
// backend's device; scalars that are results (losses, counts) stay in device memory so a step
// never synchronizes; `beta` = 0 overwrites the output, 1 accumulates into it.
#pragma once
#include <cstdint>

#include "framework/math.h"
#include "framework/optim_math.h"
#include "framework/tensor.h"

namespace dale {


// The jitter of one batch: δ = shift for every image if `fixed`, else δ ~ U(−eps, eps) keyed by
// (seed, epoch, sample) (datasets/jitter.h).
struct BatchJitter {
  float eps = 0, shift = 0;
  bool fixed = false;
  uint64_t seed = 0;
  uint32_t epoch = 0;
};

// One parameter tensor's update in a multi-tensor call (Backend::update_multi): the rule, its n
// values p (updated in place), gradient g, state v (momentum, or AdamW's second moment; null =
// none) and m (AdamW's first moment), and its arguments — what the per-tensor entry would be given.
// SGD runs EG too where a.exponentiated (optim_math.h's descent_element, with its momentum buffer);
// EG is that rule without a buffer (eg_update).
enum class UpdateRule : int32_t { SGD, EG, AdamW };
struct UpdateSlot {
  UpdateRule rule = UpdateRule::SGD;
  int64_t n = 0;
  float* p = nullptr;
  const float* g = nullptr;
  float* v = nullptr;
  float* m = nullptr;
  UpdateArgs a;
};

struct Backend {
  const char* name;

  // memory
  float* (*alloc)(int64_t n);
  void (*free)(float* p);
  void (*fill)(int64_t n, float value, float* y);
  void (*copy)(int64_t n, const float* x, float* y);          // within this device
  void (*to_host)(int64_t n, const float* x, float* host);
  void (*from_host)(int64_t n, const float* host, float* y);

  // Raw bytes, for data that is not float32 (the uint8 dataset, int64 sample orders): they live
  // on the backend's device, copied there once.
  void* (*alloc_bytes)(int64_t bytes);
  void (*free_bytes)(void* p);
  void (*bytes_from_host)(int64_t bytes, const void* host, void* dst);

  // One batch (SPEC §1) from a dataset on this device: for i < B, s = order[start + i],
  //   x[i, k] = jitter_pixel(images[s·dim + k], δ_s), y[i] = labels[s] (as float),
  // δ_s = j.shift if j.fixed, else jitter_delta(seed, epoch, s, j.eps) — datasets/jitter.h's code.
  // `start` is a device int64 read when the kernel runs (null = 0), not a host value: a
  // captured step replays the same launch, and the cursor it reads selects each replay's batch.
  void (*gather_batch)(int64_t B, int64_t dim, const uint8_t* images, const uint8_t* labels,
                       const int64_t* order, const int64_t* start, const BatchJitter& j, float* x,
                       float* y);
  // cursor[0] += by, on the device, in stream order (moves a batch cursor past its batch).
  void (*advance_cursor)(int64_t* cursor, int64_t by);

  // C = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ; A is M×K after op, B is K×N.
  void (*gemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc);
  // `batch` independent GEMMs of those shapes (an ensemble's models): operand i of A, B and C
  // starts at A + i·stride_a, B + i·stride_b, C + i·stride_c.
  void (*gemm_batched)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                       int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                       int64_t batch);

  // y = beta·y + apply_map(op, a, b, c, s) elementwise; b, c may be null when op ignores them.
  void (*map)(MapOp op, int64_t n, const float* a, const float* b, const float* c, float s,
              float beta, float* y);
  // y[i] += alpha · s[0] for all i (broadcast of a device scalar; backward of full reductions).
  void (*add_scalar_ptr)(int64_t n, const float* s, float alpha, float* y);

  // Broadcasts and reductions over a rows × cols matrix. add_rowvec and col_sum take `batch`
  // such matrices stacked (an ensemble's models, 1 for one network), each with its own vector:
  // y[b, r, k] = x[b, r, k] + v[b, k];  out[b, k] = beta·out[b, k] + Σ_r x[b, r, k].
  void (*add_rowvec)(int64_t batch, int64_t rows, int64_t cols, const float* x, const float* v, float* y);
  void (*col_sum)(int64_t batch, int64_t rows, int64_t cols, const float* x, float beta, float* out);
  void (*row_mean)(int64_t rows, int64_t cols, const float* x, float* out);             // out[rows]
  void (*row_var)(int64_t rows, int64_t cols, const float* x, float* out);  // population variance
  // dx += g[r] / cols            (backward of row_mean)
  void (*row_mean_backward)(int64_t rows, int64_t cols, const float* g, float* dx);
  // dx += g[r] · 2 (x − μ_r) / cols   (backward of row_var)
  void (*row_var_backward)(int64_t rows, int64_t cols, const float* g, const float* x, float* dx);
  void (*sum_all)(int64_t n, const float* x, float* out);  // out[0] = Σ x

  // Row normalizations (SPEC §5): y, and the row statistics μ and 1/σ kept for the backward.
  void (*norm_forward)(NormKind k, int64_t rows, int64_t cols, const float* z, float* y, float* mu,
                       float* rstd);
  // dz = beta·dz + exact backward of norm_forward at z for incoming g.
  void (*norm_backward)(NormKind k, int64_t rows, int64_t cols, const float* g, const float* z,
                        const float* mu, const float* rstd, float beta, float* dz);
  // The error-normalization backwards of SPEC §4: dz = beta·dz + G'(g; z); w is FaCenter's
  // fixed weights (length cols), null otherwise.
  void (*errnorm_backward)(ErrNorm m, int64_t rows, int64_t cols, const float* g, const float* z,
                           const float* w, float beta, float* dz);

  // The I-Norm layer's epilogue (SPEC §2.3, §3) fused over rows × cols (framework/inorm_math.h):
  // z = (e − inh) / zd with zd = sqrt(pooled + ε_norm), and per row the local-loss term
  // terms[r] = mean_k(z)² + (var_k(z) − 1)² (u = z in value; only their gradients differ).
  void (*inorm_forward)(int64_t rows, int64_t cols, const float* e, const float* inh, const float* pooled,
                        float* z, float* terms);
  // Task path, z = (e − sg(inh)) / sg(zd): de += gz / zd.
  void (*inorm_backward_task)(int64_t rows, int64_t cols, const float* gz, const float* pooled, float* de);
  // Local path, u = (sg(e) − inh) / zd, from the terms' gradient gt (one per row) and z = u:
  // dinh += ∂/∂inh, dpooled += ∂/∂pooled (either may be null).
  void (*inorm_backward_local)(int64_t rows, int64_t cols, const float* gt, const float* z, const float* pooled,
                               float* dinh, float* dpooled);

  // Softmax cross-entropy with label smoothing; labels are class ids stored as floats.
  // Forward writes the per-row loss and the softmax probabilities.
  void (*xent_forward)(int64_t rows, int64_t classes, const float* logits, const float* labels,
                       float smoothing, float* loss_rows, float* probs);
  // dlogits[r] += g[r / group_rows] · scale · (p − t): g is the device gradient of the reduced
  // loss, one value per group of rows (per model of a stack; group_rows = rows for one network).
  void (*xent_backward)(int64_t rows, int64_t classes, const float* probs, const float* labels,
                        float smoothing, const float* g, int64_t group_rows, float scale,
                        float* dlogits);
  // out[0] = number of rows whose arg-max equals the label.
  void (*count_correct)(int64_t rows, int64_t classes, const float* logits, const float* labels,
                        float* out);

  // Optimizer updates (SPEC §8) of one parameter tensor, in place.
  void (*sgd_update)(int64_t n, float* p, const float* g, float* v, const UpdateArgs& a);
  void (*eg_update)(int64_t n, float* p, const float* g, const UpdateArgs& a);
  void (*adamw_update)(int64_t n, float* p, const float* g, float* m, float* v, const UpdateArgs& a);
  // Every slot's update, with the same result as the per-tensor entry for each slot in turn (no
  // two slots may share a buffer they write). One kernel launch on CUDA for a few hundred slots:
  // an ensemble's K optimizers make one call per step instead of K × (number of parameters).
  // `slots` is a host array, read before the call returns; on CUDA its contents become kernel
  // arguments, so a captured graph replays them as they were.
  void (*update_multi)(int64_t count, const UpdateSlot* slots);

  // CUDA graphs: null on the CPU, which has none (framework/step_graph.h runs the step directly).
  // Between graph_begin and graph_end every kernel, copy and cuBLAS call is recorded instead of
  // run, and no host synchronization, host read or fresh device allocation may happen (each
  // throws). Every buffer allocated or freed while recording joins the graph's private memory
  // pool, never handed to another allocation while the graph exists, since replays write it.
  // graph_end returns the instantiated graph (or throws, the capture abandoned); graph_launch
  // queues one replay; graph_destroy frees the graph and returns its pool to the cache.
  void (*graph_begin)();
  void* (*graph_end)();
  void (*graph_launch)(void* graph);
  void (*graph_destroy)(void* graph);
};

const Backend& backend(Device d);
// The CUDA backend registers a probe here when libdale_cuda is linked (at static initialization,
// without touching the driver). The probe runs once, on first use of the device, and returns the
// table, or null when no GPU is present — so a CPU-only run never initializes CUDA.
void register_backend(Device d, const Backend* (*probe)());
bool backend_available(Device d);

}  // namespace dale
