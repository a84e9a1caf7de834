// Small private state files (cursors, token, last user): written whole to PATH.tmp with mode
// 0600 and renamed over PATH, so a crash leaves either the old or the new version, never a mix.
// Blocking file I/O on the calling thread; the files are a few hundred bytes.
#pragma once

#include <string>
#include <string_view>

namespace parley::client {

// Writes all of `text` (retrying short writes and EINTR) and renames it into place. Returns
// false on any error, with the reason in `error` when given; the old file is then untouched.
bool write_private_file(const std::string& path, std::string_view text,
                        std::string* error = nullptr);

}  // namespace parley::client
