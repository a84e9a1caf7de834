#include "terminal.h"

#include <editline/readline.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace parley::cli {
namespace {

Terminal* g_terminal = nullptr;  // libedit's callback interface is global; so is this

constexpr int kReplacement = 0xFFFD;  // U+FFFD for bytes that are not UTF-8

// Terminal columns taken by UTF-8 text (one per code point; good enough for a prompt).
size_t columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// One byte from `fd`, retrying EINTR; -1 at the end or on an error.
int read_byte(int fd) {
  unsigned char c;
  while (true) {
    ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return c;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
}

// The rest of the UTF-8 character that starts with `lead`, decoded to a code point. libedit's
// readline emulation turns whatever rl_getc_function returns into one wide character, so a
// multibyte character must be returned whole: byte by byte, "é" would become "Ã©".
int read_utf8_rest(int fd, int lead) {
  int len = lead >= 0xF0 && lead <= 0xF4   ? 4
            : lead >= 0xE0 && lead <= 0xEF ? 3
            : lead >= 0xC2 && lead <= 0xDF ? 2
                                           : 0;
  if (len == 0) return kReplacement;
  int cp = lead & (0x3F >> (len - 1));
  for (int i = 1; i < len; ++i) {
    int c = read_byte(fd);
    if (c < 0 || (c & 0xC0) != 0x80) return kReplacement;
    cp = (cp << 6) | (c & 0x3F);
  }
  static constexpr int kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kReplacement;
  return cp;
}

}  // namespace

Terminal::Terminal(uv_loop_t* loop, Listener& listener, bool interactive)
    : loop_(loop), listener_(listener), tty_(interactive) {}

Terminal::~Terminal() {
  if (g_terminal == this) g_terminal = nullptr;
}

void Terminal::start(const std::string& prompt, const std::string& history_path) {
  prompt_ = prompt;
  if (!tty_) return;  // piped commands wait for read_lines()
  g_terminal = this;
  rl_readline_name = "parley";
  rl_catch_signals = 0;
  rl_getc_function = read_key;  // before any call that initializes libedit
  using_history();
  stifle_history(1000);
  history_path_ = history_path;
  if (!history_path_.empty()) read_history(history_path_.c_str());
  rl_callback_handler_install(prompt_.c_str(), line_cb);
  editing_ = true;
  read_lines();
}

void Terminal::read_lines() {
  if (reading_ || stdin_closed_) return;
  reading_ = true;
  poll_ok_ = uv_poll_init(loop_, &poll_, 0) == 0;
  if (poll_ok_) {
    poll_.data = this;
    uv_poll_start(&poll_, UV_READABLE, readable_cb);
  } else {
    uv_idle_init(loop_, &idle_);
    idle_.data = this;
    uv_idle_start(&idle_, idle_cb);
  }
}

void Terminal::stop() {
  if (editing_) {
    editing_ = false;
    rl_callback_handler_remove();
    if (!history_path_.empty()) write_history(history_path_.c_str());
    std::fputs("\r\033[K", stdout);
    std::fflush(stdout);
  }
  if (g_terminal == this) g_terminal = nullptr;
  stdin_closed_ = true;
  if (reading_) {
    reading_ = false;
    uv_handle_t* h =
        poll_ok_ ? reinterpret_cast<uv_handle_t*>(&poll_) : reinterpret_cast<uv_handle_t*>(&idle_);
    uv_close(h, nullptr);
  }
}

// ---- output ----------------------------------------------------------------------------------

// Erases what libedit drew, prints, and lets libedit redraw. libedit's rl_line_buffer is not
// read anywhere: its readline emulation may leave it pointing at a stale conversion buffer.
// rl_point is refreshed after every key.
void Terminal::print(const std::string& line) {
  if (!editing_) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return;
  }
  std::string out = erase_input();
  out += line;
  out += "\r\n";
  redraw(out);
}

void Terminal::set_prompt(const std::string& prompt) {
  if (prompt == prompt_) return;
  prompt_ = prompt;
  if (!editing_) return;
  std::string out = erase_input();
  rl_set_prompt(prompt_.c_str());
  redraw(out);
}

