// The CUDA backend against the CPU reference (DESIGN.md, "Correctness discipline"): every entry of
// the kernel table runs on both backends on the same random inputs at awkward sizes (not multiples
// of a warp or a block), with the device outputs poisoned with NaN before each call, and must agree
// to ‖gpu − cpu‖₂ / ‖cpu‖₂ < 1e-5 (maps, reductions) or 1e-4 (GEMM); batches and counts must be
// identical. Then one whole training step of inorm+ and ei-ln+ on both devices. Without a GPU the
// suite exits 77, which ctest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "framework/backend.h"
#include "framework/ops.h"
#include "framework/optimizer.h"
#include "framework/tape.h"
#include "models/network.h"
#include "tests/cuda/suite_main.h"
#include "tests/testing.h"

using namespace dale;

namespace {

using Vec = std::vector<float>;
using dale::test::random_vector;

constexpr double kTolMap = 1e-5;   // elementwise maps and reductions
constexpr double kTolGemm = 1e-4;  // anything that goes through a GEMM
const float kNaN = std::numeric_limits<float>::quiet_NaN();

const int64_t kCols[] = {1, 7, 33, 234, 500, 784};
const int64_t kRows[] = {1, 31, 32, 33};
// Row counts for the kernels that spread rows over threads (xent_forward: 128 per block;
// count_correct: one block of 256): past one block, and evaluation's batch of 1000.
const int64_t kManyRows[] = {1, 31, 32, 33, 129, 257, 1000};
// Flat lengths for the elementwise entries: tiny, the row lengths, matrices, and one big odd one.
const int64_t kLengths[] = {1, 7, 33, 234, 500, 784, 31 * 33, 32 * 784, 33 * 500, 100003};

const Backend& cpu() { return backend(Device::CPU); }
const Backend& gpu() { return backend(Device::CUDA); }

// A distinct seed per case, so that no two cases share inputs by accident.
uint64_t seed_of(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint64_t x : {a, b, c, d}) h = (h ^ x) * 0x100000001B3ull + 0x632BE59BD9B4E019ull;
  return h;
}

// ---------------------------------------------------------------------------------------------
// Device buffers.

// n floats on the GPU between two guard bands, everything NaN at birth. A guard of 64 floats
// (256 bytes) keeps the allocation's alignment for ptr(), and a kernel that writes past either
// end of its output shows up as a non-NaN guard on download().
constexpr int64_t kGuard = 64;

class DevBuf {
 public:
  explicit DevBuf(int64_t n) : n_(n), base_(gpu().alloc(n + 2 * kGuard)) {
    const Vec nan(size_t(n + 2 * kGuard), kNaN);
    gpu().from_host(n + 2 * kGuard, nan.data(), base_);
  }
  explicit DevBuf(const Vec& host) : DevBuf(int64_t(host.size())) { upload(host); }
  ~DevBuf() { gpu().free(base_); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;

  float* ptr() const { return base_ + kGuard; }
  int64_t size() const { return n_; }
  void upload(const Vec& host) {
    REQUIRE(int64_t(host.size()) == n_);
    gpu().from_host(n_, host.data(), ptr());
  }
  // The n values; fails the check if a guard float was written.
  Vec download() const {
    Vec all(size_t(n_ + 2 * kGuard));
    gpu().to_host(n_ + 2 * kGuard, base_, all.data());
    int64_t bad = 0;
    bool found = false;
    for (int64_t i = 0; i < kGuard && !found; ++i)
      if (!std::isnan(all[size_t(i)])) found = true, bad = i - kGuard;
    for (int64_t i = 0; i < kGuard && !found; ++i)
      if (!std::isnan(all[size_t(n_ + kGuard + i)])) found = true, bad = n_ + i;
    CHECK_MESSAGE(!found, "a kernel wrote outside its " << n_ << "-element buffer, at index " << bad);
    return Vec(all.begin() + kGuard, all.begin() + kGuard + n_);
  }

 private:
  int64_t n_;
  float* base_;
};

// Raw bytes on the GPU (the uint8 dataset, int64 sample orders), through alloc_bytes.
class DevBytes {
 public:
  explicit DevBytes(int64_t bytes) : p_(gpu().alloc_bytes(bytes)) {}
  template <class T>
  explicit DevBytes(const std::vector<T>& host) : DevBytes(int64_t(host.size() * sizeof(T))) {
    gpu().bytes_from_host(int64_t(host.size() * sizeof(T)), host.data(), p_);
  }
  ~DevBytes() { gpu().free_bytes(p_); }
  DevBytes(const DevBytes&) = delete;
  DevBytes& operator=(const DevBytes&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_;
};

// ---------------------------------------------------------------------------------------------
// Comparisons.

// ‖got − want‖₂ / ‖want‖₂ < tol, or ‖got‖₂ ≤ 1e-6 when want = 0. A non-finite GPU value (an
// output the kernel never wrote is still NaN) fails by itself, naming its index.
void check_rel(const std::string& what, const Vec& got, const Vec& want, double tol) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": " << got.size() << " vs " << want.size() << " elements");
  double num = 0, den = 0, gnorm = 0, worst = -1;
  size_t worst_i = 0, bad_i = 0, ref_bad_i = 0;
  bool bad = false, ref_bad = false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(want[i]) && !ref_bad) ref_bad = true, ref_bad_i = i;
    if (!std::isfinite(got[i]) && !bad) bad = true, bad_i = i;
    const double d = double(got[i]) - double(want[i]);
    num += d * d;
    den += double(want[i]) * double(want[i]);
    gnorm += double(got[i]) * double(got[i]);
    if (std::fabs(d) > worst) worst = std::fabs(d), worst_i = i;
  }
  // A non-finite reference means the test chose inputs outside the kernel's domain.
  REQUIRE_MESSAGE(!ref_bad, what << ": CPU reference is " << want[ref_bad_i] << " at [" << ref_bad_i
                                  << "] (test input outside the kernel's domain)");
  if (bad) {
    FAIL_CHECK(what << ": GPU value at [" << bad_i << "] is " << got[bad_i] << " (CPU " << want[bad_i]
                    << "); a NaN is the poison: the element was not written, or a poisoned output was read");
  } else if (den == 0) {
    CHECK_MESSAGE(std::sqrt(gnorm) <= 1e-6, what << ": CPU result is 0 but ‖gpu‖ = " << std::sqrt(gnorm));
  } else {
    const double e = std::sqrt(num) / std::sqrt(den);
    CHECK_MESSAGE(e < tol, what << ": relative error " << e << " ≥ " << tol << "; worst at [" << worst_i
                                << "]: gpu " << got[worst_i] << ", cpu " << want[worst_i]);
  }
}

// Bit-for-bit equality, naming the first differing index (value to 9 digits and its bits).
void check_bits(const std::string& what, const Vec& got, const Vec& want) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": " << got.size() << " vs " << want.size() << " elements");
  size_t i = 0;
  while (i < got.size() && std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i])) ++i;
  if (i < got.size()) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "first difference at [%zu] of %zu: gpu %.9g (0x%08x), cpu %.9g (0x%08x)", i,
                  got.size(), double(got[i]), std::bit_cast<uint32_t>(got[i]), double(want[i]),
                  std::bit_cast<uint32_t>(want[i]));
    FAIL_CHECK(what << ": " << msg);
  }
}

