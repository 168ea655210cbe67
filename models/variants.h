// The variant registry of SPEC §6: each name the study compares, what its hidden layers are,
// which explicit normalization follows them and how the error is normalized.
#pragma once
#include <string>
#include <vector>

#include "framework/math.h"

namespace dale {

enum class HiddenKind { E, EI, INorm, INormSub };
enum class ExplicitNorm { None, Layer, Mean, Divisive };

struct Variant {
  std::string name;
  HiddenKind hidden;
  ExplicitNorm norm = ExplicitNorm::None;
  bool norm_detach = false;          // "−": normalize forward only
  ErrNorm errnorm = ErrNorm::None;   // G of I-Norm layers
  int64_t default_width = 500;       // E/EI networks 500, I-Norm networks 234
  std::string description;
};

const std::vector<Variant>& all_variants();
// Throws InputError naming the valid variants when `name` is not one of them.
const Variant& find_variant(const std::string& name);
std::string variant_names();  // "ei, ei-ln+, …" for help and errors

}  // namespace dale
