# Turns the page's files into a C++ source with the table EmbeddedAssets()
# returns (client/ui/assets.h). Run as a build step:
#   cmake -DWEB_SRC=<web/src> -DUPLOT_DIST=<web/node_modules/uplot/dist>
#         -DOUTPUT=<file.cc> -P embed_assets.cmake
# Every file under WEB_SRC is embedded under its path relative to WEB_SRC
# (index.html, app.js, ...); uPlot.iife.min.js and uPlot.min.css come from
# UPLOT_DIST. A missing uPlot (npm ci has not run) embeds placeholders that say
# so in the browser's console, with a warning here: the build goes on, but the
# page's charts will not draw.
if(NOT OUTPUT)
  message(FATAL_ERROR "embed_assets.cmake needs OUTPUT")
endif()

function(content_type_of name out)
  string(TOLOWER "${name}" lower)
  if(lower MATCHES "\\.html?$")
    set(type "text/html; charset=utf-8")
  elseif(lower MATCHES "\\.(js|mjs)$")
    set(type "text/javascript; charset=utf-8")
  elseif(lower MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(lower MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(lower MATCHES "\\.png$")
    set(type "image/png")
  elseif(lower MATCHES "\\.ico$")
    set(type "image/x-icon")
  elseif(lower MATCHES "\\.json$")
    set(type "application/json")
  elseif(lower MATCHES "\\.woff2$")
    set(type "font/woff2")
  elseif(lower MATCHES "\\.txt$")
    set(type "text/plain; charset=utf-8")
  else()
    set(type "application/octet-stream")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
endfunction()

set(data "")
set(entries "")
set(index 0)

# Appends one asset: `name` served as /assets/NAME, from `path` (a file) or,
# when path is empty, from the text `fallback`.
macro(add_asset name path fallback)
  if(NOT "${path}" STREQUAL "")
    file(READ "${path}" hex HEX)
  else()
    file(WRITE "${OUTPUT}.placeholder" "${fallback}")
    file(READ "${OUTPUT}.placeholder" hex HEX)
    file(REMOVE "${OUTPUT}.placeholder")
  endif()
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  # 32 bytes (128 characters) per line.
  set(line_pattern "")
  foreach(i RANGE 1 32)
    string(APPEND line_pattern "\\\\x[0-9a-f][0-9a-f]")
  endforeach()
  string(REGEX REPLACE "(${line_pattern})"
         "\\1\"\n    \"" escaped "${escaped}")
  content_type_of("${name}" type)
  string(APPEND data "constexpr char kAsset${index}[] =\n    \"${escaped}\";\n")
  string(APPEND entries "    {\"${name}\", \"${type}\", absl::string_view(kAsset${index}, ${size})},\n")
  math(EXPR index "${index} + 1")
endmacro()

if(WEB_SRC AND IS_DIRECTORY "${WEB_SRC}")
  file(GLOB_RECURSE files RELATIVE "${WEB_SRC}" "${WEB_SRC}/*")
  list(SORT files)
  foreach(file IN LISTS files)
    if(file MATCHES "(^|/)\\." OR file MATCHES "~$")
      continue()  # editor and hidden files
    endif()
    if(NOT file MATCHES "^[A-Za-z0-9_./-]+$")
      message(FATAL_ERROR "web/src/${file}: asset names may hold only letters, digits and _ . / -")
    endif()
    add_asset("${file}" "${WEB_SRC}/${file}" "")
  endforeach()
endif()

foreach(file uPlot.iife.min.js uPlot.min.css)
  if(UPLOT_DIST AND EXISTS "${UPLOT_DIST}/${file}")
    add_asset("${file}" "${UPLOT_DIST}/${file}" "")
  else()
    message(WARNING "${UPLOT_DIST}/${file} is missing: `switchyard ui` will serve a placeholder "
                    "and its charts will not draw. Run scripts/setup.sh (npm ci in web/) and rebuild.")
    if(file MATCHES "\\.js$")
      add_asset("${file}" "" "/* uPlot is missing from this build: run scripts/setup.sh (npm ci in web/) and rebuild switchyard. */\nconsole.error('switchyard ui: uPlot is missing from this build; run scripts/setup.sh (npm ci in web/) and rebuild switchyard');\n")
    else()
      add_asset("${file}" "" "/* uPlot is missing from this build: run scripts/setup.sh (npm ci in web/) and rebuild switchyard. */\n")
    endif()
  endif()
endforeach()

set(content "// Generated from web/src and uPlot by client/ui/embed_assets.cmake. Do not edit.
#include \"client/ui/assets.h\"

namespace switchyard::client::ui {
namespace {
${data}
const Asset kAssets[] = {
${entries}};
}  // namespace

const std::vector<Asset>& EmbeddedAssets() {
  static const std::vector<Asset>* const assets =
      new std::vector<Asset>(std::begin(kAssets), std::end(kAssets));
  return *assets;
}

}  // namespace switchyard::client::ui
")
# Rewrite only on change, so an unrelated reconfigure rebuilds nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
