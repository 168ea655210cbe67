// The task loss: softmax cross-entropy with label smoothing, mean over the batch (SPEC §6),
// and the accuracy count used by evaluation.
#include "framework/op_util.h"
#include "framework/ops.h"

namespace dale {
using namespace detail;

static void check_logits_labels(const char* op, const Tensor& logits, const Tensor& labels) {
  check_defined(op, logits);
  check_defined(op, labels);
  check_same_device(op, logits, labels);
  if (logits.shape().rank < 2 || labels.numel() != logits.rows())
    throw Error(fmt::format("{}: logits {} need one label per row, got labels {}", op,
                            logits.shape().str(), labels.shape().str()));
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float smoothing) {
  DALE_RANGE("cross_entropy");
  check_logits_labels("cross_entropy", logits, labels);
  if (!(smoothing >= 0.f && smoothing < 1.f))
    throw Error(fmt::format("cross_entropy: label smoothing {} is not in [0, 1)", smoothing));
  // Each model of a stack averages over its own B rows: its gradient is then exactly a lone
  // network's, whatever K is.
  const int64_t K = stack_size(logits), rows = logits.rows(), B = rows / K, C = logits.cols();
  const Backend& be = backend(logits.device());
  Tensor probs = Tensor::empty(logits.shape(), logits.device());
  Tensor row_loss = Tensor::empty({rows}, logits.device());
  be.xent_forward(rows, C, logits.data(), labels.data(), smoothing, row_loss.data(), probs.data());
  Tensor loss = Tensor::empty({K}, logits.device());
  be.row_mean(K, B, row_loss.data(), loss.data());
  if (needs_grad({logits}))
    record(loss, [logits, labels, probs, smoothing, rows, B, C](const Tensor& g) {
      if (float* dl = grad_of(logits))
        backend(g.device()).xent_backward(rows, C, probs.data(), labels.data(), smoothing, g.data(), B,
                                          1.f / float(B), dl);
    });
  return loss;
}

Tensor count_correct(const Tensor& logits, const Tensor& labels) {
  DALE_RANGE("count_correct");
  check_logits_labels("count_correct", logits, labels);
  Tensor n = Tensor::empty({1}, logits.device());
  backend(logits.device()).count_correct(logits.rows(), logits.cols(), logits.data(),
                                         labels.data(), n.data());
  return n;
}

}  // namespace dale