// The starting content of an output on both sides: for beta = 1 the same random values (the
// kernel accumulates into them); for beta = 0 the GPU side stays NaN (it must not be read) and
// the CPU side is zero.
Vec initial_output(int64_t n, float beta, uint64_t seed) {
  return beta == 0.f ? Vec(size_t(n), 0.f) : random_vector(n, seed, -1.f, 1.f);
}
void init_device_output(DevBuf& d, const Vec& host, float beta) {
  if (beta != 0.f) d.upload(host);  // else: left NaN
}

// A one-element device scalar.
struct DevScalar : DevBuf {
  explicit DevScalar(float v) : DevBuf(Vec{v}) {}
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// memory

TEST_CASE("memory: from_host/to_host round trip, fill, copy, alloc_bytes + bytes_from_host") {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(33), int64_t(1000), int64_t(100003)}) {
    CAPTURE(n);
    const Vec h = random_vector(n, seed_of(1, uint64_t(n)));
    {
      INFO("from_host then to_host");
      DevBuf d(h);
      check_bits("round trip", d.download(), h);
    }
    for (float value : {-2.75f, 0.f}) {
      INFO("fill with " << value);
      DevBuf y(n);
      gpu().fill(n, value, y.ptr());
      Vec want(size_t(n), value);
      cpu().fill(n, value, want.data());
      check_bits("fill", y.download(), want);
    }
    {
      INFO("copy");
      DevBuf x(h), y(n);
      gpu().copy(n, x.ptr(), y.ptr());
      check_bits("copy", y.download(), h);
    }
    {
      // An odd byte count, written whole and then patched at a misaligned byte offset; read back
      // as floats through to_host, since alloc_bytes is device memory like alloc's.
      INFO("alloc_bytes + bytes_from_host");
      const int64_t bytes = n * int64_t(sizeof(float)) + 3;
      std::vector<uint8_t> raw(static_cast<size_t>(bytes));
      std::memcpy(raw.data(), h.data(), size_t(n) * sizeof(float));
      raw[size_t(bytes - 1)] = 0x5a;
      DevBytes b(bytes);
      gpu().bytes_from_host(bytes, raw.data(), b.as<void>());
      const uint8_t patch[3] = {0x3f, 0x80, 0x01};
      gpu().bytes_from_host(3, patch, b.as<uint8_t>() + 1);
      std::memcpy(raw.data() + 1, patch, 3);
      Vec want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      std::memcpy(want.data(), raw.data(), size_t(n) * sizeof(float));
      gpu().to_host(n, b.as<float>(), got.data());
      check_bits("bytes", got, want);
    }
  }
}

TEST_CASE("memory: zero-length fill, copy, map, from_host and to_host write nothing") {
  // The CPU kernels accept n = 0 (empty tensors); a CUDA launch of 0 blocks is an error.
  DevBuf x(Vec{1.f, 2.f, 3.f}), y(3);
  Vec host{7.f};
  CHECK_NOTHROW(gpu().fill(0, 1.f, y.ptr()));
  CHECK_NOTHROW(gpu().copy(0, x.ptr(), y.ptr()));
  CHECK_NOTHROW(gpu().map(MapOp::Add, 0, x.ptr(), x.ptr(), nullptr, 0.f, 0.f, y.ptr()));
  CHECK_NOTHROW(gpu().from_host(0, host.data(), y.ptr()));
  CHECK_NOTHROW(gpu().to_host(0, x.ptr(), host.data()));
  CHECK(host[0] == 7.f);
  for (float v : y.download()) CHECK(std::isnan(v));
}

// ---------------------------------------------------------------------------------------------
// gemm

TEST_CASE("gemm: every (trans_a, trans_b), alpha ≠ 1, beta 0, 0.5 and 1, K = 0") {
  const int64_t V[] = {1, 7, 33, 234, 500, 784};
  // Two cyclic families: every size appears in every position (M, N, K), without the whole cube.
  std::vector<std::array<int64_t, 3>> sizes;
  for (int i = 0; i < 6; ++i) {
    sizes.push_back({V[i], V[(i + 1) % 6], V[(i + 2) % 6]});
    sizes.push_back({V[i], V[(i + 3) % 6], V[(i + 5) % 6]});
  }
  // K = 0: C = beta · C (beta = 0 must write zeros over the poison).
  sizes.push_back({7, 33, 0});
  sizes.push_back({1, 784, 0});
  sizes.push_back({33, 1, 0});

  const float alpha = -0.625f;
  for (const auto& [M, N, K] : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.f, 0.5f, 1.f}) {
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(beta);
          // Row-major storage: op(A) is M×K, so A is K×M when transposed; likewise B.
          const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
          const uint64_t s = seed_of(2, uint64_t(M * 1000003 + N * 1009 + K), ta * 2 + tb, uint64_t(beta));
          const Vec A = random_vector(M * K, s + 1), B = random_vector(K * N, s + 2);
          Vec C = initial_output(M * N, beta, s + 3);
          DevBuf dA(A), dB(B), dC(M * N);
          init_device_output(dC, C, beta);
          cpu().gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          gpu().gemm(ta, tb, M, N, K, alpha, dA.ptr(), lda, dB.ptr(), ldb, beta, dC.ptr(), ldc);
          check_rel("gemm C", dC.download(), C, kTolGemm);
        }
}

TEST_CASE("gemm_batched: an ensemble's shapes, every (trans_a, trans_b), padded strides") {
  // fc0 of inorm+ (B × n · (ne × n)ᵀ), its weight gradient, and the tiny inhibitory products;
  // strides larger than a matrix check that each product reads and writes its own slot.
  const std::array<int64_t, 3> sizes[] = {{32, 234, 784}, {234, 784, 32}, {32, 23, 234}, {1, 7, 33}};
  for (const auto& [M, N, K] : sizes)
    for (int64_t batch : {1, 3, 8})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          CAPTURE(batch);
          CAPTURE(ta);
          CAPTURE(tb);
          const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
          const int64_t sa = M * K + 5, sb = K * N + 3, sc = M * N + 7;
          const uint64_t s = seed_of(21, uint64_t(M * 1000003 + N * 1009 + K), ta * 2 + tb, uint64_t(batch));
          const Vec A = random_vector(batch * sa, s + 1), B = random_vector(batch * sb, s + 2);
          Vec C = initial_output(batch * sc, 0.5f, s + 3);
          DevBuf dA(A), dB(B), dC(batch * sc);
          init_device_output(dC, C, 0.5f);
          cpu().gemm_batched(ta, tb, M, N, K, 0.75f, A.data(), lda, sa, B.data(), ldb, sb, 0.5f, C.data(), ldc, sc,
                             batch);
          gpu().gemm_batched(ta, tb, M, N, K, 0.75f, dA.ptr(), lda, sa, dB.ptr(), ldb, sb, 0.5f, dC.ptr(), ldc, sc,
                             batch);
          check_rel("gemm_batched C", dC.download(), C, kTolGemm);
        }
}

