import NIOCore

/// Runs a Worker process's tasks on the event loop of its link to the server, which is also
/// the loop of its connections to containers: a request's frames, the Worker's code and the
/// container's exchange then share one thread, and nothing crosses between threads on the
/// way (no wake-up of another thread per request). Worker code that blocks holds up the
/// process's I/O, as on any event loop: it should await, not block.
final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
