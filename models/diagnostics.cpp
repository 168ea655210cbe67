// The study's per-layer measurements (see diagnostics.h for their definitions).
#include "models/diagnostics.h"

#include <lapacke.h>

#include <cmath>
#include <limits>

#include "framework/check.h"
#include "framework/ops.h"
#include "framework/tape.h"
#include "models/inorm_layer.h"

namespace dale {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

double largest_covariance_eigenvalue(const std::vector<float>& g, int64_t B, int64_t D) {
  if (B < 2) return 0.0;
  // The nonzero eigenvalues of GcᵀGc/(B−1) (D × D) are those of the B × B Gram matrix GcGcᵀ/(B−1).
  std::vector<double> c(static_cast<size_t>(B * D));
  for (int64_t k = 0; k < D; ++k) {
    double m = 0;
    for (int64_t b = 0; b < B; ++b) m += g[b * D + k];
    m /= double(B);
    for (int64_t b = 0; b < B; ++b) c[b * D + k] = g[b * D + k] - m;
  }
  std::vector<double> gram(static_cast<size_t>(B * B)), w(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = 0; k < D; ++k) s += c[i * D + k] * c[j * D + k];
      gram[i * B + j] = gram[j * B + i] = s / double(B - 1);
    }
  const lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', lapack_int(B), gram.data(), lapack_int(B), w.data());
  DALE_CHECK(info == 0, "LAPACKE_dsyevd failed with info = {}", info);
  return w.back();  // ascending order
}

static Tensor param_named(const Layer& layer, const std::string& what) {
  for (const Tensor& p : layer.parameters())
    if (p.name() == layer.name() + "." + what) return p;
  throw Error(fmt::format("diagnostics: layer {} has no parameter {}", layer.name(), what));
}

static void clear_grads(Network& net) {
  for (Tensor& p : net.parameters()) p.zero_grad();
}

static double mean_of(const Tensor& rows_by_one) {
  const std::vector<float> v = rows_by_one.to_vector();
  double s = 0;
  for (float x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

// The layer's ∇Wex of Σ relu(y), y a function of this pass's z (then the tape is consumed).
static std::vector<float> wex_gradient_of(const Tensor& y, Tensor& Wex) {
  Wex.zero_grad();
  backward(sum(relu(y)));
  std::vector<float> g = Wex.grad().to_vector();
  Wex.zero_grad();
  return g;
}

// mean((u − target)²) for the local loss of an I-Norm or I-Norm (sub) layer; NaN otherwise.
static double local_ln_mse(Layer& layer, const Tensor& h) {
  auto* inorm = dynamic_cast<INormLayer*>(&layer);
  auto* isub = dynamic_cast<INormSubLayer*>(&layer);
  if (!inorm && !isub) return std::numeric_limits<double>::quiet_NaN();
  NoGrad ng;
  const Tensor Wex = param_named(layer, "Wex");
  const Tensor e = add_bias(linear(h, Wex), param_named(layer, "bias"));
  const Tensor target = normalize(e, inorm ? NormKind::Layer : NormKind::Mean, false);
  Tensor u;
  if (inorm) {
    const Tensor inh = linear(linear(h, inorm->Wix), inorm->Wei);
    const Tensor zd = sqrt(add_scalar(linear(square(linear(h, inorm->Bix)), inorm->Bei), kEpsNorm));
    u = div(sub(e, inh), zd);
  } else {
    u = sub(e, linear(linear(h, isub->Wix), isub->Wei));
  }
  const auto uv = u.to_vector(), tv = target.to_vector();
  double s = 0;
  for (size_t i = 0; i < uv.size(); ++i) s += (double(uv[i]) - tv[i]) * (double(uv[i]) - tv[i]);
  return s / double(uv.size());
}

Diagnostics diagnose(Network& net, const Tensor& x, const Tensor& labels) {
  Diagnostics d;
  const size_t L = net.hidden().size();
  clear_grads(net);
  tape_reset();
  // 1. The network's forward, layer by layer, keeping each layer's output (z, or G(z)) and
  //    input; the task loss's error arriving at each output; the activity moments of z.
  std::vector<Tensor> outs, inputs;
  Tensor h = x.detach();
  for (size_t l = 0; l < L; ++l) {
    inputs.push_back(h.detach());
    outs.push_back(net.hidden()[l]->forward(h, false));
    h = relu(net.explicit_norm(outs.back()));
  }
  backward(cross_entropy(net.output().forward(h, false), labels, 0.1f));
  for (const Tensor& z : outs) {
    const Tensor& g = z.grad();
    d.err_eig.push_back(g.defined() ? largest_covariance_eigenvalue(g.to_vector(), z.rows(), z.cols()) : 0.0);
    NoGrad ng;
    d.mu.push_back(mean_of(row_mean(z)));
    d.var.push_back(mean_of(row_var(z)));
  }
  clear_grads(net);

  // 2. Per layer, from the input the network gave it: the layer's own output and ∇Wex against
  //    the reference's (a fresh forward for each: one backward consumes the tape).
  for (size_t l = 0; l < L; ++l) {
    Layer& layer = *net.hidden()[l];
    Tensor Wex = param_named(layer, "Wex");
    const auto* inorm = dynamic_cast<const INormLayer*>(&layer);
    const bool fa = inorm && inorm->mode == ErrNorm::FaCenter;

    const Tensor own = layer.forward(inputs[l], false);  // G(z): G's backward applies
    const std::vector<float> own_out = relu(own).to_vector();
    const std::vector<float> g_own = wex_gradient_of(own, Wex);

    const Tensor z = layer.forward_z(inputs[l]);
    std::vector<float> ln_out;
    {
      NoGrad ng;
      ln_out = relu(normalize(z, NormKind::Layer, false)).to_vector();
    }
    const std::vector<float> g_ref =
        wex_gradient_of(fa ? error_normalize(z, ErrNorm::Center) : normalize(z, NormKind::Layer, false), Wex);

    d.out_cos.push_back(cosine(ln_out, own_out));
    d.grad_cos.push_back(cosine(g_ref, g_own));
    d.local_ln_mse.push_back(local_ln_mse(layer, inputs[l]));
  }
  clear_grads(net);
  tape_reset();
  return d;
}

}  // namespace dale