// ---------------------------------------------------------------------------------------------
// map, add_scalar_ptr

namespace {
// Which operands each op reads (framework/math.h's apply_map), and input ranges valid for it.
struct MapCase {
  MapOp op;
  const char* name;
  bool b, c;
  float a_lo, a_hi, bc_lo, bc_hi;
};
const MapCase kMapCases[] = {
    {MapOp::Copy, "Copy", false, false, -1, 1, 0, 0},
    {MapOp::Add, "Add", true, false, -1, 1, -1, 1},
    {MapOp::Sub, "Sub", true, false, -1, 1, -1, 1},
    {MapOp::Mul, "Mul", true, false, -1, 1, -1, 1},
    {MapOp::Div, "Div", true, false, -1, 1, 0.5f, 2},  // nonzero denominators
    {MapOp::Scale, "Scale", false, false, -1, 1, 0, 0},
    {MapOp::AddScalar, "AddScalar", false, false, -1, 1, 0, 0},
    {MapOp::Square, "Square", false, false, -1, 1, 0, 0},
    {MapOp::Sqrt, "Sqrt", false, false, 0.01f, 4, 0, 0},  // positive inputs
    {MapOp::Relu, "Relu", false, false, -1, 1, 0, 0},
    {MapOp::ReluGrad, "ReluGrad", true, false, -1, 1, -1, 1},
    {MapOp::SquareGrad, "SquareGrad", true, false, -1, 1, -1, 1},
    {MapOp::SqrtGrad, "SqrtGrad", true, false, -1, 1, 0.5f, 2},      // b = √x > 0
    {MapOp::DivGradDen, "DivGradDen", true, true, -1, 1, 0.5f, 2},  // c ≠ 0
};
}  // namespace

TEST_CASE("map: every MapOp, beta 0, 0.5 and 1") {
  // Every enumerator from Copy to the last one, DivGradDen, has exactly one case, in order.
  REQUIRE(std::size(kMapCases) == size_t(MapOp::DivGradDen) + 1);
  for (size_t k = 0; k < std::size(kMapCases); ++k) REQUIRE(size_t(kMapCases[k].op) == k);

  const float s = 0.375f;
  for (const MapCase& mc : kMapCases)
    for (int64_t n : kLengths)
      for (float beta : {0.f, 0.5f, 1.f}) {
        INFO("map " << std::string(mc.name));
        CAPTURE(n);
        CAPTURE(beta);
        const uint64_t seed = seed_of(3, uint64_t(mc.op), uint64_t(n), uint64_t(beta));
        const Vec a = random_vector(n, seed + 1, mc.a_lo, mc.a_hi);
        Vec b = mc.b ? random_vector(n, seed + 2, mc.bc_lo, mc.bc_hi) : Vec();
        const Vec c = mc.c ? random_vector(n, seed + 3, mc.bc_lo, mc.bc_hi) : Vec();
        if (mc.op == MapOp::ReluGrad)  // b = 0 exactly is the boundary: gradient 0
          for (size_t i = 0; i < b.size(); i += 5) b[i] = 0.f;
        Vec y = initial_output(n, beta, seed + 4);
        DevBuf da(a), db(mc.b ? b : Vec(1, kNaN)), dc(mc.c ? c : Vec(1, kNaN)), dy(n);
        init_device_output(dy, y, beta);
        cpu().map(mc.op, n, a.data(), mc.b ? b.data() : nullptr, mc.c ? c.data() : nullptr, s, beta, y.data());
        gpu().map(mc.op, n, da.ptr(), mc.b ? db.ptr() : nullptr, mc.c ? dc.ptr() : nullptr, s, beta, dy.ptr());
        check_rel(std::string("map ") + mc.name, dy.download(), y, kTolMap);
      }
}

TEST_CASE("map: in place (y aliases a)") {
  for (int64_t n : kLengths)
    for (float beta : {0.f, 0.5f, 1.f}) {
      CAPTURE(n);
      CAPTURE(beta);
      const uint64_t seed = seed_of(4, uint64_t(n), uint64_t(beta));
      Vec a = random_vector(n, seed + 1);
      const Vec b = random_vector(n, seed + 2);
      DevBuf da(a), db(b);
      cpu().map(MapOp::Mul, n, a.data(), b.data(), nullptr, 0.f, beta, a.data());
      gpu().map(MapOp::Mul, n, da.ptr(), db.ptr(), nullptr, 0.f, beta, da.ptr());
      check_rel("map Mul in place", da.download(), a, kTolMap);
    }
}

TEST_CASE("add_scalar_ptr") {
  for (int64_t n : kLengths) {
    CAPTURE(n);
    const uint64_t seed = seed_of(5, uint64_t(n));
    Vec y = random_vector(n, seed);
    const float scalar = 1.5f, alpha = -0.25f;
    DevBuf dy(y);
    DevScalar ds(scalar);
    cpu().add_scalar_ptr(n, &scalar, alpha, y.data());
    gpu().add_scalar_ptr(n, ds.ptr(), alpha, dy.ptr());
    check_rel("add_scalar_ptr", dy.download(), y, kTolMap);
  }
}

// ---------------------------------------------------------------------------------------------
// Broadcasts and reductions over rows × cols

TEST_CASE("add_rowvec: one matrix and a stack of 3") {
  for (int64_t batch : {1, 3})
    for (int64_t rows : kRows)
      for (int64_t cols : kCols) {
        CAPTURE(batch);
        CAPTURE(rows);
        CAPTURE(cols);
        const uint64_t seed = seed_of(6, uint64_t(rows), uint64_t(cols), uint64_t(batch));
        const int64_t n = batch * rows * cols;
        const Vec x = random_vector(n, seed + 1), v = random_vector(batch * cols, seed + 2);
        Vec y(static_cast<size_t>(n));
        DevBuf dx(x), dv(v), dy(n);
        cpu().add_rowvec(batch, rows, cols, x.data(), v.data(), y.data());
        gpu().add_rowvec(batch, rows, cols, dx.ptr(), dv.ptr(), dy.ptr());
        check_rel("add_rowvec", dy.download(), y, kTolMap);
      }
}

TEST_CASE("col_sum: beta 0, 0.5 and 1; one matrix and a stack of 3") {
  for (int64_t batch : {1, 3})
    for (int64_t rows : kRows)
      for (int64_t cols : kCols)
        for (float beta : {0.f, 0.5f, 1.f}) {
          CAPTURE(batch);
          CAPTURE(rows);
          CAPTURE(cols);
          CAPTURE(beta);
          const uint64_t seed = seed_of(7, uint64_t(rows), uint64_t(cols), uint64_t(beta * 2 + batch * 10));
          const Vec x = random_vector(batch * rows * cols, seed + 1, -0.5f, 1.5f);
          Vec out = initial_output(batch * cols, beta, seed + 2);
          DevBuf dx(x), dout(batch * cols);
          init_device_output(dout, out, beta);
          cpu().col_sum(batch, rows, cols, x.data(), beta, out.data());
          gpu().col_sum(batch, rows, cols, dx.ptr(), beta, dout.ptr());
          check_rel("col_sum", dout.download(), out, kTolMap);
        }
}

