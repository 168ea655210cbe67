// `dale bench-gemm`: the kernel microbenchmark of issue 7 — every GEMM shape of one training step
// of the study's networks (batch B, forward, weight gradients, input gradients; one model, or K
// models as one strided-batched call), timed through the backend table, against the same
// backend's own rate on a large square SGEMM measured in the same run. On the CPU that is
// OpenBLAS, on CUDA cuBLAS: the ratio says how much of the library's attainable rate these small
// shapes get, which is what ensembles (K > 1) are for.
#include <chrono>
#include <cstdio>

#include "framework/backend.h"
#include "framework/check.h"
#include "models/init.h"
#include "models/variants.h"
#include "tools/dale/commands.h"
#include "tools/dale/experiment_cli.h"
#include "framework/output_file.h"
#include "tools/dale/write_atomically.h"

namespace dale::cli {

namespace {

struct Shape3 {
  std::string name;
  bool ta, tb;
  int64_t M, N, K;
};

// The products of one step of a network with hidden width w (SPEC §2, §6): per hidden layer the
// excitatory product, the inhibitory pair (EI and I-Norm), their weight gradients, and the input
// gradient of fc1 (fc0's input, the image, takes none); the output layer's forward product.
std::vector<Shape3> step_shapes(const Variant& v, int64_t w, int64_t inputs, int64_t B) {
  const int64_t ni = inhibitory_units(w);
  const bool inhibition = v.hidden != HiddenKind::E;
  std::vector<Shape3> s;
  for (int layer = 0; layer < 2; ++layer) {
    const int64_t in = layer == 0 ? inputs : w;
    const std::string fc = layer == 0 ? "fc0" : "fc1";
    s.push_back({fc + " x·Wexᵀ", false, true, B, w, in});
    s.push_back({fc + " dWex = dzᵀ·x", true, false, w, in, B});
    if (inhibition) {
      s.push_back({fc + " x·Wixᵀ", false, true, B, ni, in});
      s.push_back({fc + " (x·Wixᵀ)·Weiᵀ", false, true, B, w, ni});
    }
    if (layer == 1) s.push_back({fc + " dx = dz·Wex", false, false, B, in, w});
  }
  s.push_back({"fc_output x·Wexᵀ", false, true, B, 10, w});
  return s;
}

struct Timed {
  double us = 0, gflops = 0;
};

// Mean time of one call (K products) over enough repetitions to fill ~0.2 s, after a warm-up.
Timed time_gemm(const Backend& be, const Shape3& s, int64_t K, float* A, float* Bm, float* C, float* sync) {
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N, sa = s.M * s.K, sb = s.K * s.N, sc = s.M * s.N;
  auto call = [&] {
    if (K == 1)
      be.gemm(s.ta, s.tb, s.M, s.N, s.K, 1.f, A, lda, Bm, ldb, 0.f, C, s.N);
    else
      be.gemm_batched(s.ta, s.tb, s.M, s.N, s.K, 1.f, A, lda, sa, Bm, ldb, sb, 0.f, C, s.N, sc, K);
  };
  auto wait = [&] {
    float h;
    be.to_host(1, sync, &h);  // waits for the device
  };
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) call();
  wait();
  int64_t reps = 1;
  double seconds = 0;
  for (;;) {  // double the repetitions until they take 0.2 s
    const auto t0 = clock::now();
    for (int64_t i = 0; i < reps; ++i) call();
    wait();
    seconds = std::chrono::duration<double>(clock::now() - t0).count();
    if (seconds > 0.2 || reps > (int64_t(1) << 24)) break;
    reps *= 2;
  }
  Timed t;
  t.us = 1e6 * seconds / double(reps);
  t.gflops = 2.0 * double(s.M * s.N * s.K * K) / (t.us * 1e3);
  return t;
}

}  // namespace

