// SPEC §8, one loop over the parameters; step() makes one backend kernel call per tensor,
// step_all one multi-tensor call for every parameter of every optimizer it is given.
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
  // SGD and EG decay wex and bias only (the study's SGD); the study's AdamW decays every group.
  a.wd = c.algorithm == Algorithm::AdamW || !is_inhibitory(g) ? c.wd : 0.f;
  a.nesterov = c.nesterov;
  a.clamp_nonneg = is_sign_constrained(g);
  a.clamp_to = c.gd_sign_freeze ? kSignFreeze : 0.f;
  // EG for the sign-constrained groups; bix and bias, free to change sign, take SGD steps.
  a.exponentiated = c.algorithm == Algorithm::EG && is_sign_constrained(g);
  a.step = step;
  return a;
}

Optimizer::Optimizer(std::vector<Tensor> params, OptimConfig cfg) : cfg_(cfg) {
  for (Tensor& p : params) {
    DALE_CHECK(p.group() != Group::None, "optimizer: tensor '{}' has no parameter group", p.name());
    if (!p.frozen()) slots_.push_back({p, Tensor(), Tensor()});
  }
  if (!slots_.empty()) dev_ = slots_.front().p.device();
  for (const Slot& s : slots_)
    DALE_CHECK(s.p.device() == dev_, "optimizer: '{}' is on {}, '{}' on {}", slots_.front().p.name(),
               device_name(dev_), s.p.name(), device_name(s.p.device()));
}

void Optimizer::zero_grad() {
  for (Slot& s : slots_) s.p.zero_grad();
}

void Optimizer::begin_step(std::vector<UpdateSlot>& out) {
  ++steps_;
  for (Slot& s : slots_) {
    Tensor g = s.p.grad();
    s.updated_last = g.defined();
    if (!g.defined()) continue;  // not reached by this step's loss (e.g. no local loss)
    UpdateSlot u;
    u.a = update_args(cfg_, s.p.group(), ++s.updates);
    u.n = s.p.numel();
    u.p = s.p.data();
    u.g = g.data();
    if (cfg_.algorithm == Algorithm::AdamW) {
      if (!s.m.defined()) s.m = Tensor::zeros(s.p.shape(), s.p.device());
      if (!s.v.defined()) s.v = Tensor::zeros(s.p.shape(), s.p.device());
      u.rule = UpdateRule::AdamW;
      u.m = s.m.data();
      u.v = s.v.data();
    } else {  // SGD, or EG (u.a.exponentiated): the same entry, the same momentum buffer
      if (u.a.momentum > 0.f && !s.v.defined()) s.v = Tensor::zeros(s.p.shape(), s.p.device());
      u.rule = UpdateRule::SGD;
      u.v = s.v.defined() ? s.v.data() : nullptr;
    }
    out.push_back(u);
  }
}

void Optimizer::step() {
  DALE_RANGE("optimizer");
  std::vector<UpdateSlot> updates;
  begin_step(updates);
  const Backend& be = backend(dev_);
  for (const UpdateSlot& u : updates) {
    switch (u.rule) {
      case UpdateRule::SGD: be.sgd_update(u.n, u.p, u.g, u.v, u.a); break;
      case UpdateRule::EG: be.eg_update(u.n, u.p, u.g, u.a); break;  // not made by begin_step
      case UpdateRule::AdamW: be.adamw_update(u.n, u.p, u.g, u.m, u.v, u.a); break;
    }
  }
  zero_grad();
}

void step_all(const std::vector<Optimizer*>& opts) {
  DALE_RANGE("optimizer");
  std::vector<UpdateSlot> updates;
  const Optimizer* first = nullptr;  // the first with parameters: its device is everyone's
  for (Optimizer* o : opts) {
    if (o->slots_.empty()) continue;
    if (!first) first = o;
    DALE_CHECK(o->dev_ == first->dev_, "step_all: optimizers on {} and on {}", device_name(first->dev_),
               device_name(o->dev_));
  }
  for (Optimizer* o : opts) o->begin_step(updates);
  if (!updates.empty()) backend(first->dev_).update_multi(int64_t(updates.size()), updates.data());
  for (Optimizer* o : opts) o->zero_grad();
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
