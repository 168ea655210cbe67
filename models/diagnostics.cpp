// SPEC §10 diagnostics (see diagnostics.h for the definitions chosen).
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

Diagnostics diagnose(Network& net, const Tensor& x, const Tensor& labels) {
  Diagnostics d;
  clear_grads(net);
  tape_reset();
  // 1. The task error arriving at each hidden layer's z.
  Tensor logits = net.forward(x, false);
  const std::vector<Tensor> zs = net.hidden_z();
  backward(cross_entropy(logits, labels, 0.1f));
  for (const Tensor& z : zs)
    d.err_eig.push_back(z.grad().defined() ? largest_covariance_eigenvalue(z.grad().to_vector(), z.rows(), z.cols()) : 0.0);
  clear_grads(net);

  // 2. Per layer, from the same input the network gave it: LN's output and gradient vs the layer's.
  Tensor h = x.detach();
  for (size_t l = 0; l < net.hidden().size(); ++l) {
    Layer& layer = *net.hidden()[l];
    Tensor Wex = param_named(layer, "Wex");
    auto* inorm = dynamic_cast<INormLayer*>(&layer);
    auto* isub = dynamic_cast<INormSubLayer*>(&layer);
    const bool has_inhibitory_norm = inorm || isub;

    Tensor z = net.hidden_forward(l, h, false);
    Tensor yz = relu(z);
    backward(sum(yz));
    const std::vector<float> g_own = Wex.grad().to_vector();
    Wex.zero_grad();

    Tensor e = has_inhibitory_norm ? add_bias(linear(h, Wex), param_named(layer, "bias")) : layer.forward(h, false);
    Tensor yln = relu(normalize(e, NormKind::Layer, false));
    backward(sum(yln));
    const std::vector<float> g_ln = Wex.grad().to_vector();
    clear_grads(net);

    d.out_cos.push_back(cosine(yln.to_vector(), yz.to_vector()));
    d.grad_cos.push_back(cosine(g_ln, g_own));

    double mse = std::numeric_limits<double>::quiet_NaN();
    if (has_inhibitory_norm) {
      NoGrad ng;
      Tensor target = normalize(e, inorm ? NormKind::Layer : NormKind::Mean, false);
      Tensor u;
      if (inorm) {
        const Tensor xs = h;
        Tensor inh = linear(linear(xs, inorm->Wix), inorm->Wei);
        Tensor zd = sqrt(add_scalar(linear(square(linear(xs, inorm->Bix)), inorm->Bei), kEpsNorm));
        u = div(sub(e, inh), zd);
      } else {
        u = sub(e, linear(linear(h, isub->Wix), isub->Wei));
      }
      const auto uv = u.to_vector(), tv = target.to_vector();
      double s = 0;
      for (size_t i = 0; i < uv.size(); ++i) s += (double(uv[i]) - tv[i]) * (double(uv[i]) - tv[i]);
      mse = s / double(uv.size());
    }
    d.local_ln_mse.push_back(mse);
    NoGrad ng;
    h = relu(net.hidden_forward(l, h, false)).detach();
  }
  tape_reset();
  return d;
}

}  // namespace dale
