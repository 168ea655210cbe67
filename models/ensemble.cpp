// Ensembles: stacking K networks' parameters, and the lock-step training step (see ensemble.h).
#include "models/ensemble.h"

#include "framework/backend.h"
#include "framework/check.h"
#include "framework/ops.h"
#include "framework/tape.h"
#include "framework/trace.h"
#include "models/inorm_layer.h"

namespace dale {

// Makes t — its impl, so every handle to it — a view of `storage` at `offset` with shape `s`.
static void rebind(const Tensor& t, std::shared_ptr<Storage> storage, int64_t offset, Shape s) {
  TensorImpl* p = t.impl();
  p->storage = std::move(storage);
  p->offset = offset;
  p->shape = s;
  ++p->version;
}

// The tensors of a network that differ per model: its parameters, then I-Norm's fa_center
// weights (fixed, but drawn from the model's seed).
static std::vector<Tensor> per_model_tensors(const Network& net) {
  std::vector<Tensor> ts = net.parameters();
  for (const auto& l : net.hidden())
    if (auto* in = dynamic_cast<const INormLayer*>(l.get()); in && in->fa_w.defined()) ts.push_back(in->fa_w);
  return ts;
}

Ensemble::Ensemble(const std::vector<NetworkConfig>& cfgs) {
  DALE_CHECK(!cfgs.empty(), "ensemble: no models");
  for (const NetworkConfig& c : cfgs) {
    models_.push_back(std::make_unique<Network>(c));
    const Network& a = *models_.front();
    const Network& b = *models_.back();
    auto differs = [&](const char* what, auto x, auto y) {
      if (x != y)
        throw InputError(fmt::format("ensemble: every model needs the same {} (model 0 has {}, model {} has {})", what,
                                     x, y, models_.size() - 1));
    };
    differs("--model.variant", std::string(a.variant.name), std::string(b.variant.name));
    differs("--model.hidden_layer_width", a.width, b.width);
    differs("--model.num_layers", a.hidden().size(), b.hidden().size());
    differs("input size", a.config.inputs, b.config.inputs);
    differs("number of classes", a.config.classes, b.config.classes);
    differs("--opt.lambda_homeo", a.config.lambda_homeo, b.config.lambda_homeo);
    differs("--opt.lambda_homeo_var", a.config.lambda_homeo_var, b.config.lambda_homeo_var);
    differs("--model.device", std::string(device_name(a.config.device)), std::string(device_name(b.config.device)));
  }
  const int64_t K = int64_t(models_.size());
  for (const auto& m : models_) model_params_.push_back(per_model_tensors(*m));
  if (K == 1) {
    stack_params_ = model_params_[0];
    return;
  }
  // The stack is built like model 0, then each of its tensors is replaced by a [K, rows, cols]
  // stack holding every model's values, and each model's tensor becomes a view of its slice.
  stack_ = std::make_unique<Network>(cfgs[0]);
  stack_params_ = per_model_tensors(*stack_);
  const Device dev = cfgs[0].device;
  const Backend& be = backend(dev);
  for (size_t i = 0; i < stack_params_.size(); ++i) {
    const Tensor& s = stack_params_[i];
    const int64_t n = s.numel();
    auto storage = std::make_shared<Storage>(K * n, dev);
    for (int64_t k = 0; k < K; ++k) {
      const Tensor& m = model_params_[size_t(k)][i];
      be.copy(n, m.data(), storage->ptr + k * n);
      rebind(m, storage, k * n, m.shape());
    }
    rebind(s, storage, 0, Shape{K, s.rows(), s.cols()});
  }
}

void Ensemble::values_changed() {
  for (const Tensor& s : stack_params_) ++s.impl()->version;
}

Tensor Ensemble::train_step(const std::vector<Optimizer*>& opts, const Tensor& x, const Tensor& y) {
  DALE_CHECK(opts.size() == models_.size(), "ensemble: {} optimizers for {} models", opts.size(), models_.size());
  Network& net = stack();
  Tensor logits = net.forward(x, true);
  Tensor task = cross_entropy(logits, y, 0.1f);  // [K]: each model's own mean
  Tensor local = net.local_loss();
  Tensor loss = local.defined() ? add(task, local) : task;
  backward(models_.size() == 1 ? loss : sum(loss));
  if (stack_) {
    // Each model's gradient is its slice of the stack's: hand the views to its optimizer.
    for (size_t i = 0; i < stack_params_.size(); ++i) {
      const Tensor g = stack_params_[i].grad();
      if (!g.defined()) continue;
      for (size_t k = 0; k < models_.size(); ++k) {
        const Tensor& m = model_params_[k][i];
        auto view = std::make_shared<TensorImpl>();
        view->shape = m.shape();
        view->storage = g.impl()->storage;
        view->offset = g.impl()->offset + int64_t(k) * m.numel();
        m.impl()->grad = view;
      }
    }
  }
  step_all(opts);  // every model's update in one multi-tensor call
  if (stack_) {
    for (Tensor& s : stack_params_) s.zero_grad();
    for (auto& ps : model_params_)  // frozen ones too: the optimizer clears only what it updates
      for (Tensor& m : ps) m.zero_grad();
  }
  return task;
}

Batch next_stacked_batch(const DeviceDataset& d, const std::vector<BatchSource>& sources, int64_t B, uint32_t epoch) {
  DALE_CHECK(!sources.empty(), "next_stacked_batch: no models");
  const int64_t K = int64_t(sources.size()), dim = d.dim();
  const Device dev = sources[0].cursor->device();
  Batch s = K == 1 ? Batch{Tensor::empty({B, dim}, dev), Tensor::empty({B}, dev)}
                   : Batch{Tensor::empty({K, B, dim}, dev), Tensor::empty({K * B}, dev)};
  for (int64_t k = 0; k < K; ++k) {
    const BatchSource& src = sources[size_t(k)];
    d.next_batch_into(*src.order, *src.cursor, B, src.jitter, src.seed, epoch, s.x.data() + k * B * dim,
                      s.y.data() + k * B);
  }
  return s;
}

}  // namespace dale
