import BerthCore
import BerthRuntime
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// An ``EngineDriver`` in memory, for the fast in-process test tier: images are records
/// (a build reads the Dockerfile's `EXPOSE` lines), and each instance is a real HTTP
/// listener on a loopback port (``MemoryInstanceServer``), so that starts, readiness,
/// proxying, idle stops, adoption after a restart and reconciliation run through the same
/// code as on the engine, in milliseconds. It records every call, and tests can make an
/// instance exit, write log lines, or make builds and starts fail.
public final class MemoryEngine: EngineDriver {
    public struct Container: Sendable {
        public var id: String
        public var spec: InstanceSpec
        public var running: Bool
        public var exitCode: Int?
        public var created: Date
        /// Stop signals received, in order (`SIGTERM`, `SIGKILL`).
        public var signals: [String] = []
        var endpoints: [Int: Endpoint]
        var servers: [MemoryInstanceServer]
        var logs: [InstanceLogLine] = []
    }

    public struct Image: Sendable {
        public var id: String
        public var tags: [String]
        public var exposedPorts: [Int]
        public var labels: [String: String]
        public var created: Date
    }

    struct State {
        var containers: [String: Container] = [:]
        var images: [String: Image] = [:]
        var exitWaiters: [String: [CheckedContinuation<Int, Never>]] = [:]
        var logFollowers: [String: [Int: AsyncThrowingStream<InstanceLogLine, any Error>.Continuation]] = [:]
        var nextFollower = 0
        var calls: [String] = []
        var buildFailure: String?
        var startFailure: BerthError?
        var exitOnStart: Int?
        var holdingStarts = false
        var heldStarts: [CheckedContinuation<Void, Never>] = []
        var available = true
        var pushed: [String] = []
    }

    private let state = Mutex(State())
    private let group: any EventLoopGroup

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    // MARK: What tests look at and do

    /// Every call so far, as `operation argument` (`start web`, `stop 3f2a…`, `build …`).
    public var calls: [String] { state.withLock { $0.calls } }
    public var containers: [Container] { state.withLock { Array($0.containers.values) }.sorted { $0.created < $1.created } }
    public var running: [Container] { containers.filter(\.running) }
    public var images: [Image] { state.withLock { Array($0.images.values) } }
    /// `repository:tag` of every push.
    public var pushed: [String] { state.withLock { $0.pushed } }

    /// Makes builds fail with `message` (nil: succeed again).
    public func failBuilds(_ message: String?) { state.withLock { $0.buildFailure = message } }
    /// Makes container starts fail with `error` (nil: succeed again).
    public func failStarts(with error: BerthError?) { state.withLock { $0.startFailure = error } }
    /// Makes every container exit with `code` as soon as it starts (nil: run again), as a
    /// crashing program does: the container is left stopped and the error names it.
    public func exitOnStart(_ code: Int?) { state.withLock { $0.exitOnStart = code } }
    /// Holds every start (after recording it) until ``releaseStarts()``.
    public func holdStarts() { state.withLock { $0.holdingStarts = true } }
    /// Lets every held start, and later ones, through.
    public func releaseStarts() {
        let held = state.withLock { state in
            state.holdingStarts = false
            defer { state.heldStarts = [] }
            return state.heldStarts
        }
        for start in held { start.resume() }
    }
    /// Starts waiting in ``holdStarts()``.
    public var heldStartCount: Int { state.withLock { $0.heldStarts.count } }
    /// How many calls of one operation (`start`, `stop`, `kill`, `remove`, `build`…) were made.
    public func count(_ operation: String) -> Int { calls.filter { $0 == operation || $0.hasPrefix(operation + " ") }.count }
    /// Containers that exist now, running or not.
    public var containerIDs: [String] { state.withLock { $0.containers.keys.sorted() } }
    /// What the container was started with.
    public func spec(_ containerID: String) -> InstanceSpec? { state.withLock { $0.containers[containerID]?.spec } }
    /// An image that exists without a build (controller tests name an image and start it).
    public func addImage(_ reference: String, exposedPorts: [Int] = [8080]) {
        let id = "sha256:" + Hex.random(bytes: 32)
        state.withLock { $0.images[id] = Image(id: id, tags: [reference], exposedPorts: exposedPorts, labels: [:], created: Date()) }
    }
    /// Makes the engine unreachable (`ping` and every call fail) or reachable again.
    public func setAvailable(_ available: Bool) { state.withLock { $0.available = available } }

