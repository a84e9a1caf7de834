#include "parley/chat/chat.h"

#include "impl.h"

namespace parley::chat {
namespace {

thread_local ChatShard* tl_chat = nullptr;

}  // namespace


uint64_t name_hash(std::string_view name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

int owner_of_user(std::string_view name, int shards) {
  return static_cast<int>(name_hash(name) % static_cast<uint64_t>(shards));
}

int owner_of_conv(const ConvId& conv, int shards) {
  return static_cast<int>(conv.hash() % static_cast<uint64_t>(shards));
}

uint64_t max_uid(const store::Store& st, std::string& error) {
  uint64_t best = 0;
  bool ok = st.scan("u", "", [&](std::string_view, std::string_view value) {
    UserRecord r;
    if (decode_user(value, r)) best = std::max(best, r.uid);
    return true;
  });
  if (!ok) error = "cannot read the user table";
  return best;
}


// ---- ChatShard -----------------------------------------------------------------------------

ChatShard::ChatShard(shard::Shard& shard, const Services& services)
    : impl_(std::make_unique<Impl>(*this, shard, services)) {
  assert(shard.is_current());
  tl_chat = this;
  Impl* impl = impl_.get();
  shard.add_tick_hook([impl] {
    if (!impl->batch.pending()) return;
    auto t0 = std::chrono::steady_clock::now();
    impl->batch.commit();
    ChatShard::Stats& st = impl->stats();
    ++st.commits;
    st.commit_latency.observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count()));
  });
  impl->start_sweeper();
  // At exit ~ShardBatch writes whatever is still pending (the handler, and with it this object,
  // is destroyed on this thread after the loop has ended).
}

ChatShard::~ChatShard() {
  if (tl_chat == this) tl_chat = nullptr;
}

ChatShard* ChatShard::current() { return tl_chat; }

bool ChatShard::load(std::string& error) { return impl_->load(error); }

void ChatShard::on_request(net::Connection& c, proto::Request& req) { impl_->on_request(c, req); }

void ChatShard::on_bad_frame(net::Connection& c, std::string frame) {
  impl_->on_bad_frame(c, std::move(frame));
}

bool ChatShard::logging_in(net::Connection& c) const {
  auto* s = static_cast<Session*>(c.context());
  return s != nullptr && s->state == Session::State::kLoggingIn;
}

void ChatShard::on_close(net::Connection& c) { impl_->on_close(c); }

void ChatShard::on_drain(net::Connection& c) { impl_->on_drain(c); }

}  // namespace parley::chat
