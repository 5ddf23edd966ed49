// The model-size presets, as data: one row per (preset, model family).
//
// A preset is a named set of sizes; code never branches on a preset's name.
// The job config (job_config.h) applies a preset to the sizes a job leaves at
// 0, and the trainer builds exactly the sizes the config resolved, so the
// table lives here, next to the rules that check it, and nowhere else.
// docs/models.md derives the parameter counts of the `paper` and
// `paper_matched` rows.
//
// Thread safety: everything here is immutable after static initialisation.
#ifndef SWITCHYARD_COMMON_CONFIG_PRESETS_H_
#define SWITCHYARD_COMMON_CONFIG_PRESETS_H_

#include <string>
#include <string_view>
#include <vector>

namespace switchyard::config {

// Sizes of one model. Meaning per family:
//   mlp:         layers = layers (the input map and layers - 1 hidden ones),
//                width = hidden width;
//   lstm:        layers = stacked LSTM layers, width = hidden size,
//                input_width = width of the input lookup feeding layer 1;
//   transformer, cisformer: layers = residual blocks, width = model width,
//                heads = attention heads, ffn_width = feed-forward width.
// Fields a family does not use are 0.
struct ModelSizes {
  int layers = 0;
  int width = 0;
  int heads = 0;
  int ffn_width = 0;
  int input_width = 0;

  bool operator==(const ModelSizes&) const = default;
};

struct Preset {
  std::string_view name;
  std::string_view model;  // "mlp", "lstm", "transformer", "cisformer"
  ModelSizes sizes;
};

// The whole table, in a stable order (for docs and tests).
const std::vector<Preset>& AllPresets();
// The preset names, each once, in table order ("paper", "paper_matched",
// "small"): the choices of the `preset` key.
std::vector<std::string> PresetNames();
// nullptr when the (preset, model) pair is not in the table.
const Preset* FindPreset(std::string_view preset, std::string_view model);

}  // namespace switchyard::config

#endif  // SWITCHYARD_COMMON_CONFIG_PRESETS_H_
