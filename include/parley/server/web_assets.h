// The web chat client (web/), compiled into parleyd at build time by tools/embed_web.py.
#pragma once

#include <string_view>

namespace parley::server {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view type;  // Content-Type
  std::string_view body;
};

// The asset served at `path` ("/" is /index.html), or nullptr.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace parley::server
