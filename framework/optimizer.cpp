// SPEC §8, one loop over the parameters; each update is one backend kernel.
#include "framework/optimizer.h"
#include "framework/trace.h"

#include "framework/check.h"

namespace dale {

Algorithm parse_algorithm(const std::string& s) {
  if (s == "sgd") return Algorithm::SGD;
  if (s == "eg") return Algorithm::EG;
  if (s == "adamw") return Algorithm::AdamW;
  throw InputError(fmt::format("--opt.algorithm: '{}' is not an algorithm; expected sgd, eg or adamw", s));
}
const char* algorithm_name(Algorithm a) {
  return a == Algorithm::SGD ? "sgd" : a == Algorithm::EG ? "eg" : "adamw";
}

bool is_inhibitory(Group g) {
  return g == Group::Wix || g == Group::Wei || g == Group::Bix || g == Group::Bei;
}
bool is_sign_constrained(Group g) {
  return g == Group::Wex || g == Group::Wix || g == Group::Wei || g == Group::Bei;
}

UpdateArgs update_args(const OptimConfig& c, Group g, int64_t step) {
  UpdateArgs a;
  a.lr = (g == Group::Wix || g == Group::Bix) ? c.lr_wix
         : (g == Group::Wei || g == Group::Bei) ? c.lr_wei
                                                : c.lr;
  a.momentum = is_inhibitory(g) ? c.inhib_momentum : c.momentum;
  a.wd = is_inhibitory(g) ? 0.f : c.wd;
  a.nesterov = c.nesterov;
  a.clamp_nonneg = is_sign_constrained(g);
  a.step = step;
  return a;
}

Optimizer::Optimizer(std::vector<Tensor> params, OptimConfig cfg) : cfg_(cfg) {
  for (Tensor& p : params) {
    DALE_CHECK(p.group() != Group::None, "optimizer: tensor '{}' has no parameter group", p.name());
    if (!p.frozen()) slots_.push_back({p, Tensor(), Tensor()});
  }
}

void Optimizer::zero_grad() {
  for (Slot& s : slots_) s.p.zero_grad();
}

void Optimizer::step() {
  DALE_RANGE("optimizer");
  ++steps_;
  for (Slot& s : slots_) {
    Tensor g = s.p.grad();
    s.updated_last = g.defined();
    if (!g.defined()) continue;  // not reached by this step's loss (e.g. no local loss)
    const Backend& be = backend(s.p.device());
    const UpdateArgs a = update_args(cfg_, s.p.group(), ++s.updates);
    const int64_t n = s.p.numel();
    if (cfg_.algorithm == Algorithm::AdamW) {
      if (!s.m.defined()) s.m = Tensor::zeros(s.p.shape(), s.p.device());
      if (!s.v.defined()) s.v = Tensor::zeros(s.p.shape(), s.p.device());
      be.adamw_update(n, s.p.data(), g.data(), s.m.data(), s.v.data(), a);
    } else if (cfg_.algorithm == Algorithm::EG && a.clamp_nonneg) {
      be.eg_update(n, s.p.data(), g.data(), a);
    } else {
      if (a.momentum > 0.f && !s.v.defined()) s.v = Tensor::zeros(s.p.shape(), s.p.device());
      be.sgd_update(n, s.p.data(), g.data(), s.v.defined() ? s.v.data() : nullptr, a);
    }
  }
  zero_grad();
}

void Optimizer::count_replayed_step() {
  ++steps_;
  for (Slot& s : slots_) s.updates += s.updated_last ? 1 : 0;
}

}  // namespace dale

namespace dale {

void Optimizer::save_state(SafetensorsFile& f) const {
  for (const Slot& s : slots_) {
    for (const auto& [suffix, t] : {std::pair<const char*, const Tensor*>{"v", &s.v}, {"m", &s.m}}) {
      if (!t->defined()) continue;
      NamedTensor nt{"opt." + s.p.name() + "." + suffix, {}, t->to_vector()};
      for (int i = 0; i < t->shape().rank; ++i) nt.shape.push_back(t->shape().d[i]);
      f.tensors.push_back(std::move(nt));
    }
    f.metadata["opt." + s.p.name() + ".updates"] = std::to_string(s.updates);
  }
  f.metadata["opt.steps"] = std::to_string(steps_);
}

void Optimizer::load_state(const SafetensorsFile& f, const std::string& path) {
  auto number = [&](const std::string& key) -> int64_t {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) return 0;
    try {
      return std::stoll(it->second);
    } catch (const std::exception&) {
      throw InputError(fmt::format("{}: metadata {} = '{}' is not an integer", path, key, it->second));
    }
  };
  for (Slot& s : slots_) {
    for (auto [suffix, t] : {std::pair<const char*, Tensor*>{"v", &s.v}, {"m", &s.m}}) {
      const NamedTensor* nt = f.find("opt." + s.p.name() + "." + suffix);
      if (!nt) {
        *t = Tensor();
        continue;
      }
      if (int64_t(nt->data.size()) != s.p.numel())
        throw InputError(fmt::format("{}: optimizer state {} has {} values, expected {}", path, nt->name,
                                     nt->data.size(), s.p.numel()));
      *t = Tensor::from_vector(nt->data, s.p.shape(), s.p.device());
    }
    s.updates = number("opt." + s.p.name() + ".updates");
  }
  steps_ = number("opt.steps");
}

}  // namespace dale
