public import HTTPTypes
import Foundation
package import NIOCore

/// An HTTP request as a Worker receives it and passes it on to a container.
public struct Request: Sendable {
    public var head: HTTPRequest
    public var body: Body
    /// The client's address, when known.
    public var clientAddress: String?
    /// The event loop of the client's connection, when it came through the gateway: a
    /// container's WebSocket for it is opened there, so the relay's two sides share a thread.
    package var eventLoop: (any EventLoop)?

    public init(head: HTTPRequest, body: Body = .empty, clientAddress: String? = nil) {
        self.head = head
        self.body = body
        self.clientAddress = clientAddress
    }

    /// A request for `path` (with its query), for tests and for Workers that make their own.
    public init(method: HTTPRequest.Method = .get, path: String, headers: HTTPFields = [:], body: Body = .empty) {
        self.init(head: HTTPRequest(method: method, scheme: "http", authority: "worker", path: path, headerFields: headers), body: body)
    }

    public var method: HTTPRequest.Method { head.method }
    public var headers: HTTPFields {
        get { head.headerFields }
        set { head.headerFields = newValue }
    }

    /// The path with its query, e.g. `/container/1?x=2`.
    public var path: String { head.path ?? "/" }

    /// The path without the query: what Cloudflare's `new URL(request.url).pathname` gives.
    public var pathname: String {
        String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/")
    }

    /// A query parameter's value.
    public func query(_ name: String) -> String? {
        Self.query(name, in: path)
    }

    /// A query parameter's value in `path` (a path with its query).
    public static func query(_ name: String, in path: String) -> String? {
        guard let question = path.firstIndex(of: "?") else { return nil }
        for pair in path[path.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first.map(String.init) == name {
                return parts.count == 2 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            }
        }
        return nil
    }
}
