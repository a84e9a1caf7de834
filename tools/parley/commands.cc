// The console's `:commands`: the table that names them, one handler each, and the rendering of
// their replies. Requests go through call(), which prints errors and counts what is in flight
// (a piped session quits only once everything was answered).
#include <algorithm>
#include <cstdlib>

#include "console_impl.h"

namespace parley::cli {

namespace dom = simdjson::dom;
using client::i64_of;
using client::json_quote;
using client::names_array;
using client::Reply;
using client::str_of;
using client::u64_of;

namespace {

constexpr int kDefaultHistory = 20;
constexpr int kMaxHistory = 200;
constexpr size_t kOnlinePage = 1000;  // names per `online` request
constexpr int kOnlinePages = 10;      // at most 10,000 names on screen

const char* kHelp =
    "Messages:\n"
    "  TEXT              send to the current conversation\n"
    "  @bob TEXT         send to bob (and make him the current conversation)\n"
    "  #team TEXT        send to the group team\n"
    "  @bob | #team      switch the current conversation\n"
    "  ::TEXT            send \":TEXT\" (a line starting with a space is sent as typed)\n"
    "Commands:\n"
    "  :switch @bob|#team   current conversation     :ls             conversations, unread\n"
    "  :history [N]         last N messages (20)     :olu, :online   who is online\n"
    "  :friends             friends and requests     :add USER       ask USER to be friends\n"
    "  :accept USER         accept a request         :unfriend USER  end or decline\n"
    "  :groups              your groups              :create GROUP [USER...]\n"
    "  :invite GROUP USER...   add members (owner)   :kick GROUP USER...  remove (owner)\n"
    "  :members [GROUP]     members and cursors      :leave [GROUP]  leave a group\n"
    "  :join GROUP          (groups are joined by invitation; explains how)\n"
    "  :watch USER...       presence of USER         :unwatch USER...\n"
    "  :status              connection and account   :help           this text\n"
    "  :q, :quit            quit (also Ctrl-D on an empty line, or Ctrl-C twice)\n"
    "Receipts: ✓ sent (stored by the server), ✓✓ delivered, ✓✓ read.";

// "@bob" → "bob".
std::string user_arg(const std::string& arg) { return arg[0] == '@' ? arg.substr(1) : arg; }

// The arguments from `from` on, as a JSON array of user names.
std::string users_from(const std::vector<std::string>& args, size_t from) {
  return names_array(std::span<const std::string>(args).subspan(std::min(from, args.size())));
}

}  // namespace

const std::vector<Console::Command>& Console::commands() {
  static const std::vector<Command> table = {
      {{"q", "quit", "exit"}, &Console::cmd_quit},
      {{"help", "h", "?"}, &Console::cmd_help},
      {{"switch", "s", "to"}, &Console::cmd_switch},
      {{"olu", "online", "who"}, &Console::cmd_online},
      {{"friends"}, &Console::cmd_friends},
      {{"add", "friend", "accept", "unfriend", "decline"}, &Console::cmd_friend_op},
      {{"groups"}, &Console::cmd_groups},
      {{"create"}, &Console::cmd_create},
      {{"invite", "kick"}, &Console::cmd_members_op},
      {{"join"}, &Console::cmd_join},
      {{"leave", "part"}, &Console::cmd_leave},
      {{"members"}, &Console::cmd_members},
      {{"history", "hist"}, &Console::cmd_history},
      {{"watch"}, &Console::cmd_watch},
      {{"unwatch"}, &Console::cmd_unwatch},
      {{"ls", "conversations", "list"}, &Console::cmd_ls},
      {{"status", "me"}, &Console::cmd_status},
  };
  return table;
}

void Console::command(const Input& in) {
  for (const auto& c : commands()) {
    if (std::find(c.names.begin(), c.names.end(), in.command) != c.names.end()) {
      (this->*c.run)(in);
      return;
    }
  }
  print("! unknown command :" + in.command + " (try :help)");
}

void Console::call(std::string_view op, std::string fields, std::function<void(dom::element)> fn) {
  ++inflight_;
  session_->request(op, std::move(fields),
                    [this, op = std::string(op), fn = std::move(fn)](const Reply& r) {
                      --inflight_;
                      if (!r.ok) {
                        print("! " + op + ": " + describe(r));
                        return;
                      }
                      dom::parser p;
                      dom::element e;
                      if (p.parse(r.json).get(e) != simdjson::SUCCESS) return;
                      fn(e);
                    });
}

std::string Console::describe(const Reply& r) {
  if (r.code == "disconnected") return "not connected";
  return r.code + (r.message.empty() ? "" : " (" + r.message + ")");
}

// The group named by argument `index` ("team" or "#team"), else the current group; "" if none.
std::string Console::group_arg(const Input& in, size_t index) const {
  if (in.args.size() > index) {
    const std::string& a = in.args[index];
    auto key = parse_conversation(a[0] == '#' ? a : "#" + a);
    return key ? key->substr(1) : "";
  }
  if (!current_.empty() && current_.front() == '#') return current_.substr(1);
  return "";
}

// ---- the handlers ---------------------------------------------------------------------------

void Console::cmd_quit(const Input&) {
  if (session_->online() && !idle()) {
    print("  waiting for the server to confirm what was sent…");
    quit_when_idle();
    return;
  }
  if (session_->pending_sends() > 0 && !quit_warned_) {
    quit_warned_ = true;
    print("! offline: " + std::to_string(session_->pending_sends()) +
          " message(s) not sent yet; :q again to quit anyway");
    return;
  }
  quit(kExitOk);
}

void Console::cmd_help(const Input&) { print(kHelp); }

void Console::cmd_switch(const Input& in) {
  auto key = in.args.size() == 1 ? parse_conversation(in.args[0]) : std::nullopt;
  if (!key) {
    print("usage: :switch @user | #group");
    return;
  }
  switch_to(*key);
}

void Console::cmd_online(const Input&) { list_online("", {}, 0); }

void Console::cmd_friends(const Input&) {
  call("friends", "", [this](dom::element e) { show_friends(e); });
}

void Console::cmd_friend_op(const Input& in) {
  const std::string& c = in.command;
  const char* op = c == "accept"                       ? "friend_accept"
                   : c == "unfriend" || c == "decline" ? "friend_remove"
                                                       : "friend_request";
  std::string done = c == "accept" ? "you are now friends with "
                     : c == "unfriend" || c == "decline"
                         ? "no longer friends (or request withdrawn): "
                         : "friend request sent to ";
  if (in.args.size() != 1) {
    print("usage: :" + c + " USER");
    return;
  }
  std::string u = user_arg(in.args[0]);
  call(op, "\"user\":" + json_quote(u),
       [this, u, done](dom::element) { print(stamp() + " * " + done + u); });
}

void Console::cmd_groups(const Input&) {
  call("groups", "", [this](dom::element e) { show_groups(e); });
}

void Console::cmd_create(const Input& in) {
  const auto& a = in.args;
  std::string g = a.empty() ? "" : a[0][0] == '#' ? a[0].substr(1) : a[0];
  if (a.empty() || !parse_conversation("#" + g)) {
    print("usage: :create GROUP [USER...]");
    return;
  }
  call("group_create", "\"group\":" + json_quote(g) + ",\"members\":" + users_from(a, 1),
       [this, g](dom::element) {
         print(stamp() + " * created #" + g + " (you are its owner)");
         switch_to("#" + g);
       });
}

void Console::cmd_members_op(const Input& in) {
  const std::string& c = in.command;
  std::string g = in.args.size() >= 2 ? group_arg(in, 0) : "";
  if (g.empty()) {
    print("usage: :" + c + " GROUP USER...");
    return;
  }
  bool add = c == "invite";
  call(add ? "group_add" : "group_remove",
       "\"group\":" + json_quote(g) + ",\"members\":" + users_from(in.args, 1),
       [this, g, add](dom::element) {
         print(stamp() + " * #" + g + ": " + (add ? "added" : "removed"));
       });
}

void Console::cmd_join(const Input&) {
  print(
      "Parley groups are joined by invitation: ask an owner of the group to run "
      ":invite GROUP " +
      options_.user + ". To start a group of your own: :create GROUP.");
}

void Console::cmd_leave(const Input& in) {
  std::string g = group_arg(in, 0);
  if (g.empty()) {
    print("usage: :leave GROUP (or switch to the group first)");
    return;
  }
  call("group_leave", "\"group\":" + json_quote(g), [this, g](dom::element) {
    print(stamp() + " * you left #" + g);
    if (current_ == "#" + g) {
      current_.clear();
      update_prompt();
    }
  });
}

void Console::cmd_members(const Input& in) {
  std::string g = group_arg(in, 0);
  if (g.empty()) {
    print("usage: :members GROUP (or switch to the group first)");
    return;
  }
  call("group_members", "\"group\":" + json_quote(g),
       [this, g](dom::element e) { show_members(g, e); });
}

void Console::cmd_history(const Input& in) {
  if (current_.empty()) {
    print("! no current conversation (:switch @user or #group first)");
    return;
  }
  int n = kDefaultHistory;
  if (!in.args.empty()) {
    n = std::atoi(in.args[0].c_str());
    if (n <= 0) {
      print("usage: :history [N]   (N from 1 to " + std::to_string(kMaxHistory) + ")");
      return;
    }
    n = std::min(n, kMaxHistory);
  }
  std::string conv = current_;
  call("history", client::Session::target_field(conv, "peer") + ",\"limit\":" + std::to_string(n),
       [this, conv](dom::element e) {
         dom::array arr;
         if (e["messages"].get(arr) != simdjson::SUCCESS) return;
         std::vector<std::string> lines;  // newest first, as the server sends them
         for (dom::element m : arr) {
           std::string body = str_of(m, "body");
           std::string ts = format_time(i64_of(m, "ts"), wall_ms());
           lines.push_back(
               ts + " " +
               (str_of(m, "type") == "system" ? "* " + body : str_of(m, "from") + ": " + body));
         }
         std::string label = conversation_label(conv);
         print("── " + label + ": last " + std::to_string(lines.size()) + " message(s) ──");
         for (auto it = lines.rbegin(); it != lines.rend(); ++it) print("  " + *it);
         print("── end of history " + label + " ──");
       });
}

void Console::cmd_watch(const Input& in) {
  if (in.args.empty()) {
    print("usage: :watch USER...");
    return;
  }
  session_->watch(in.args, [this](const Reply& r) {
    if (!r.ok) {
      print("! watch: " + describe(r));
      return;
    }
    for (const auto& p : client::parse_presence_list(r.json, "presence")) {
      presence_[p.user] = p.online;
      print(stamp() + " * watching " + p.user + ": " +
            (p.online          ? "online"
             : p.last_seen > 0 ? "offline, last seen " + format_time(p.last_seen, wall_ms())
                               : "offline, never seen"));
    }
  });
}

void Console::cmd_unwatch(const Input& in) {
  if (in.args.empty()) {
    print("usage: :unwatch USER...");
    return;
  }
  session_->unwatch(in.args, [this](const Reply& r) {
    if (!r.ok) print("! unwatch: " + describe(r));
  });
}

void Console::cmd_ls(const Input&) {
  if (known_.empty()) {
    print("no conversations yet: say hello with @user TEXT");
    return;
  }
  std::string line = stamp() + " conversations:";
  for (const auto& k : known_) {
    line += " " + conversation_label(k);
    auto it = unread_.find(k);
    if (it != unread_.end() && it->second > 0) line += " (" + std::to_string(it->second) + ")";
    if (k == current_) line += " *";
  }
  print(line);
}

void Console::cmd_status(const Input&) {
  print(options_.user + " (device " + options_.device + ") on " + options_.endpoint.display() +
        ": " + (session_->online() ? "online" : "offline") + ", " +
        std::to_string(session_->pending_sends()) + " message(s) awaiting ✓" +
        (cursors_.path().empty() ? "" : "; cursors in " + cursors_.path()));
}

// ---- replies --------------------------------------------------------------------------------

void Console::list_online(std::string after, std::vector<std::string> users, int pages) {
  std::string fields = "\"limit\":" + std::to_string(kOnlinePage);
  if (!after.empty()) fields += ",\"after\":" + json_quote(after);
  call("online", fields, [this, users = std::move(users), pages](dom::element e) mutable {
    dom::array arr;
    uint64_t count = u64_of(e, "count");
    size_t got = 0;
    if (e["users"].get(arr) == simdjson::SUCCESS) {
      for (dom::element u : arr) {
        std::string_view name;
        if (u.get(name) == simdjson::SUCCESS) users.emplace_back(name);
        ++got;
      }
    }
    if (got == kOnlinePage && !users.empty() && pages + 1 < kOnlinePages) {
      list_online(users.back(), std::move(users), pages + 1);
      return;
    }
    std::string line = stamp() + " online (" + std::to_string(count) + "):";
    for (const auto& u : users) line += " " + u;
    if (users.size() < count) line += " …";
    print(line);
  });
}

void Console::show_friends(dom::element e) {
  dom::array arr;
  std::string line = stamp() + " friends:";
  size_t n = 0;
  if (e["friends"].get(arr) == simdjson::SUCCESS) {
    for (dom::element f : arr) {
      bool on = client::bool_of(f, "online");
      int64_t seen = i64_of(f, "last_seen");
      line += std::string(n++ ? ", " : " ") + str_of(f, "user") +
              (on         ? " (online)"
               : seen > 0 ? " (last seen " + format_time(seen, wall_ms()) + ")"
                          : " (offline)");
    }
  }
  if (n == 0) line += " none yet (:add USER)";
  print(line);
  for (std::string_view dir : {"in", "out"}) {
    dom::array p;
    if (e["pending"][dir].get(p) != simdjson::SUCCESS || p.size() == 0) continue;
    std::string l = dir == "in" ? "  asking you (:accept USER):" : "  you asked:";
    for (dom::element u : p) {
      std::string_view name;
      if (u.get(name) == simdjson::SUCCESS) l += " " + std::string(name);
    }
    print(l);
  }
}

void Console::show_groups(dom::element e) {
  dom::array arr;
  if (e["groups"].get(arr) != simdjson::SUCCESS || arr.size() == 0) {
    print(stamp() + " groups: none (:create GROUP USER...)");
    return;
  }
  print(stamp() + " groups:");
  for (dom::element g : arr) {
    std::string name = str_of(g, "group");
    uint64_t head = u64_of(g, "head"), read = u64_of(g, "read");
    known_.insert("#" + name);
    print("  #" + name + " (" + str_of(g, "role") + ", " + std::to_string(u64_of(g, "members")) +
          " members" + (head > read ? ", " + std::to_string(head - read) + " unread" : "") + ")");
  }
}

void Console::show_members(const std::string& group, dom::element e) {
  dom::array arr;
  if (e["members"].get(arr) != simdjson::SUCCESS) return;
  std::string line = stamp() + " #" + group + ":";
  size_t n = 0;
  for (dom::element m : arr) {
    bool owner = str_of(m, "role") == "owner";
    bool on = client::bool_of(m, "online");
    std::string notes = owner && on ? "owner, online" : owner ? "owner" : on ? "online" : "";
    line += std::string(n++ ? ", " : " ") + str_of(m, "user") +
            (notes.empty() ? "" : " (" + notes + ")");
  }
  print(line);
}

}  // namespace parley::cli