    /// The container exits on its own with `code`, as a crash does.
    public func exit(_ containerID: String, code: Int) {
        finish(containerID, code: code)
    }

    /// The container writes a line to `stream`.
    public func write(_ containerID: String, _ text: String, stream: String = "stdout") {
        let line = InstanceLogLine(stream: stream, text: text)
        let followers = state.withLock { state -> [AsyncThrowingStream<InstanceLogLine, any Error>.Continuation] in
            state.containers[containerID]?.logs.append(line)
            return Array((state.logFollowers[containerID] ?? [:]).values)
        }
        for follower in followers { follower.yield(line) }
    }

    /// Creates a running container as an earlier server would have left it (labels and all).
    public func plant(_ spec: InstanceSpec) async throws -> String {
        try await startInstance(spec).containerID
    }

    /// Stops every listener (the end of a test).
    public func shutdown() {
        for container in containers { finish(container.id, code: 0) }
    }

    // MARK: ContainerRuntime

    public func startInstance(_ spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        _ = try record("start \(spec.labels[BerthLabel.className] ?? spec.image)") { _ in nil as String? }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let held = state.withLock { state in
                if state.holdingStarts { state.heldStarts.append(continuation) }
                return state.holdingStarts
            }
            if !held { continuation.resume() }
        }
        if let failure = state.withLock({ $0.startFailure }) { throw failure }
        guard state.withLock({ state in state.images.values.contains { $0.id == spec.image || $0.tags.contains(spec.image) } }) else {
            throw BerthError(.notFound, "no such image: \(spec.image)")
        }
        let id = Hex.random(bytes: 32)
        state.withLock { state in
            state.containers[id] = Container(id: id, spec: spec, running: false, created: Date(), endpoints: [:], servers: [])
        }
        return try await run(id, spec)
    }

    public func restartInstance(_ containerID: String, spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        let exists = try record("restart \(containerID)") { $0.containers[containerID].map { !$0.running } }
        guard exists == true else { throw BerthError(.notFound, "no stopped container \(containerID)") }
        return try await run(containerID, spec)
    }

    /// Starts the stopped container `id`: its listeners, or its exit when starts exit at once.
    private func run(_ id: String, _ spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        if let code = state.withLock({ $0.exitOnStart }) {
            state.withLock { $0.containers[id]?.exitCode = code }
            throw BerthError(.startFailed, "the container exited with code \(code) as soon as it started", cause: InstanceExited(exitCode: code, containerID: id))
        }
        var servers: [MemoryInstanceServer] = []
        var endpoints: [Int: Endpoint] = [:]
        do {
            for port in spec.ports {
                let server = try await MemoryInstanceServer.start(environment: spec.environment, group: group)
                servers.append(server)
                endpoints[port] = Endpoint(host: "127.0.0.1", port: server.port)
            }
        } catch {
            for server in servers { server.stop() }
            state.withLock { _ = $0.containers.removeValue(forKey: id) }
            throw BerthError(.engineError, "could not listen on loopback: \(error)")
        }
        state.withLock { state in
            state.containers[id]?.running = true
            state.containers[id]?.exitCode = nil
            state.containers[id]?.endpoints = endpoints
            state.containers[id]?.servers = servers
        }
        return RunningInstance(containerID: id, endpoints: endpoints)
    }

    public func stopInstance(_ containerID: String, signal: String, grace: Duration) async throws(BerthError) {
        _ = try record("stop \(containerID)") { _ in nil as String? }
        state.withLock { $0.containers[containerID]?.signals.append(signal) }
        // As a process ended by SIGTERM reports it: 128 + 15.
        finish(containerID, code: 143)
    }

    public func killInstance(_ containerID: String) async throws(BerthError) {
        _ = try record("kill \(containerID)") { _ in nil as String? }
        state.withLock { $0.containers[containerID]?.signals.append("SIGKILL") }
        finish(containerID, code: 137)
    }

    public func removeInstance(_ containerID: String) async {
        _ = try? record("remove \(containerID)") { _ in nil as String? }
        finish(containerID, code: -1)
        state.withLock { _ = $0.containers.removeValue(forKey: containerID) }
    }

    public func waitForExit(_ containerID: String) async throws(BerthError) -> Int {
        await withCheckedContinuation { continuation in
            let code: Int? = state.withLock { state in
                guard let container = state.containers[containerID] else { return -1 }
                if !container.running { return container.exitCode ?? -1 }
                state.exitWaiters[containerID, default: []].append(continuation)
                return nil
            }
            if let code { continuation.resume(returning: code) }
        }
    }

    public func listInstances(labels: [String]) async throws(BerthError) -> [InstanceSummary] {
        _ = try record("list \(labels.joined(separator: ","))") { _ in nil as String? }
        let wanted = labels.map { label -> (String, String?) in
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : nil)
        }
        return containers.filter { container in
            wanted.allSatisfy { key, value in value.map { container.spec.labels[key] == $0 } ?? (container.spec.labels[key] != nil) }
        }.map { InstanceSummary(containerID: $0.id, labels: $0.spec.labels, running: $0.running, created: $0.created) }
    }

    public func runningInstance(_ containerID: String) async throws(BerthError) -> RunningInstance {
        guard let container = state.withLock({ $0.containers[containerID] }), container.running else {
            throw BerthError(.notFound, "no running container \(containerID)")
        }
        return RunningInstance(containerID: containerID, endpoints: container.endpoints)
    }

    // MARK: ImageStore

    public func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (ImageBuildEvent) -> Void) async throws(BerthError) -> String {
        let failure = try record("build \(request.tags.joined(separator: ","))") { $0.buildFailure }
        if let failure { throw BerthError(.buildFailed, "building \(request.contextDirectory) failed: \(failure)") }
        let dockerfile = request.dockerfile.hasPrefix("/") ? request.dockerfile : request.contextDirectory + "/" + request.dockerfile
        guard let text = try? String(contentsOfFile: dockerfile, encoding: .utf8) else {
            throw BerthError(.buildFailed, "building \(request.contextDirectory) failed: no Dockerfile at \(dockerfile)")
        }
        let instructions = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        var ports: [Int] = []
        for (index, line) in instructions.enumerated() {
            progress(.step(number: index + 1, total: instructions.count, instruction: line))
            if line.uppercased().hasPrefix("EXPOSE ") {
                ports += line.dropFirst(7).split(separator: " ").compactMap { Int($0.split(separator: "/").first ?? "") }
            }
        }
        let id = "sha256:" + Hex.random(bytes: 32)
        state.withLock { state in
            for tag in request.tags {
                for key in state.images.keys { state.images[key]?.tags.removeAll { $0 == tag } }
            }
            state.images[id] = Image(id: id, tags: request.tags, exposedPorts: ports.sorted(), labels: request.labels, created: Date())
        }
        return id
    }

    public func pullImage(_ reference: String, progress: @escaping @Sendable (ImageBuildEvent) -> Void) async throws(BerthError) {
        _ = try record("pull \(reference)") { _ in nil as String? }
        throw BerthError(.engineError, "pull \(reference): the in-memory engine reaches no registry")
    }

    public func inspectImage(_ reference: String) async throws(BerthError) -> ImageInfo {
        guard let image = state.withLock({ $0.images.values.first { $0.id == reference || $0.tags.contains(reference) } }) else {
            throw BerthError(.notFound, "no such image: \(reference)")
        }
        return ImageInfo(id: image.id, exposedPorts: image.exposedPorts)
    }

    public func listImages(labels: [String]) async throws(BerthError) -> [ImageRecord] {
        images.filter { image in
            labels.allSatisfy { label in
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count > 1 ? image.labels[parts[0]] == parts[1] : image.labels[parts[0]] != nil
            }
        }.map { ImageRecord(id: $0.id, tags: $0.tags, created: $0.created, size: 1 << 20) }
    }

    public func tagImage(_ source: String, repository: String, tag: String) async throws(BerthError) {
        let found = state.withLock { state -> Bool in
            guard let key = state.images.first(where: { $0.key == source || $0.value.tags.contains(source) })?.key else { return false }
            state.images[key]?.tags.append("\(repository):\(tag)")
            return true
        }
        if !found { throw BerthError(.notFound, "no such image: \(source)") }
    }

    public func removeImage(_ reference: String) async throws(BerthError) -> ImageRemoval {
        _ = try record("remove image \(reference)") { _ in nil as String? }
        let removal = state.withLock { state -> ImageRemoval? in
            guard let key = state.images.first(where: { $0.key == reference || $0.value.tags.contains(reference) })?.key else { return nil }
            state.images[key]?.tags.removeAll { $0 == reference }
            if state.images[key]?.tags.isEmpty == true {
                state.images[key] = nil
                return ImageRemoval(untagged: [reference], deleted: [key])
            }
            return ImageRemoval(untagged: [reference], deleted: [])
        }
        guard let removal else { throw BerthError(.notFound, "no such image: \(reference)") }
        return removal
    }

    public func pushImage(
        repository: String, tag: String, credentials: RegistryCredentials, progress: @escaping @Sendable (String) -> Void
    ) async throws(BerthError) {
        _ = try record("push \(repository):\(tag)") { _ in nil as String? }
        state.withLock { $0.pushed.append("\(repository):\(tag)") }
        progress("\(tag): digest: sha256:\(Hex.random(bytes: 32))")
    }

    // MARK: InstanceOutput

    public func logLines(_ containerID: String, follow: Bool, since: Date?) async throws(BerthError) -> AsyncThrowingStream<InstanceLogLine, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: InstanceLogLine.self)
        let past: [InstanceLogLine]? = state.withLock { state in
            guard let container = state.containers[containerID] else { return nil }
            if follow && container.running {
                state.nextFollower += 1
                let token = state.nextFollower
                state.logFollowers[containerID, default: [:]][token] = continuation
                continuation.onTermination = { [weak self] _ in
                    self?.state.withLock { _ = $0.logFollowers[containerID]?.removeValue(forKey: token) }
                }
            }
            return since == nil ? container.logs : []
        }
        guard let past else { throw BerthError(.notFound, "no such container: \(containerID)") }
        for line in past { continuation.yield(line) }
        if !follow { continuation.finish() }
        return stream
    }

    public func stats(_ containerID: String) async throws(BerthError) -> InstanceStats {
        guard let container = state.withLock({ $0.containers[containerID] }), container.running else {
            throw BerthError(.notFound, "no running container \(containerID)")
        }
        let elapsed = UInt64(max(0, Date().timeIntervalSince(container.created)) * 1e9)
        return InstanceStats(
            cpuNanoseconds: elapsed / 10, systemCPUNanoseconds: elapsed, onlineCPUs: 2, memoryBytes: 4 << 20,
            memoryLimitBytes: UInt64(container.spec.memoryBytes ?? 1 << 30)
        )
    }

    public func ping() async throws(BerthError) {
        _ = try record("ping") { _ in nil as String? }
    }

    // MARK: Internals

    /// Records a call; throws `engineUnavailable` while the engine is made unreachable.
    private func record<T>(_ call: String, _ read: (State) -> T) throws(BerthError) -> T {
        let (available, value) = state.withLock { state in
            state.calls.append(call)
            return (state.available, read(state))
        }
        guard available else { throw BerthError(.engineUnavailable, "cannot reach the in-memory engine: it was made unavailable") }
        return value
    }

    /// The container stops with `code`: its listeners close, waiters and log followers end.
    private func finish(_ containerID: String, code: Int) {
        let (servers, waiters, followers) = state.withLock { state in
            guard var container = state.containers[containerID], container.running else {
                return ([MemoryInstanceServer](), [CheckedContinuation<Int, Never>](), [AsyncThrowingStream<InstanceLogLine, any Error>.Continuation]())
            }
            container.running = false
            container.exitCode = code
            let servers = container.servers
            container.servers = []
            state.containers[containerID] = container
            let waiters = state.exitWaiters.removeValue(forKey: containerID) ?? []
            let followers = Array((state.logFollowers.removeValue(forKey: containerID) ?? [:]).values)
            return (servers, waiters, followers)
        }
        for server in servers { server.stop() }
        for waiter in waiters { waiter.resume(returning: code) }
        for follower in followers { follower.finish() }
    }
}