TEST_CASE("row_mean and row_var") {
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      CAPTURE(rows);
      CAPTURE(cols);
      // A nonzero mean, so that a one-pass variance would show its cancellation.
      const Vec x = random_vector(rows * cols, seed_of(8, uint64_t(rows), uint64_t(cols)), -1.f, 3.f);
      Vec mean(static_cast<size_t>(rows)), var(static_cast<size_t>(rows));
      DevBuf dx(x), dmean(rows), dvar(rows);
      cpu().row_mean(rows, cols, x.data(), mean.data());
      cpu().row_var(rows, cols, x.data(), var.data());
      gpu().row_mean(rows, cols, dx.ptr(), dmean.ptr());
      gpu().row_var(rows, cols, dx.ptr(), dvar.ptr());
      check_rel("row_mean", dmean.download(), mean, kTolMap);
      check_rel("row_var", dvar.download(), var, kTolMap);
    }
}

TEST_CASE("row_mean_backward and row_var_backward (accumulate into dx)") {
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      CAPTURE(rows);
      CAPTURE(cols);
      const uint64_t seed = seed_of(9, uint64_t(rows), uint64_t(cols));
      const Vec g = random_vector(rows, seed + 1), x = random_vector(rows * cols, seed + 2, -1.f, 3.f);
      Vec dx_mean = random_vector(rows * cols, seed + 3), dx_var = random_vector(rows * cols, seed + 4);
      DevBuf dg(g), dxin(x), ddx_mean(dx_mean), ddx_var(dx_var);
      cpu().row_mean_backward(rows, cols, g.data(), dx_mean.data());
      cpu().row_var_backward(rows, cols, g.data(), x.data(), dx_var.data());
      gpu().row_mean_backward(rows, cols, dg.ptr(), ddx_mean.ptr());
      gpu().row_var_backward(rows, cols, dg.ptr(), dxin.ptr(), ddx_var.ptr());
      check_rel("row_mean_backward", ddx_mean.download(), dx_mean, kTolMap);
      check_rel("row_var_backward", ddx_var.download(), dx_var, kTolMap);
    }
}

TEST_CASE("sum_all") {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(1000), int64_t(100003)}) {
    CAPTURE(n);
    const Vec x = random_vector(n, seed_of(10, uint64_t(n)), -0.5f, 1.5f);
    Vec out(1);
    DevBuf dx(x), dout(1);
    cpu().sum_all(n, x.data(), out.data());
    gpu().sum_all(n, dx.ptr(), dout.ptr());
    check_rel("sum_all", dout.download(), out, kTolMap);
  }
}

// ---------------------------------------------------------------------------------------------
// Row normalizations and error normalizations

TEST_CASE("norm_forward and norm_backward: every NormKind, beta 0, 0.5 and 1") {
  const std::pair<NormKind, const char*> kinds[] = {
      {NormKind::Layer, "Layer"}, {NormKind::Mean, "Mean"}, {NormKind::Divisive, "Divisive"}};
  for (const auto& [kind, name] : kinds)
    for (int64_t rows : kRows)
      for (int64_t cols : kCols) {
        INFO("NormKind " << std::string(name));
        CAPTURE(rows);
        CAPTURE(cols);
        const int64_t n = rows * cols;
        const uint64_t seed = seed_of(11, uint64_t(kind), uint64_t(rows), uint64_t(cols));
        const Vec z = random_vector(n, seed + 1, -1.f, 2.f);
        Vec y(static_cast<size_t>(n)), mu(static_cast<size_t>(rows)), rstd(static_cast<size_t>(rows));
        DevBuf dz(z), dy(n), dmu(rows), drstd(rows);
        cpu().norm_forward(kind, rows, cols, z.data(), y.data(), mu.data(), rstd.data());
        gpu().norm_forward(kind, rows, cols, dz.ptr(), dy.ptr(), dmu.ptr(), drstd.ptr());
        check_rel("norm_forward y", dy.download(), y, kTolMap);
        check_rel("norm_forward mu", dmu.download(), mu, kTolMap);
        check_rel("norm_forward rstd", drstd.download(), rstd, kTolMap);

        // The backward alone: both sides get the CPU's μ and 1/σ.
        const Vec g = random_vector(n, seed + 2);
        DevBuf dg(g), cmu(mu), crstd(rstd);
        for (float beta : {0.f, 0.5f, 1.f}) {
          CAPTURE(beta);
          Vec dzz = initial_output(n, beta, seed + 3);
          DevBuf ddz(n);
          init_device_output(ddz, dzz, beta);
          cpu().norm_backward(kind, rows, cols, g.data(), z.data(), mu.data(), rstd.data(), beta, dzz.data());
          gpu().norm_backward(kind, rows, cols, dg.ptr(), dz.ptr(), cmu.ptr(), crstd.ptr(), beta, ddz.ptr());
          check_rel("norm_backward dz", ddz.download(), dzz, kTolMap);
        }
      }
}

