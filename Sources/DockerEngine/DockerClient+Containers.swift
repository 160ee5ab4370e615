import BerthCore
import Foundation
import NIOCore

extension DockerClient {
    /// Creates a container and returns its id. Published ports bind to the spec's address
    /// (loopback by default) on ephemeral host ports: read them from ``inspectContainer(_:)``.
    public func createContainer(_ spec: ContainerSpec) async throws(BerthError) -> String {
        struct Created: Decodable {
            var Id: String
            var Warnings: [String]?
        }
        let body = try Self.json(spec)
        let created: Created = try await sendJSON(Request(
            method: .POST, path: "/containers/create", query: [("name", spec.name)],
            headers: [("Content-Type", "application/json")], body: .bytes(ByteBuffer(string: body)),
            operation: "create a container from \(spec.image)"
        ))
        for warning in created.Warnings ?? [] where !warning.isEmpty {
            logger.warning("engine warning on create", metadata: ["container": "\(created.Id)", "warning": "\(warning)"])
        }
        return created.Id
    }

    /// Starts a created or stopped container; starting a running one is not an error.
    public func startContainer(_ id: String) async throws(BerthError) {
        try await sendDiscardingBody(Request(method: .POST, path: "/containers/\(id)/start", operation: "start container \(id)"))
    }

    /// Sends the stop signal, waits up to `timeout` seconds, then kills. Returns when the
    /// container has stopped; stopping a stopped container is not an error.
    public func stopContainer(_ id: String, timeout: Int? = nil) async throws(BerthError) {
        let grace = timeout ?? 10
        try await sendDiscardingBody(Request(
            method: .POST, path: "/containers/\(id)/stop", query: [("t", timeout.map(String.init))],
            timeout: .seconds(Int64(grace) + 60), operation: "stop container \(id)"
        ))
    }

    /// Sends a signal (default `SIGKILL`) to the container's main process.
    public func killContainer(_ id: String, signal: String = "SIGKILL") async throws(BerthError) {
        try await sendDiscardingBody(Request(
            method: .POST, path: "/containers/\(id)/kill", query: [("signal", signal)],
            operation: "send \(signal) to container \(id)"
        ))
    }

    /// Removes a container; `force` kills it first if it runs.
    public func removeContainer(_ id: String, force: Bool = false, removeVolumes: Bool = true) async throws(BerthError) {
        try await sendDiscardingBody(Request(
            method: .DELETE, path: "/containers/\(id)",
            query: [("force", force ? "1" : "0"), ("v", removeVolumes ? "1" : "0")],
            operation: "remove container \(id)"
        ))
    }

    /// The container's configuration and state, including its published ports.
    public func inspectContainer(_ id: String) async throws(BerthError) -> ContainerDetails {
        try await sendJSON(Request(path: "/containers/\(id)/json", operation: "inspect container \(id)"))
    }

    /// Waits until the container reaches `condition` and returns its exit code.
    public func waitContainer(_ id: String, condition: WaitCondition = .notRunning) async throws(BerthError) -> Int {
        struct Waited: Decodable {
            struct WaitError: Decodable { var Message: String? }
            var StatusCode: Int
            var Error: WaitError?
        }
        let result: Waited = try await sendJSON(Request(
            method: .POST, path: "/containers/\(id)/wait", query: [("condition", condition.rawValue)],
            operation: "wait for container \(id)"
        ))
        if let message = result.Error?.Message, !message.isEmpty {
            throw BerthError(.engineError, "wait for container \(id): \(message)")
        }
        return result.StatusCode
    }

    /// Lists containers carrying every label in `labels` (`key` or `key=value`).
    public func listContainers(all: Bool = true, labels: [String] = []) async throws(BerthError) -> [ContainerSummary] {
        var filters: [String: [String]] = [:]
        if !labels.isEmpty { filters["label"] = labels }
        return try await sendJSON(Request(
            path: "/containers/json",
            query: [("all", all ? "1" : "0"), ("filters", filters.isEmpty ? nil : try Self.json(filters))],
            operation: "list containers"
        ))
    }
}
