// The multi-tensor optimizer update on the CPU: the per-tensor kernels one slot after another, so
// it is bit-identical to them by construction (a CPU has no launches to save).
#include "framework/cpu/kernels.h"

namespace dale::cpu {

void update_multi(int64_t count, const UpdateSlot* slots) {
  for (int64_t i = 0; i < count; ++i) {
    const UpdateSlot& s = slots[i];
    switch (s.rule) {
      case UpdateRule::SGD: sgd_update(s.n, s.p, s.g, s.v, s.a); break;
      case UpdateRule::EG: eg_update(s.n, s.p, s.g, s.a); break;
      case UpdateRule::AdamW: adamw_update(s.n, s.p, s.g, s.m, s.v, s.a); break;
    }
  }
}

}  // namespace dale::cpu