TEST_CASE("errnorm_backward: every ErrNorm but None, beta 0, 0.5 and 1") {
  const std::pair<ErrNorm, const char*> modes[] = {{ErrNorm::Full, "Full"},
                                                   {ErrNorm::Center, "Center"},
                                                   {ErrNorm::FaCenter, "FaCenter"},
                                                   {ErrNorm::Scale, "Scale"},
                                                   {ErrNorm::Decorrelate, "Decorrelate"}};
  for (const auto& [mode, name] : modes)
    for (int64_t rows : kRows)
      for (int64_t cols : kCols)
        for (float beta : {0.f, 0.5f, 1.f}) {
          INFO("ErrNorm " << std::string(name));
          CAPTURE(rows);
          CAPTURE(cols);
          CAPTURE(beta);
          const int64_t n = rows * cols;
          const uint64_t seed = seed_of(12, uint64_t(mode), uint64_t(rows * 1000 + cols), uint64_t(beta));
          const Vec g = random_vector(n, seed + 1), z = random_vector(n, seed + 2, -1.f, 2.f);
          // FaCenter's fixed weights: positive, summing to 1 (models/init.cpp's fa_weights).
          Vec w;
          if (mode == ErrNorm::FaCenter) {
            w = random_vector(cols, seed + 3, 0.f, 1.f);
            double total = 0;
            for (float v : w) total += v;
            for (float& v : w) v = float(v / total);
          }
          Vec dz = initial_output(n, beta, seed + 4);
          DevBuf dg(g), dzin(z), dw(w.empty() ? Vec(1, kNaN) : w), ddz(n);
          init_device_output(ddz, dz, beta);
          cpu().errnorm_backward(mode, rows, cols, g.data(), z.data(), w.empty() ? nullptr : w.data(), beta, dz.data());
          gpu().errnorm_backward(mode, rows, cols, dg.ptr(), dzin.ptr(), w.empty() ? nullptr : dw.ptr(), beta,
                                 ddz.ptr());
          check_rel("errnorm_backward dz", ddz.download(), dz, kTolMap);
        }
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy and accuracy (10 classes, labels stored as floats)

namespace {
constexpr int64_t kClasses = 10;
constexpr float kSmoothing = 0.1f;

Vec random_labels(int64_t rows, uint64_t seed) {
  Vec l = random_vector(rows, seed, 0.f, float(kClasses));
  for (float& v : l) v = std::min(std::floor(v), float(kClasses - 1));
  return l;
}
}  // namespace

TEST_CASE("inorm_forward, inorm_backward_task and inorm_backward_local (accumulate)") {
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      CAPTURE(rows);
      CAPTURE(cols);
      const int64_t n = rows * cols;
      const uint64_t seed = seed_of(19, uint64_t(rows), uint64_t(cols));
      const Vec e = random_vector(n, seed + 1, -2.f, 2.f), inh = random_vector(n, seed + 2, 0.f, 1.f),
                pooled = random_vector(n, seed + 3, 0.05f, 3.f);
      Vec z(size_t(n), 0.f), terms(size_t(rows), 0.f);
      DevBuf de_(e), dinh_(inh), dpooled_(pooled), dz(n), dterms(rows);
      cpu().inorm_forward(rows, cols, e.data(), inh.data(), pooled.data(), z.data(), terms.data());
      gpu().inorm_forward(rows, cols, de_.ptr(), dinh_.ptr(), dpooled_.ptr(), dz.ptr(), dterms.ptr());
      check_rel("inorm_forward z", dz.download(), z, kTolMap);
      check_rel("inorm_forward terms", dterms.download(), terms, kTolMap);

      const Vec gz = random_vector(n, seed + 4), gt = random_vector(rows, seed + 5);
      Vec ge = random_vector(n, seed + 6), ginh = random_vector(n, seed + 7), gpooled = random_vector(n, seed + 8);
      DevBuf dgz(gz), dgt(gt), dge(ge), dginh(ginh), dgpooled(gpooled), dzc(z);
      cpu().inorm_backward_task(rows, cols, gz.data(), pooled.data(), ge.data());
      gpu().inorm_backward_task(rows, cols, dgz.ptr(), dpooled_.ptr(), dge.ptr());
      check_rel("inorm_backward_task de", dge.download(), ge, kTolMap);
      cpu().inorm_backward_local(rows, cols, gt.data(), z.data(), pooled.data(), ginh.data(), gpooled.data());
      gpu().inorm_backward_local(rows, cols, dgt.ptr(), dzc.ptr(), dpooled_.ptr(), dginh.ptr(), dgpooled.ptr());
      check_rel("inorm_backward_local dinh", dginh.download(), ginh, kTolMap);
      check_rel("inorm_backward_local dpooled", dgpooled.download(), gpooled, kTolMap);
      // Only one of the two gradients wanted: the other pointer is null.
      cpu().inorm_backward_local(rows, cols, gt.data(), z.data(), pooled.data(), nullptr, gpooled.data());
      gpu().inorm_backward_local(rows, cols, dgt.ptr(), dzc.ptr(), dpooled_.ptr(), nullptr, dgpooled.ptr());
      check_rel("inorm_backward_local dpooled alone", dgpooled.download(), gpooled, kTolMap);
    }
}

TEST_CASE("xent_forward and xent_backward") {
  for (int64_t rows : kManyRows) {
    CAPTURE(rows);
    const int64_t n = rows * kClasses;
    const uint64_t seed = seed_of(13, uint64_t(rows));
    const Vec logits = random_vector(n, seed + 1, -4.f, 4.f), labels = random_labels(rows, seed + 2);
    Vec loss(static_cast<size_t>(rows)), probs(static_cast<size_t>(n));
    DevBuf dlogits(logits), dlabels(labels), dloss(rows), dprobs(n);
    cpu().xent_forward(rows, kClasses, logits.data(), labels.data(), kSmoothing, loss.data(), probs.data());
    gpu().xent_forward(rows, kClasses, dlogits.ptr(), dlabels.ptr(), kSmoothing, dloss.ptr(), dprobs.ptr());
    check_rel("xent_forward loss_rows", dloss.download(), loss, kTolMap);
    check_rel("xent_forward probs", dprobs.download(), probs, kTolMap);

    // The backward alone: both sides get the CPU's probabilities; it accumulates into dlogits.
    const float g = 0.8125f, scale = 1.f / float(rows);
    Vec dl = random_vector(n, seed + 3);
    DevBuf cprobs(probs), ddl(dl);
    DevScalar dgs(g);
    cpu().xent_backward(rows, kClasses, probs.data(), labels.data(), kSmoothing, &g, rows, scale, dl.data());
    gpu().xent_backward(rows, kClasses, cprobs.ptr(), dlabels.ptr(), kSmoothing, dgs.ptr(), rows, scale, ddl.ptr());
    check_rel("xent_backward dlogits", ddl.download(), dl, kTolMap);

    // A stack: groups of 3 rows (the last one shorter) with their own gradient each.
    const int64_t groups = (rows + 2) / 3;
    const Vec gs = random_vector(groups, seed + 4, -1.f, 1.f);
    DevBuf dgv(gs);
    cpu().xent_backward(rows, kClasses, probs.data(), labels.data(), kSmoothing, gs.data(), 3, scale, dl.data());
    gpu().xent_backward(rows, kClasses, cprobs.ptr(), dlabels.ptr(), kSmoothing, dgv.ptr(), 3, scale, ddl.ptr());
    check_rel("xent_backward dlogits, per-group g", ddl.download(), dl, kTolMap);
  }
}

