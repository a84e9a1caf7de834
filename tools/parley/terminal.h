// The console's input line and output: libedit's readline interface driven from the libuv
// loop, or plain lines when stdin is not a terminal. Lines printed with print() appear above
// the line being typed without garbling it. See docs/CLIENT.md ("Line editing: libedit") for
// the libedit 3.1 quirks worked around here.
//
// Threading: the loop's thread only. libedit's callback interface is global, so at most one
// Terminal may be started at a time.
#pragma once

#include <uv.h>

#include <string>

namespace parley::cli {

class Terminal {
 public:
  // What the user did. Called on the loop thread; the Listener may call stop() from inside.
  class Listener {
   public:
    virtual ~Listener() = default;
    // One line entered (terminal) or read (pipe), without its newline.
    virtual void on_line(const std::string& line) = 0;
    // A printable key was typed; `first_char` is the first character of the line so far.
    virtual void on_keystroke(int first_char) = 0;
    // Input is over. `piped`: stdin (not a terminal) reached its end, and the lines read were
    // all handed on. Otherwise Ctrl-D on an empty line, or stdin failed.
    virtual void on_input_end(bool piped) = 0;
  };

  // `interactive`: stdin and stdout are terminals, so the line is edited with libedit.
  Terminal(uv_loop_t* loop, Listener& listener, bool interactive);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Interactive: starts line editing at once with `prompt`, loading and later saving the
  // input history in `history_path` ("" for none). Piped: does nothing until read_lines().
  void start(const std::string& prompt, const std::string& history_path);
  // Piped: starts reading lines from stdin (the console calls it after the first login, so
  // scripted commands run rather than fail offline). Safe to call more than once.
  void read_lines();
  // Ends line editing (the history is saved) and stops reading stdin. Safe more than once.
  void stop();

  // Prints one line, above the input line when editing.
  void print(const std::string& line);
  // Changes the prompt, redrawing the input line when editing.
  void set_prompt(const std::string& prompt);
  // The terminal was resized (SIGWINCH).
  void resized();

  bool interactive() const { return tty_; }
  // libedit owns the bottom line of the terminal.
  bool editing() const { return editing_; }

 private:
  std::string erase_input() const;
  void redraw(std::string out);
  void on_readable(int status);
  void read_piped();
  static void readable_cb(uv_poll_t* h, int status, int events);
  static void idle_cb(uv_idle_t* h);
  static void line_cb(char* line);
  static int read_key(FILE* in);

  uv_loop_t* loop_;
  Listener& listener_;
  bool tty_;
  bool editing_ = false;       // libedit is installed and draws the input line
  bool reading_ = false;       // stdin is being watched (terminal keys or piped lines)
  bool stdin_closed_ = false;  // stop() ran, or piped input ended
  bool stale_ = false;         // a line was just entered; libedit clears it at the next key
  bool line_entered_ = false;  // set by line_cb during one rl_callback_read_char
  // Key tracking done in read_key, since libedit's line buffer is not reliable to read.
  bool at_line_start_ = true;  // nothing printable typed on this line yet
  bool typed_ = false;         // a printable key was read during this rl_callback_read_char
  bool eof_key_ = false;       // Ctrl-D on an empty line
  int first_char_ = 0;         // first printable character of the line being typed
  std::string prompt_;
  std::string history_path_;
  std::string pending_line_;  // piped input: a line not finished yet
  // stdin is watched with a poll handle; a regular file (`< commands.txt`) cannot be polled,
  // so it is read from an idle handle instead (reads from a file never block).
  uv_poll_t poll_;
  uv_idle_t idle_;
  bool poll_ok_ = false;
};

}  // namespace parley::cli
