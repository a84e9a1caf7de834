// Runs blocking work (password hashing, file I/O) on libuv's thread pool so that it never holds
// a shard's loop, then its continuation back on that loop's thread.
#pragma once

#include <uv.h>

#include <utility>

namespace parley {

// `work()` runs on a pool thread, then `done()` on the thread of `loop`. If the pool refuses the
// job, both run here and now.
template <typename Work, typename Done>
void offload(uv_loop_t* loop, Work work, Done done) {
  struct Job {
    uv_work_t req;
    Work work;
    Done done;
  };
  auto* job = new Job{{}, std::move(work), std::move(done)};
  job->req.data = job;
  int rc = uv_queue_work(
      loop, &job->req, [](uv_work_t* r) { static_cast<Job*>(r->data)->work(); },
      [](uv_work_t* r, int status) {
        auto* j = static_cast<Job*>(r->data);
        if (status == 0) j->done();
        delete j;
      });
  if (rc != 0) {
    job->work();
    job->done();
    delete job;
  }
}

}  // namespace parley
