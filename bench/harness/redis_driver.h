// The Redis target (--target redis://HOST:PORT): p2p and group run as Redis pub/sub relays, the
// way classic IM designs route every message through Redis. Each user holds two connections
// (SUBSCRIBE puts a connection in a mode where it cannot PUBLISH): one subscribed to its own
// channel (p2p) or its group's channel (group), one that PUBLISHes. The bench message is the
// cid (cid.h) and the body; the same verifier and latency histograms as against parleyd, where
// the PUBLISH reply stands for `ok` (nothing is stored: Redis pub/sub is fire and forget).
#pragma once

#include <memory>

#include "driver.h"
#include "shared.h"

namespace parley::bench {

// One worker's Redis driver; null if parley-bench was built without hiredis.
std::unique_ptr<MeasuringDriver> make_redis_driver(Shared& shared, int worker_id);

}  // namespace parley::bench
