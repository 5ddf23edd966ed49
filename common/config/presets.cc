#include "common/config/presets.h"

#include <algorithm>

namespace switchyard::config {

const std::vector<Preset>& AllPresets() {
  // `paper`: the sizes of specs/iarc.md. The cisformer repeats the
  // transformer's sizes with per-position maps: 31.2M parameters, 24 times
  // the transformer's 1.3M.
  // `paper_matched`: every family near the transformer's 1.3M, the regime in
  // which the paper compares its models ("about the same number of
  // adjustable parameters"): mlp width 278 (1.30M), lstm hidden 324 (1.30M),
  // the paper transformer (1.30M), the cisformer at ffn_width 68 (1.29M).
  // `small`: one CPU epoch (100 steps, batch 500, Nc = 24, 2 threads) in a
  // few seconds, still big enough to learn the single tasks.
  // Arithmetic for all of them: docs/models.md.
  //                                          layers width heads ffn  input
  static const std::vector<Preset>* const kPresets = new std::vector<Preset>{
      {"paper", "mlp", {16, 340, 0, 0, 0}},
      {"paper", "lstm", {2, 550, 0, 0, 20}},
      {"paper", "transformer", {12, 20, 4, 2600, 0}},
      {"paper", "cisformer", {12, 20, 4, 2600, 0}},
      {"paper_matched", "mlp", {16, 278, 0, 0, 0}},
      {"paper_matched", "lstm", {2, 324, 0, 0, 20}},
      {"paper_matched", "transformer", {12, 20, 4, 2600, 0}},
      {"paper_matched", "cisformer", {12, 20, 4, 68, 0}},
      {"small", "mlp", {3, 64, 0, 0, 0}},
      {"small", "lstm", {2, 64, 0, 0, 20}},
      {"small", "transformer", {2, 32, 4, 64, 0}},
      {"small", "cisformer", {2, 32, 4, 64, 0}},
  };
  return *kPresets;
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const Preset& preset : AllPresets()) {
    if (std::find(names.begin(), names.end(), preset.name) == names.end()) {
      names.emplace_back(preset.name);
    }
  }
  return names;
}

const Preset* FindPreset(std::string_view preset, std::string_view model) {
  for (const Preset& row : AllPresets()) {
    if (row.name == preset && row.model == model) return &row;
  }
  return nullptr;
}

}  // namespace switchyard::config
