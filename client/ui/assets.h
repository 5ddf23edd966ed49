// The page's files, embedded in the binary at build time by
// client/ui/embed_assets.cmake: every file of web/src (index.html, the
// scripts and styles) and uPlot (uPlot.iife.min.js, uPlot.min.css). Served
// by `switchyard ui` as /assets/NAME.
//
// Thread safety: immutable data.
#ifndef SWITCHYARD_CLIENT_UI_ASSETS_H_
#define SWITCHYARD_CLIENT_UI_ASSETS_H_

#include <iterator>
#include "absl/strings/string_view.h"
#include <vector>

namespace switchyard::client::ui {

struct Asset {
  absl::string_view path;          // "index.html", "app.js", "uPlot.min.css"
  absl::string_view content_type;  // "text/javascript; charset=utf-8"
  absl::string_view bytes;
};

// The table the build embedded, in path order.
const std::vector<Asset>& EmbeddedAssets();

}  // namespace switchyard::client::ui

#endif  // SWITCHYARD_CLIENT_UI_ASSETS_H_