static void add_bench_gemm(CLI::App& app) {
  auto device = std::make_shared<std::string>("cpu");
  auto variants = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"ei-ln+", "inorm+"});
  auto models = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{1, 128});
  auto batch = std::make_shared<int64_t>(32);
  auto json_out = std::make_shared<std::string>();
  CLI::App* c = app.add_subcommand("bench-gemm", "the networks' GEMM shapes against this backend's large-GEMM rate");
  c->add_option("--device", *device, "cpu or cuda")->capture_default_str();
  c->add_option("--variants", *variants, "comma-separated variants (their default widths)")
      ->delimiter(',')
      ->capture_default_str();
  c->add_option("--models", *models, "comma-separated ensemble sizes K (K > 1: one strided-batched call)")
      ->delimiter(',')
      ->capture_default_str();
  c->add_option("--batch", *batch, "batch size B")->capture_default_str();
  c->add_option("--json", *json_out, "also write the rows as JSON here");
  c->callback([=]() {
    check_replaceable(*json_out, "--json");  // before any work
    if (*device != "cpu" && *device != "cuda")
      throw InputError(fmt::format("--device: '{}' is not a device; expected cpu or cuda", *device));
    const Device dev = *device == "cuda" ? Device::CUDA : Device::CPU;
    if (dev == Device::CUDA && !backend_available(dev))
      throw InputError("--device cuda: no CUDA device is available; use --device cpu");
    if (*batch < 1 || *batch > 4096) throw InputError(fmt::format("--batch: {} is not in [1, 4096]", *batch));
    for (int64_t K : *models)
      if (K < 1 || K > 4096) throw InputError(fmt::format("--models: {} is not in [1, 4096]", K));
    const auto names = checked_variants(*variants);
    const Backend& be = backend(dev);

    // The reference: the backend's rate on a large square product (2048 on the CPU, 8192 on a GPU).
    const int64_t big = dev == Device::CUDA ? 8192 : 2048;
    int64_t most = big * big;
    for (const auto& v : names)
      for (int64_t K : *models) {
        const Variant& var = find_variant(v);
        for (const Shape3& s : step_shapes(var, var.default_width, 784, *batch))
          most = std::max({most, K * s.M * s.K, K * s.K * s.N, K * s.M * s.N});
      }
    float* A = be.alloc(most);
    float* Bm = be.alloc(most);
    float* C = be.alloc(most);
    be.fill(most, 0.5f, A);
    be.fill(most, 0.25f, Bm);
    const Timed ref = time_gemm(be, {"reference", false, false, big, big, big}, 1, A, Bm, C, C);
    std::printf("%s SGEMM %lld × %lld × %lld: %.1f GFLOP/s (the reference rate)\n\n", be.name, (long long)big,
                (long long)big, (long long)big, ref.gflops);
    std::printf("| variant | product | K | M × N × Kdim | µs per call | GFLOP/s | of reference |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& v : names) {
      const Variant& var = find_variant(v);
      for (int64_t K : *models)
        for (const Shape3& s : step_shapes(var, var.default_width, 784, *batch)) {
          const Timed t = time_gemm(be, s, K, A, Bm, C, C);
          std::printf("| %s | %s | %lld | %lld × %lld × %lld | %.2f | %.1f | %.1f %% |\n", v.c_str(), s.name.c_str(),
                      (long long)K, (long long)s.M, (long long)s.N, (long long)s.K, t.us, t.gflops,
                      100.0 * t.gflops / ref.gflops);
          std::fflush(stdout);
          rows.push_back({{"variant", v}, {"product", s.name}, {"models", K}, {"M", s.M}, {"N", s.N}, {"K", s.K},
                          {"us", t.us}, {"gflops", t.gflops}, {"reference_gflops", ref.gflops}});
        }
    }
    be.free(A);
    be.free(Bm);
    be.free(C);
    if (!json_out->empty()) write_atomically(*json_out, rows.dump(2) + "\n", "--json");
    set_exit_code(kExitOk);
  });
}
DALE_COMMAND(41, add_bench_gemm);

}  // namespace dale::cli