TEST_CASE("count_correct: exact count, ties go to the first maximum") {
  for (int64_t rows : kManyRows) {
    CAPTURE(rows);
    const uint64_t seed = seed_of(14, uint64_t(rows));
    Vec logits = random_vector(rows * kClasses, seed, -4.f, 4.f);
    Vec labels(static_cast<size_t>(rows));
    int64_t want = 0;  // our own count, so a wrong CPU kernel cannot hide either
    for (int64_t r = 0; r < rows; ++r) {
      float* l = logits.data() + r * kClasses;
      const int64_t best = std::max_element(l, l + kClasses) - l;  // the first maximum
      const int64_t other = (best + 1 + r % (kClasses - 1)) % kClasses;
      if (r % 4 == 3 && best < kClasses - 1) {
        // A tie with the last class: the first maximum still wins. Mostly labelled with the first
        // (right), sometimes with the last (wrong), so a last-maximum kernel counts differently.
        l[kClasses - 1] = l[best];
        const bool first = r % 16 != 15;
        labels[size_t(r)] = float(first ? best : kClasses - 1);
        want += first;
      } else {
        labels[size_t(r)] = float(r % 2 == 0 ? best : other);  // even rows right, odd rows wrong
        want += r % 2 == 0;
      }
    }
    if (rows > 1) REQUIRE(want > 0);
    if (rows > 1) REQUIRE(want < rows);
    float cpu_out = kNaN;
    DevBuf dlogits(logits), dlabels(labels), dout(1);
    cpu().count_correct(rows, kClasses, logits.data(), labels.data(), &cpu_out);
    gpu().count_correct(rows, kClasses, dlogits.ptr(), dlabels.ptr(), dout.ptr());
    CHECK(cpu_out == float(want));
    CHECK(dout.download()[0] == float(want));
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizer updates

namespace {
const int64_t kUpdateLengths[] = {1, 7, 33, 1000, 100003};
}

TEST_CASE("sgd_update: plain, momentum, Nesterov, weight decay, clamp; EG (exponentiated) with the same") {
  struct Case {
    const char* name;
    float momentum, wd;
    bool nesterov, clamp, eg = false;
  };
  const Case cases[] = {{"momentum 0, v null", 0.f, 0.f, false, false},
                        {"momentum 0.9", 0.9f, 0.f, false, false},
                        {"momentum 0.9 nesterov", 0.9f, 0.f, true, false},
                        {"momentum 0.9 wd 0.01", 0.9f, 0.01f, false, false},
                        {"momentum 0 wd 0.01 clamp, v null", 0.f, 0.01f, false, true},
                        {"momentum 0.9 nesterov wd 0.01 clamp", 0.9f, 0.01f, true, true},
                        {"EG momentum 0, v null", 0.f, 0.f, false, true, true},
                        {"EG momentum 0.9 wd 0.01", 0.9f, 0.01f, false, true, true},
                        {"EG momentum 0.9 nesterov wd 0.01", 0.9f, 0.01f, true, true, true},
                        {"EG momentum 0 wd 0.01, v null", 0.f, 0.01f, false, true, true}};
  for (const Case& c : cases)
    for (int64_t n : kUpdateLengths) {
      INFO("sgd_update " << std::string(c.name));
      CAPTURE(n);
      UpdateArgs a;
      a.lr = 0.1f;
      a.momentum = c.momentum;
      a.wd = c.wd;
      a.nesterov = c.nesterov;
      a.clamp_nonneg = c.clamp;
      a.exponentiated = c.eg;
      const bool has_v = c.momentum > 0.f;
      const uint64_t seed = seed_of(15, uint64_t(&c - cases), uint64_t(n));
      // Clamped groups hold small non-negative weights, so many SGD steps would cross zero. EG
      // gets weights of both signs and some zeros (sign(p) = −1, 0, 1).
      Vec p = c.clamp && !c.eg ? random_vector(n, seed + 1, 0.f, 0.05f) : random_vector(n, seed + 1);
      if (c.eg)
        for (size_t i = 0; i < p.size(); i += 13) p[i] = 0.f;
      const Vec g = random_vector(n, seed + 2);
      Vec v = has_v ? random_vector(n, seed + 3, -0.5f, 0.5f) : Vec();
      DevBuf dp(p), dg(g), dv(has_v ? v : Vec(1, kNaN));
      cpu().sgd_update(n, p.data(), g.data(), has_v ? v.data() : nullptr, a);
      gpu().sgd_update(n, dp.ptr(), dg.ptr(), has_v ? dv.ptr() : nullptr, a);
      if (c.clamp && !c.eg && n >= 33) {  // the clamp was exercised
        const auto zeros = std::count(p.begin(), p.end(), 0.f);
        REQUIRE(zeros > 0);
      }
      check_rel("sgd_update p", dp.download(), p, kTolMap);
      if (has_v) check_rel("sgd_update v", dv.download(), v, kTolMap);
    }
}

TEST_CASE("eg_update: without and with sign(p) weight decay (no momentum buffer)") {
  for (float wd : {0.f, 0.01f})
    for (int64_t n : kUpdateLengths) {
      CAPTURE(wd);
      CAPTURE(n);
      const uint64_t seed = seed_of(16, uint64_t(n), wd > 0.f);
      Vec p = random_vector(n, seed + 1);
      for (size_t i = 0; i < p.size(); i += 13) p[i] = 0.f;  // sign(0) = 0: stays 0
      const Vec g = random_vector(n, seed + 2);
      UpdateArgs a;
      a.lr = 0.1f;
      a.wd = wd;
      a.momentum = 0.9f;  // no buffer: ignored, as sgd_update with v null
      DevBuf dp(p), dg(g);
      cpu().eg_update(n, p.data(), g.data(), a);
      gpu().eg_update(n, dp.ptr(), dg.ptr(), a);
      check_rel("eg_update p", dp.download(), p, kTolMap);
    }
}

TEST_CASE("adamw_update: step 1 and step 7, weight decay, clamp") {
  struct Case {
    const char* name;
    int64_t step;
    bool clamp;
  };
  const Case cases[] = {{"step 1", 1, false}, {"step 7", 7, false}, {"step 7 clamp", 7, true}};
  for (const Case& c : cases)
    for (int64_t n : kUpdateLengths) {
      INFO("adamw_update " << std::string(c.name));
      CAPTURE(n);
      UpdateArgs a;
      a.lr = c.clamp ? 0.05f : 1e-3f;
      a.wd = 0.01f;
      a.step = c.step;
      a.clamp_nonneg = c.clamp;
      const uint64_t seed = seed_of(17, uint64_t(&c - cases), uint64_t(n));
      Vec p = c.clamp ? random_vector(n, seed + 1, 0.f, 0.05f) : random_vector(n, seed + 1);
      const Vec g = random_vector(n, seed + 2);
      // Step 1 starts from the optimizer's zero state; later steps from some earlier moments.
      Vec m = c.step == 1 ? Vec(size_t(n), 0.f) : random_vector(n, seed + 3, -0.1f, 0.1f);
      Vec v = c.step == 1 ? Vec(size_t(n), 0.f) : random_vector(n, seed + 4, 0.f, 0.01f);
      DevBuf dp(p), dg(g), dm(m), dv(v);
      cpu().adamw_update(n, p.data(), g.data(), m.data(), v.data(), a);
      gpu().adamw_update(n, dp.ptr(), dg.ptr(), dm.ptr(), dv.ptr(), a);
      check_rel("adamw_update p", dp.download(), p, kTolMap);
      check_rel("adamw_update m", dm.download(), m, kTolMap);
      check_rel("adamw_update v", dv.download(), v, kTolMap);
    }
}

// update_multi: many tensors in one call. Each slot's buffers exist three times — fused GPU,
// per-tensor GPU (the oracle: bit for bit, the same per-element code) and CPU (tolerance).
namespace {

struct MultiCase {
  UpdateRule rule;
  float momentum, wd;
  bool nesterov, clamp;
  int64_t step;
  bool eg = false;  // a.exponentiated: EG through the SGD rule, with its momentum buffer
};

void check_update_multi(const std::vector<std::pair<MultiCase, int64_t>>& slots, uint64_t seed0) {
  struct Bufs {
    Vec p, g, v, m;
    std::unique_ptr<DevBuf> fp, fv, fm, op, ov, om, dg;
  };
  std::vector<Bufs> b(slots.size());
  std::vector<UpdateSlot> cpu_slots, fused, oracle;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& [c, n] = slots[i];
    Bufs& x = b[i];
    const uint64_t seed = seed_of(18, seed0, i);
    x.p = c.clamp && !c.eg ? random_vector(n, seed + 1, 0.f, 0.05f) : random_vector(n, seed + 1);
    x.g = random_vector(n, seed + 2);
    const bool adam = c.rule == UpdateRule::AdamW, has_v = adam || c.momentum > 0.f;
    if (has_v) x.v = adam ? random_vector(n, seed + 3, 0.f, 0.01f) : random_vector(n, seed + 3, -0.5f, 0.5f);
    if (adam) x.m = random_vector(n, seed + 4, -0.1f, 0.1f);
    x.fp = std::make_unique<DevBuf>(x.p), x.op = std::make_unique<DevBuf>(x.p), x.dg = std::make_unique<DevBuf>(x.g);
    if (has_v) x.fv = std::make_unique<DevBuf>(x.v), x.ov = std::make_unique<DevBuf>(x.v);
    if (adam) x.fm = std::make_unique<DevBuf>(x.m), x.om = std::make_unique<DevBuf>(x.m);
    UpdateSlot u;
    u.rule = c.rule;
    u.n = n;
    u.a.lr = adam ? 1e-3f : 0.1f;
    u.a.momentum = c.momentum;
    u.a.wd = c.wd;
    u.a.nesterov = c.nesterov;
    u.a.clamp_nonneg = c.clamp;
    u.a.exponentiated = c.eg;
    u.a.step = c.step;
    u.g = x.g.data(), u.p = x.p.data(), u.v = has_v ? x.v.data() : nullptr, u.m = adam ? x.m.data() : nullptr;
    cpu_slots.push_back(u);
    u.g = x.dg->ptr(), u.p = x.fp->ptr(), u.v = has_v ? x.fv->ptr() : nullptr, u.m = adam ? x.fm->ptr() : nullptr;
    fused.push_back(u);
    u.p = x.op->ptr(), u.v = has_v ? x.ov->ptr() : nullptr, u.m = adam ? x.om->ptr() : nullptr;
    oracle.push_back(u);
  }
  cpu().update_multi(int64_t(cpu_slots.size()), cpu_slots.data());
  gpu().update_multi(int64_t(fused.size()), fused.data());
  for (const UpdateSlot& u : oracle) {
    switch (u.rule) {
      case UpdateRule::SGD: gpu().sgd_update(u.n, u.p, u.g, u.v, u.a); break;
      case UpdateRule::EG: gpu().eg_update(u.n, u.p, u.g, u.a); break;
      case UpdateRule::AdamW: gpu().adamw_update(u.n, u.p, u.g, u.m, u.v, u.a); break;
    }
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    CAPTURE(i);
    CAPTURE(slots[i].second);
    const Bufs& x = b[i];
    if (slots[i].second == 0) continue;
    check_bits("update_multi p vs per-tensor", x.fp->download(), x.op->download());
    check_rel("update_multi p vs cpu", x.fp->download(), x.p, kTolMap);
    if (x.fv) {
      check_bits("update_multi v vs per-tensor", x.fv->download(), x.ov->download());
      check_rel("update_multi v vs cpu", x.fv->download(), x.v, kTolMap);
    }
    if (x.fm) {
      check_bits("update_multi m vs per-tensor", x.fm->download(), x.om->download());
      check_rel("update_multi m vs cpu", x.fm->download(), x.m, kTolMap);
    }
  }
}

const MultiCase kMultiCases[] = {
    {UpdateRule::SGD, 0.f, 0.f, false, false, 1},      {UpdateRule::SGD, 0.9f, 0.f, false, false, 1},
    {UpdateRule::SGD, 0.9f, 0.01f, true, true, 1},     {UpdateRule::SGD, 0.f, 0.01f, false, true, 1},
    {UpdateRule::EG, 0.f, 0.f, false, false, 1},       {UpdateRule::AdamW, 0.f, 0.01f, false, false, 1},
    {UpdateRule::AdamW, 0.f, 0.01f, false, true, 7},   {UpdateRule::EG, 0.f, 0.01f, false, true, 1},
    {UpdateRule::SGD, 0.9f, 0.01f, true, true, 1, true}, {UpdateRule::SGD, 0.9f, 0.f, false, true, 1, true},
};

}  // namespace

TEST_CASE("update_multi: every rule and length in one call equals the per-tensor kernels") {
  std::vector<std::pair<MultiCase, int64_t>> slots;
  for (const MultiCase& c : kMultiCases)
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(33), int64_t(1000), int64_t(100003), int64_t(234 * 784)})
      slots.push_back({c, n});
  check_update_multi(slots, 1);
}

