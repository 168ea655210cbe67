// The registry itself: one row per variant of SPEC §6, in the study's words.
#include "models/variants.h"

#include "framework/check.h"

namespace dale {

const std::vector<Variant>& all_variants() {
  using H = HiddenKind;
  using N = ExplicitNorm;
  static const std::vector<Variant> v = {
      {"ei", H::EI, N::None, false, ErrNorm::None, 500, "No-Norm: EI layers"},
      {"ei-ln+", H::EI, N::Layer, false, ErrNorm::None, 500, "EI + LayerNorm, exact backward"},
      {"ei-ln-", H::EI, N::Layer, true, ErrNorm::None, 500, "EI + LayerNorm, detached"},
      {"ei-mean+", H::EI, N::Mean, false, ErrNorm::None, 500, "EI + MeanNorm, exact backward"},
      {"ei-mean-", H::EI, N::Mean, true, ErrNorm::None, 500, "EI + MeanNorm, detached"},
      {"ei-div+", H::EI, N::Divisive, false, ErrNorm::None, 500, "EI + DivisiveNorm, exact"},
      {"ei-div-", H::EI, N::Divisive, true, ErrNorm::None, 500, "EI + DivisiveNorm, detached"},
      {"e-ln+", H::E, N::Layer, false, ErrNorm::None, 500, "E + LayerNorm, exact backward"},
      {"e-ln-", H::E, N::Layer, true, ErrNorm::None, 500, "E + LayerNorm, detached"},
      {"inorm-", H::INorm, N::None, false, ErrNorm::None, 234, "I-Norm, forward-only"},
      {"inorm+", H::INorm, N::None, false, ErrNorm::Full, 234, "I-Norm, forward + backward"},
      {"inorm-center", H::INorm, N::None, false, ErrNorm::Center, 234, "I-Norm, centered error"},
      {"inorm-scale", H::INorm, N::None, false, ErrNorm::Scale, 234, "I-Norm, scaled error"},
      {"inorm-decorrelate", H::INorm, N::None, false, ErrNorm::Decorrelate, 234,
       "I-Norm, decorrelated error"},
      {"inorm-fa", H::INorm, N::None, false, ErrNorm::FaCenter, 234,
       "I-Norm, error centered by random lateral inhibition"},
      {"inorm-sub+", H::INormSub, N::None, false, ErrNorm::Center, 234,
       "I-Norm (sub), centered error"},
      {"inorm-sub-", H::INormSub, N::None, false, ErrNorm::None, 234, "I-Norm (sub), forward-only"},
  };
  return v;
}

std::string variant_names() {
  std::string s;
  for (const auto& v : all_variants()) s += (s.empty() ? "" : ", ") + v.name;
  return s;
}

const Variant& find_variant(const std::string& name) {
  for (const auto& v : all_variants())
    if (v.name == name) return v;
  throw InputError(fmt::format("--model.variant: unknown variant '{}'; expected one of: {}", name,
                               variant_names()));
}

}  // namespace dale
