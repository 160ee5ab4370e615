import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import NIOCore

/// One line of `berth tail`: a line a container wrote, or an instance starting or stopping
/// to be followed.
public struct TailLine: Sendable, Codable, Equatable {
    /// `log`, `attach` (an instance is followed from now) or `detach` (its output ended).
    public var type: String
    public var time: Date
    public var className: String
    public var object: String
    public var instance: String
    /// `stdout` or `stderr`, for `log`.
    public var stream: String?
    public var line: String?

    enum CodingKeys: String, CodingKey {
        case type, time, object, instance, stream, line
        case className = "class_name"
    }
}

/// Follows the output of running instances as JSON lines, picking up instances as they
/// start. Engine log streams are opened per instance and closed when the reader goes away.
struct LogTail: Sendable {
    let deployer: Deployer
    let client: DockerClient
    var pollInterval: Duration = .milliseconds(250)

    func stream(className: String?, instance: String?, since: Date?) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            let task = Task { await run(className: className, instance: instance, since: since, continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func run(className: String?, instance: String?, since: Date?, _ out: AsyncStream<ByteBuffer>.Continuation) async {
        let started = Date()
        var followed: Set<String> = []
        await withTaskGroup(of: Void.self) { group in
            var first = true
            while !Task.isCancelled {
                let classes = deployer.registry.all.filter { className == nil || $0.className == className }
                for containerClass in classes {
                    for snapshot in await containerClass.snapshots() {
                        guard let containerID = snapshot.containerID, let instanceID = snapshot.instanceID,
                              snapshot.state != "stopping", !followed.contains(containerID) else { continue }
                        if let instance, !instanceID.hasPrefix(instance) { continue }
                        followed.insert(containerID)
                        // Instances running when the tail began: from `since` (default: now).
                        // Instances that start later: from their beginning.
                        let from: Date? = first ? (since ?? started) : nil
                        group.addTask { await follow(snapshot, containerID: containerID, from: from, out) }
                    }
                }
                first = false
                try? await Task.sleep(for: pollInterval)
            }
            group.cancelAll()
        }
        out.finish()
    }

    private func follow(_ snapshot: ObjectSnapshot, containerID: String, from: Date?, _ out: AsyncStream<ByteBuffer>.Continuation) async {
        let object = snapshot.objectName ?? snapshot.objectID
        let instance = snapshot.instanceID ?? "-"
        let emit = { (type: String, stream: String?, line: String?) in
            let value = TailLine(type: type, time: Date(), className: snapshot.className, object: object, instance: instance, stream: stream, line: line)
            if var data = try? AdminJSON.encoder.encode(value) {
                data.append(0x0A)
                out.yield(ByteBuffer(bytes: data))
            }
        }
        emit("attach", nil, nil)
        var options = LogOptions()
        options.follow = true
        options.since = from.map { $0.timeIntervalSince1970 }
        do {
            for try await line in try await client.logLines(containerID, options: options) {
                if Task.isCancelled { break }
                emit("log", line.stream.rawValue, line.text)
            }
        } catch {
            // The container went away while being followed: its output has ended.
        }
        if !Task.isCancelled { emit("detach", nil, nil) }
    }
}
