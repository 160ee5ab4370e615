import BerthAPI
import BerthCore
import BerthRuntime
import Foundation
import NIOCore

/// Follows the output of running instances as JSON lines: those running when it begins
/// (from `since`, default now), then each instance that starts, from its first line. Engine
/// log streams are opened per instance and closed when the reader goes away.
public struct LogTail: Sendable {
    let registry: ClassRegistry
    let events: InstanceEventHub
    let output: any InstanceOutput
    /// JSON lines (`berth tail`) or server-sent events (the dashboard).
    public var serverSentEvents = false

    public init(registry: ClassRegistry, events: InstanceEventHub, output: any InstanceOutput) {
        self.registry = registry
        self.events = events
        self.output = output
    }

    /// What to follow: one instance of one object.
    struct Target: Sendable {
        var className: String
        var object: String
        var instanceID: String
        var containerID: String
    }

    public func stream(className: String?, instance: String?, since: Date?) -> AsyncStream<ByteBuffer> {
        // Subscribe before looking at what runs, so that no start falls in between.
        let started = events.subscribe()
        return AsyncStream { continuation in
            let task = Task { await run(className: className, instance: instance, since: since, started: started, continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func run(
        className: String?, instance: String?, since: Date?, started: AsyncStream<(InstanceRecord, InstanceEvent)>,
        _ out: AsyncStream<ByteBuffer>.Continuation
    ) async {
        let wanted = { (classOf: String, instanceID: String) in
            (className == nil || classOf == className) && (instance == nil || instanceID.hasPrefix(instance!))
        }
        var followed: Set<String> = []
        await withTaskGroup(of: Void.self) { group in
            let from = since ?? Date()
            for containerClass in registry.all {
                for snapshot in await containerClass.snapshots() {
                    guard let containerID = snapshot.containerID, let instanceID = snapshot.instanceID, snapshot.state != ContainerStatus.stopping.name,
                          wanted(snapshot.className, instanceID), followed.insert(containerID).inserted else { continue }
                    let target = Target(className: snapshot.className, object: snapshot.objectName ?? snapshot.objectID, instanceID: instanceID, containerID: containerID)
                    group.addTask { await follow(target, from: from, out) }
                }
            }
            for await (record, event) in started {
                if Task.isCancelled { break }
                switch event {
                case .healthy, .adopted: break
                default: continue
                }
                guard let containerID = record.containerID, wanted(record.className, record.instanceID),
                      followed.insert(containerID).inserted else { continue }
                let target = Target(className: record.className, object: record.objectName ?? record.objectID, instanceID: record.instanceID, containerID: containerID)
                group.addTask { await follow(target, from: nil, out) }
            }
            group.cancelAll()
        }
        out.finish()
    }

    private func follow(_ target: Target, from: Date?, _ out: AsyncStream<ByteBuffer>.Continuation) async {
        let emit = { (type: String, stream: String?, line: String?) in
            let value = TailLine(type: type, time: Date(), className: target.className, object: target.object, instance: target.instanceID, stream: stream, line: line)
            guard let data = try? AdminJSON.encoder.encode(value) else { return }
            var buffer = ByteBuffer()
            if serverSentEvents { buffer.writeString("data: ") }
            buffer.writeBytes(data)
            buffer.writeString(serverSentEvents ? "\n\n" : "\n")
            out.yield(buffer)
        }
        emit("attach", nil, nil)
        do {
            for try await line in try await output.logLines(target.containerID, follow: true, since: from) {
                if Task.isCancelled { break }
                emit("log", line.stream, line.text)
            }
        } catch {
            // The container went away while being followed: its output has ended.
        }
        if !Task.isCancelled { emit("detach", nil, nil) }
    }
}
