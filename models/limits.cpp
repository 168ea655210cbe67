// Caps and the memory estimate of a training configuration (see limits.h).
#include "models/limits.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include "framework/check.h"
#include "framework/parse_number.h"
#include "models/init.h"
#include "models/trainer.h"

namespace dale {

// One hidden layer of `kind` with n inputs and ne excitatory units (models/ei_layer.cpp,
// models/inorm_layer.cpp): Wex [ne, n], Wix [ni, n], Wei [ne, ni], bias [ne, 1]; I-Norm adds
// Bix [ne, n] and a frozen Bei [ne, ne], and freezes Wei.
static ParameterCount layer_parameters(HiddenKind kind, double n, int64_t ne_) {
  const double ne = double(ne_), ni = double(inhibitory_units(ne_));
  switch (kind) {
    case HiddenKind::E: return {ne * n + ne, 0};
    case HiddenKind::EI:
    case HiddenKind::INormSub: return {ne * n + ni * n + ne * ni + ne, 0};
    case HiddenKind::INorm: return {ne * n + ni * n + ne + ne * n, ne * ni + ne * ne};
  }
  return {};
}

ParameterCount parameter_count(const NetworkConfig& cfg) {
  const Variant& v = find_variant(cfg.variant);
  const int64_t w = cfg.width == 0 ? v.default_width : cfg.width;
  ParameterCount total;
  double n = double(cfg.inputs);
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    const ParameterCount p = layer_parameters(v.hidden, n, w);
    total.trained += p.trained, total.frozen += p.frozen;
    n = double(w);
  }
  // fc_output: an EI layer with ne = classes, ni = 1.
  const double k = double(cfg.classes);
  total.trained += k * n + n + k + k;
  return total;
}

MemoryEstimate estimate_memory(const TrainConfig& c) {
  const ParameterCount p = parameter_count(c.model);
  const Variant& v = find_variant(c.model.variant);
  const double w = double(c.model.width == 0 ? v.default_width : c.model.width);
  const double L = double(c.model.num_layers), n = double(c.model.inputs), k = double(c.model.classes);
  const OptimConfig& o = c.opt;
  const double state = o.algorithm == Algorithm::AdamW ? 2 : (o.momentum > 0 && o.inhib_momentum > 0 ? 1 : 0);
  constexpr double f = sizeof(float);
  MemoryEstimate m;
  m.weights = f * (p.trained * (2 + state) + p.frozen);
  m.train_batch = f * double(c.batch_size) * (n + 2 * w * L + k);
  m.eval_batch = f * double(c.eval_batch) * (n + 2 * w + k);
  return m;
}

// memory.max (cgroup v2) or memory.limit_in_bytes (v1) of this process's cgroup: 0 when none.
static double cgroup_limit() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string s;
    if (in >> s) {
      if (const auto v = parse_uint(s)) return double(*v);  // "max" (no limit) is no number
    }
  }
  return 0;
}

double memory_limit(Device d) {
  if (d != Device::CPU) return 0;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  const double phys = double(pages) * double(page), cg = cgroup_limit();
  return cg > 0 && cg < phys ? cg : phys;
}

static std::string bytes_str(double b) {
  if (b >= 1024.0 * 1024 * 1024 * 1024) return fmt::format("{:.1f} TiB", b / (1024.0 * 1024 * 1024 * 1024));
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.1f} GiB", b / (1024.0 * 1024 * 1024));
  return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
}

static std::string machine_str(double limit) {
  return fmt::format("more than this machine's {} of memory", bytes_str(limit));
}

static void cap(int64_t v, int64_t hi, const char* flag, const char* why) {
  if (v > hi) throw InputError(fmt::format("{}: {} is more than {} ({})", flag, v, hi, why));
}

void check_limits(const TrainConfig& c) {
  cap(c.epochs, kMaxEpochs, "--train.epochs", "the study trains 50");
  cap(c.model.width, kMaxDimension, "--model.hidden_layer_width", "a GEMM dimension is a 32-bit int");
  cap(c.batch_size, kMaxDimension, "--train.batch_size", "a GEMM dimension is a 32-bit int");
  cap(c.eval_batch, kMaxDimension, "--train.eval_batch", "a GEMM dimension is a 32-bit int");
  if (c.model.num_layers < 1 || c.model.num_layers > kMaxHiddenLayers)
    throw InputError(fmt::format("--model.num_layers: {} is not a number of hidden layers; expected 1 … {}",
                                 c.model.num_layers, kMaxHiddenLayers));
  const double limit = memory_limit(c.model.device);
  if (limit <= 0) return;
  const MemoryEstimate m = estimate_memory(c);
  if (m.total() <= limit) return;
  // Name the setting behind the largest part of the estimate.
  const std::string parts = fmt::format("parameters, gradients and optimizer state {}; a training batch's "
                                        "activations {}; an evaluation batch's {}",
                                        bytes_str(m.weights), bytes_str(m.train_batch), bytes_str(m.eval_batch));
  const char* flag = "--model.hidden_layer_width";
  int64_t value = c.model.width == 0 ? find_variant(c.model.variant).default_width : c.model.width;
  if (m.train_batch > m.weights && m.train_batch >= m.eval_batch) flag = "--train.batch_size", value = c.batch_size;
  if (m.eval_batch > m.weights && m.eval_batch > m.train_batch) flag = "--train.eval_batch", value = c.eval_batch;
  throw InputError(fmt::format("{}: {} needs at least {} ({}), {}", flag, value, bytes_str(m.total()), parts,
                               machine_str(limit)));
}

void check_memory(const TrainConfig& c, int64_t models, const char* models_flag) {
  const double limit = memory_limit(c.model.device);
  if (limit <= 0 || models <= 1) return;
  const double one = estimate_memory(c).total();
  if (one * double(models) <= limit) return;
  throw InputError(fmt::format("{}: {} models of {} each need at least {}, {}", models_flag, models, bytes_str(one),
                               bytes_str(one * double(models)), machine_str(limit)));
}

}  // namespace dale