TEST_CASE("update_multi: more slots than one launch's argument table holds (an ensemble of 64)") {
  std::vector<std::pair<MultiCase, int64_t>> slots;
  for (int k = 0; k < 64; ++k)  // 12 parameters per model, as an inorm+ network has
    for (int64_t n : {234 * 100 + 1, 23 * 100, 234 * 23, 234 * 100, 234, 234, 1, 10, 1, 10, 10 * 234, 234 * 234})
      slots.push_back({kMultiCases[size_t(k + n) % std::size(kMultiCases)], n});
  check_update_multi(slots, 2);
}

// ---------------------------------------------------------------------------------------------
// gather_batch

TEST_CASE("gather_batch: the GPU batch equals the CPU batch bit for bit") {
  const int64_t n = 100, dim = 784;
  std::mt19937_64 rng(seed_of(18));
  std::vector<uint8_t> images(size_t(n * dim)), labels(static_cast<size_t>(n));
  for (auto& p : images) p = uint8_t(rng() & 0xff);
  for (auto& l : labels) l = uint8_t(rng() % 10);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[size_t(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(rng() % uint64_t(i + 1))]);
  DevBytes dimages(images), dlabels(labels);

  struct Case {
    const char* name;
    BatchJitter j;
  };
  const Case cases[] = {{"eps 0.75 random", {0.75f, 0.f, false, 1234, 5}},
                        {"fixed shift -0.3", {0.f, -0.3f, true, 1234, 5}},
                        {"eps 0", {0.f, 0.f, false, 1234, 5}}};
  DevBytes dperm(perm);
  for (const Case& c : cases)
    for (int64_t B : {int64_t(1), int64_t(32), int64_t(33)}) {
      INFO("gather_batch " << std::string(c.name));
      CAPTURE(B);
      const std::vector<int64_t> order(perm.begin(), perm.begin() + B);
      DevBytes dorder(order);
      Vec x(size_t(B * dim), kNaN), y(size_t(B), kNaN);
      DevBuf dx(B * dim), dy(B);
      cpu().gather_batch(B, dim, images.data(), labels.data(), order.data(), nullptr, c.j, x.data(), y.data());
      gpu().gather_batch(B, dim, dimages.as<uint8_t>(), dlabels.as<uint8_t>(), dorder.as<int64_t>(), nullptr, c.j,
                         dx.ptr(), dy.ptr());
      check_bits("gather_batch x", dx.download(), x);
      check_bits("gather_batch y", dy.download(), y);

      // The same rows found through a start position in device memory, and that position moved on.
      const std::vector<int64_t> start = {n - B - 3};
      DevBytes dstart(start);
      cpu().gather_batch(B, dim, images.data(), labels.data(), perm.data(), start.data(), c.j, x.data(), y.data());
      gpu().gather_batch(B, dim, dimages.as<uint8_t>(), dlabels.as<uint8_t>(), dperm.as<int64_t>(),
                         dstart.as<int64_t>(), c.j, dx.ptr(), dy.ptr());
      check_bits("gather_batch at a device start x", dx.download(), x);
      check_bits("gather_batch at a device start y", dy.download(), y);
      gpu().advance_cursor(dstart.as<int64_t>(), B);
      int64_t moved = 0;  // dale's stream does not wait on the legacy one: wait for the device first
      REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
      REQUIRE(cudaMemcpy(&moved, dstart.as<int64_t>(), sizeof moved, cudaMemcpyDeviceToHost) == cudaSuccess);
      CHECK(moved == n - 3);
    }
}

