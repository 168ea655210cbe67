// Network assembly from a variant, forward pass and checkpoint state.
#include "models/network.h"

#include <algorithm>
#include <cmath>

#include "framework/check.h"
#include "framework/ops.h"
#include "framework/optimizer.h"
#include "framework/trace.h"
#include "models/init.h"
#include "models/limits.h"
#include "models/inorm_layer.h"

namespace dale {

static int64_t checked_width(const NetworkConfig& cfg, const Variant& v) {
  const int64_t w = cfg.width == 0 ? v.default_width : cfg.width;
  if (w < 2)
    throw InputError(fmt::format("--model.hidden_layer_width: {} is not a width; expected an "
                                 "integer ≥ 2 (0 picks the variant's default)",
                                 cfg.width));
  return w;
}

static int64_t checked_layers(const NetworkConfig& cfg) {
  if (cfg.num_layers < 1 || cfg.num_layers > kMaxHiddenLayers)
    throw InputError(fmt::format("--model.num_layers: {} is not a number of hidden layers; expected 1 … {}",
                                 cfg.num_layers, kMaxHiddenLayers));
  return cfg.num_layers;
}

Network::Network(const NetworkConfig& cfg)
    : variant(find_variant(cfg.variant)), config(cfg), width(checked_width(cfg, variant)) {
  RngStream rng(cfg.seed, kStreamInit);
  int64_t n = cfg.inputs;
  if (cfg.init_rank > std::min(cfg.inputs, width))
    throw InputError(fmt::format("--model.init_rank: {} is more than a hidden layer's Wex can have; expected 0 (full "
                                 "rank) … {} (min of the input size {} and the width {})",
                                 cfg.init_rank, std::min(cfg.inputs, width), cfg.inputs, width));
  const int64_t layers = checked_layers(cfg);
  for (int64_t index = 0; index < layers; ++index) {
    const std::string name = fmt::format("fc{}", index);
    const ExcitatoryInit e{cfg.init_rank, double(cfg.init_gain), cfg.seed, kStreamLowRank + (uint64_t(index) << 8)};
    switch (variant.hidden) {
      case HiddenKind::E: hidden_.push_back(std::make_unique<ELayer>(name, n, width, rng, cfg.device, e)); break;
      case HiddenKind::EI:
        hidden_.push_back(std::make_unique<EILayer>(name, n, width, inhibitory_units(width), rng, cfg.device, e));
        break;
      case HiddenKind::INorm:
        hidden_.push_back(std::make_unique<INormLayer>(name, n, width, variant.errnorm, cfg.lambda_homeo_var,
                                                       rng, cfg.device, cfg.seed, kStreamFa + (uint64_t(index) << 8), e));
        break;
      case HiddenKind::INormSub:
        hidden_.push_back(std::make_unique<INormSubLayer>(name, n, width, variant.errnorm,
                                                          cfg.lambda_homeo, rng, cfg.device, e));
        break;
    }
    n = width;
  }
  output_ = std::make_unique<EILayer>("fc_output", n, cfg.classes, 1, rng, cfg.device);
}

Tensor Network::hidden_forward(size_t l, const Tensor& h, bool training) {
  return explicit_norm(hidden_[l]->forward(h, training));
}

Tensor Network::explicit_norm(const Tensor& z) const {
  switch (variant.norm) {
    case ExplicitNorm::None: return z;
    case ExplicitNorm::Layer: return normalize(z, NormKind::Layer, variant.norm_detach);
    case ExplicitNorm::Mean: return normalize(z, NormKind::Mean, variant.norm_detach);
    case ExplicitNorm::Divisive: return normalize(z, NormKind::Divisive, variant.norm_detach);
  }
  return z;
}

Tensor Network::forward(const Tensor& x, bool training) {
  DALE_RANGE("forward");
  hidden_z_.clear();
  Tensor h = x;
  for (size_t l = 0; l < hidden_.size(); ++l) {
    DALE_RANGE(hidden_[l]->name().c_str());  // "fc0", "fc1", …: one range per layer
    hidden_z_.push_back(hidden_forward(l, h, training));
    h = relu(hidden_z_.back());
  }
  DALE_RANGE(output_->name().c_str());
  return output_->forward(h, training);
}

std::vector<Tensor> Network::local_losses() const {
  std::vector<Tensor> out;
  for (const auto& l : hidden_) out.push_back(l->local_loss());
  return out;
}

Tensor Network::local_loss() const {
  Tensor total;
  for (const auto& l : hidden_)
    if (l->local_loss().defined()) total = total.defined() ? add(total, l->local_loss()) : l->local_loss();
  return total;
}

std::vector<Tensor> Network::parameters() const {
  std::vector<Tensor> ps;
  for (const auto& l : hidden_)
    for (auto& p : l->parameters()) ps.push_back(p);
  for (auto& p : output_->parameters()) ps.push_back(p);
  return ps;
}

SafetensorsFile Network::state() const {
  SafetensorsFile f;
  for (const Tensor& p : parameters()) {
    NamedTensor t{p.name(), {}, p.to_vector()};
    for (int i = 0; i < p.shape().rank; ++i) t.shape.push_back(p.shape().d[i]);
    f.tensors.push_back(std::move(t));
  }
  for (const auto& l : hidden_)
    if (auto* in = dynamic_cast<INormLayer*>(l.get()); in && in->fa_w.defined())
      f.tensors.push_back({l->name() + ".fa_w", {in->fa_w.numel()}, in->fa_w.to_vector()});
  f.metadata["variant"] = variant.name;
  f.metadata["hidden_layer_width"] = std::to_string(width);
  f.metadata["num_layers"] = std::to_string(hidden_.size());
  return f;
}

void Network::load_state(const SafetensorsFile& f, const std::string& path) {
  auto shape_str = [](const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  };
  std::vector<std::pair<Tensor, const NamedTensor*>> plan;  // validate all before changing any
  // Values, before any is used: finite everywhere (a NaN or infinity would surface only later,
  // as a "diverged" run), and ≥ 0 in the sign-constrained tensors (Wex, Wix, Wei, Bei: Dale's
  // principle; the optimizer's clamp would not repair a frozen one, nor the initial weights).
  auto check_values = [&](const NamedTensor& t, bool sign_constrained) {
    for (size_t i = 0; i < t.data.size(); ++i) {
      const float v = t.data[i];
      if (std::isfinite(v) && !(sign_constrained && v < 0.f)) continue;
      const int64_t cols = t.shape.empty() ? 1 : std::max<int64_t>(1, t.shape.back());
      const std::string at = t.shape.size() == 2 ? fmt::format("[{}, {}] (element {})", int64_t(i) / cols,
                                                              int64_t(i) % cols, i)
                                                 : fmt::format("element {}", i);
      if (!std::isfinite(v))
        throw InputError(fmt::format("{}: tensor '{}' holds {} at {}; expected finite values (dale writes "
                                     "no other: a corrupted file?)",
                                     path, t.name, v, at));
      throw InputError(fmt::format("{}: tensor '{}' holds {} at {}; expected values ≥ 0 (Wex, Wix, Wei and Bei "
                                   "are sign-constrained by Dale's principle)",
                                   path, t.name, v, at));
    }
  };
  auto plan_one = [&](const Tensor& p, const std::string& name, bool required) {
    const NamedTensor* t = f.find(name);
    if (!t) {
      if (!required) return;
      throw InputError(fmt::format("{}: has no tensor '{}' that variant {} (width {}) needs", path,
                                   name, variant.name, width));
    }
    std::vector<int64_t> want;
    for (int i = 0; i < p.shape().rank; ++i) want.push_back(p.shape().d[i]);
    if (t->shape != want)
      throw InputError(fmt::format("{}: tensor '{}' has shape {}, expected {} for variant {} "
                                   "(width {})",
                                   path, name, shape_str(t->shape), shape_str(want), variant.name, width));
    check_values(*t, is_sign_constrained(p.group()));
    plan.emplace_back(p, t);
  };
  for (const Tensor& p : parameters()) plan_one(p, p.name(), true);
  for (const auto& l : hidden_)
    if (auto* in = dynamic_cast<INormLayer*>(l.get()); in && in->fa_w.defined())
      plan_one(in->fa_w, l->name() + ".fa_w", false);
  for (const NamedTensor& t : f.tensors) {
    // A resumable checkpoint's optimizer state (Optimizer::load_state reads it on --exp.resume):
    // not a parameter; --exp.init starts from the weights alone, with a fresh optimizer.
    if (t.name.rfind("opt.", 0) == 0) {
      check_values(t, false);
      continue;
    }
    bool known = false;
    for (auto& [p, src] : plan) known |= src == &t;
    if (!known)
      throw InputError(fmt::format("{}: tensor '{}' is not a parameter of variant {} (a checkpoint "
                                   "of another variant?)",
                                   path, t.name, variant.name));
  }
  for (auto& [p, t] : plan) p.copy_from(t->data);
}

}  // namespace dale