void Terminal::resized() {
  if (editing_) rl_resize_terminal();
}

// The escape sequences that move to the start of the input area and clear it. The cursor
// row is estimated from characters, which is exact for ASCII and errs low for wide ones.
std::string Terminal::erase_input() const {
  if (stale_) return "\r\033[J";
  winsize ws{};
  size_t cols = ::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
  size_t before = columns(prompt_) + static_cast<size_t>(std::max(rl_point, 0));
  size_t rows_up = before / cols;
  std::string out;
  if (rows_up > 0) out += "\033[" + std::to_string(rows_up) + "A";
  return out + "\r\033[J";
}

// Writes `out` and puts the prompt and the line being typed back below it. Right after a line
// was entered libedit still holds it until the next key, so then only the prompt is drawn (the
// line is logically empty).
void Terminal::redraw(std::string out) {
  if (stale_) out += prompt_;
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!stale_) rl_forced_update_display();
}

// ---- input -----------------------------------------------------------------------------------

void Terminal::readable_cb(uv_poll_t* h, int status, int) {
  static_cast<Terminal*>(h->data)->on_readable(status);
}

void Terminal::idle_cb(uv_idle_t* h) { static_cast<Terminal*>(h->data)->read_piped(); }

void Terminal::on_readable(int status) {
  if (status < 0) {
    listener_.on_input_end(false);
    return;
  }
  if (!tty_) {
    read_piped();
    return;
  }
  line_entered_ = false;
  rl_callback_read_char();
  if (!editing_) return;
  if (eof_key_) {
    listener_.on_input_end(false);
    return;
  }
  if (line_entered_) {
    // libedit leaves its unbuffered (key by key) mode after a line, and its next read would
    // block the loop until Enter. Installing the handler again turns it back on.
    rl_callback_handler_install(prompt_.c_str(), line_cb);
    stale_ = true;
    return;
  }
  stale_ = false;
  if (typed_) {
    typed_ = false;
    listener_.on_keystroke(first_char_);
  }
}

void Terminal::read_piped() {
  char buf[4096];
  ssize_t n = ::read(0, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;  // try again when readable
  if (n <= 0) {
    if (!pending_line_.empty()) listener_.on_line(std::exchange(pending_line_, ""));
    if (stdin_closed_) return;
    stop();
    listener_.on_input_end(true);
    return;
  }
  pending_line_.append(buf, static_cast<size_t>(n));
  size_t nl;
  while (!stdin_closed_ && (nl = pending_line_.find('\n')) != std::string::npos) {
    std::string line = pending_line_.substr(0, nl);
    pending_line_.erase(0, nl + 1);
    listener_.on_line(line);
  }
}

void Terminal::line_cb(char* line) {
  Terminal* self = g_terminal;
  if (self == nullptr) {
    std::free(line);
    return;
  }
  if (line == nullptr) {  // Ctrl-D on an empty line
    self->listener_.on_input_end(false);
    return;
  }
  std::string text(line);
  std::free(line);
  self->line_entered_ = true;
  self->at_line_start_ = true;
  self->stale_ = true;  // what on_line prints must not redraw the entered line
  if (!text.empty()) add_history(text.c_str());
  self->listener_.on_line(text);
}

// libedit reads keys through this, so the terminal knows the first character of a line
// without reading rl_line_buffer. Returns one whole character (a code point).
int Terminal::read_key(FILE* in) {
  int fd = ::fileno(in);
  int c = read_byte(fd);
  if (c < 0) return EOF;
  if (c >= 0x80) c = read_utf8_rest(fd, c);
  Terminal* self = g_terminal;
  if (self == nullptr) return c;
  if (c == 0x15) {  // Ctrl-U: the line is empty again
    self->at_line_start_ = true;
  } else if (c == 0x04 && self->at_line_start_) {
    // Ctrl-D on an empty line. libedit's callback mode does not report it, so end the line
    // here and report the end once the read returns.
    self->eof_key_ = true;
    return '\n';
  } else if (c >= 0x20 && c != 0x7f) {
    if (self->at_line_start_) self->first_char_ = c;
    self->at_line_start_ = false;
    self->typed_ = true;
  }
  return c;
}

}  // namespace parley::cli