// ---------------------------------------------------------------------------------------------
// One whole training step

namespace {

struct StepResult {
  float task = 0, total = 0;
  Vec logits;
  std::vector<Vec> grads;  // per parameter; empty when it got none
  SafetensorsFile after;
};

// The trainer's step (models/trainer.cpp): forward, cross-entropy with smoothing 0.1 plus the
// local losses, one backward, one optimizer step.
StepResult train_step(Network& net, const Vec& x, const Vec& y, int64_t B, Device dev) {
  OptimConfig oc;  // the study's rates; momentum and decay so the state buffers are used too
  oc.momentum = 0.9f;
  oc.inhib_momentum = 0.5f;
  oc.wd = 1e-3f;
  Optimizer opt(net.parameters(), oc);
  const Tensor xt = Tensor::from_vector(x, {B, net.config.inputs}, dev);
  const Tensor yt = Tensor::from_vector(y, {B}, dev);
  const Tensor logits = net.forward(xt, true);
  const Tensor task = cross_entropy(logits, yt, 0.1f);
  const Tensor local = net.local_loss();
  const Tensor total = local.defined() ? add(task, local) : task;
  backward(total);
  StepResult r;
  r.task = task.item();
  r.total = total.item();
  r.logits = logits.to_vector();
  for (const Tensor& p : net.parameters()) r.grads.push_back(p.grad().defined() ? p.grad().to_vector() : Vec());
  opt.step();
  r.after = net.state();
  return r;
}

void check_training_step(const std::string& variant) {
  INFO("variant " << variant);
  const int64_t B = 32, inputs = 784;
  NetworkConfig cfg;
  cfg.variant = variant;
  cfg.width = 50;
  cfg.inputs = inputs;
  cfg.seed = 21;
  NetworkConfig gcfg = cfg;
  gcfg.device = Device::CUDA;
  Network cnet(cfg), gnet(gcfg);
  for (const Tensor& p : gnet.parameters()) CHECK_MESSAGE(p.device() == Device::CUDA, p.name() << " is not on CUDA");

  // Initialised on the host from the same seed and uploaded: identical before the step.
  const SafetensorsFile c0 = cnet.state(), g0 = gnet.state();
  REQUIRE(c0.tensors.size() == g0.tensors.size());
  for (size_t i = 0; i < c0.tensors.size(); ++i) {
    REQUIRE(c0.tensors[i].name == g0.tensors[i].name);
    check_bits("before step " + c0.tensors[i].name, g0.tensors[i].data, c0.tensors[i].data);
  }

  // Move both off the §7 init, identically (as tools/make_fixtures.py --perturb does): at the
  // exact init the I-Norm layers already layer-normalize and the output layer's Wei column is
  // constant, so grad Wix, Bix and fc_output.Wix are differences of nearly equal numbers that two
  // float32 GEMMs cannot agree on to 1e-4 (OpenBLAS against an exactly rounded GEMM: 1e-2 to 0.3).
  {
    std::vector<Tensor> cps = cnet.parameters(), gps = gnet.parameters();
    REQUIRE(cps.size() == gps.size());
    for (size_t i = 0; i < cps.size(); ++i) {
      Vec v = cps[i].to_vector();
      const Vec u = random_vector(int64_t(v.size()), seed_of(20, i));
      double ms = 0;
      for (float e : v) ms += double(e) * e;
      const float rms = float(std::sqrt(ms / double(std::max<size_t>(1, v.size()))));
      for (size_t k = 0; k < v.size(); ++k) {
        if (cps[i].group() == Group::Bias) v[k] += 0.1f * u[k];
        else if (cps[i].group() == Group::Bix) v[k] += 0.1f * rms * u[k];
        else v[k] *= std::exp(0.15f * u[k]);  // sign-constrained: keeps the sign
      }
      cps[i].copy_from(v);  // the same host values to both devices
      gps[i].copy_from(v);
    }
  }

  const Vec x = random_vector(B * inputs, seed_of(19), 0.f, 1.f);
  Vec y(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) y[size_t(i)] = float((i * 7 + 3) % 10);

  const StepResult c = train_step(cnet, x, y, B, Device::CPU);
  const StepResult g = train_step(gnet, x, y, B, Device::CUDA);
  REQUIRE(std::isfinite(c.total));
  check_rel("task loss", {g.task}, {c.task}, kTolGemm);
  check_rel("total loss", {g.total}, {c.total}, kTolGemm);
  check_rel("logits", g.logits, c.logits, kTolGemm);
  const auto params = cnet.parameters();
  REQUIRE(c.grads.size() == params.size());
  REQUIRE(g.grads.size() == params.size());
  int graded = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK_MESSAGE(c.grads[i].empty() == g.grads[i].empty(), params[i].name() << ": gradient on one device only");
    if (c.grads[i].empty() || g.grads[i].empty()) continue;
    check_rel("grad " + params[i].name(), g.grads[i], c.grads[i], kTolGemm);
    ++graded;
  }
  CHECK(graded >= 6);
  REQUIRE(c.after.tensors.size() == g.after.tensors.size());
  for (size_t i = 0; i < c.after.tensors.size(); ++i) {
    REQUIRE(c.after.tensors[i].name == g.after.tensors[i].name);
    check_rel("after step " + c.after.tensors[i].name, g.after.tensors[i].data, c.after.tensors[i].data, kTolGemm);
  }
}

}  // namespace

TEST_CASE("one training step of inorm+ on CUDA equals the CPU step") { check_training_step("inorm+"); }
TEST_CASE("one training step of ei-ln+ on CUDA equals the CPU step") { check_training_step("ei-ln+"); }

// ---------------------------------------------------------------------------------------------

int main(int argc, char** argv) { return dale::test::run_cuda_suite("cuda_backend", argc, argv); }
