public import NIOCore

extension ForwardingPolicy {
    /// The error a client gets when the container did not answer (`reason`: the connection
    /// was refused, failed, or closed before a response head). Every proxy says the same; its
    /// code (`container_unreachable`) makes it a 502 in the one table of statuses.
    public static func unreachable(_ reason: String, cause: (any Error)? = nil) -> BerthError {
        BerthError(.containerUnreachable, "the container did not answer: \(reason); it may have crashed or closed the connection", cause: cause)
    }

    /// The error when a container stayed silent for `berth.limits.response_timeout` before
    /// its response head (504): the request is given up, the connection to it closed.
    public static func silent(after limit: Duration? = nil, cause: (any Error)? = nil) -> BerthError {
        BerthError(.timeout, "the container did not answer within berth.limits.response_timeout\(limitText(limit))", cause: cause)
    }

    /// The error when a container's response stopped for `berth.limits.response_timeout` in
    /// the middle of its body: the client's connection is cut.
    public static func stalled(after limit: Duration? = nil, cause: (any Error)? = nil) -> BerthError {
        BerthError(.timeout, "the container sent nothing for berth.limits.response_timeout\(limitText(limit)) in the middle of the response", cause: cause)
    }

    /// The error when the container's connection broke after its response began. The
    /// response cannot be completed: the client's connection is cut, never handed a
    /// truncated body as a whole one.
    public static func cut(cause: (any Error)? = nil) -> BerthError {
        BerthError(.containerUnreachable, "the container closed the connection in the middle of the response", cause: cause)
    }

    static func limitText(_ limit: Duration?) -> String {
        limit.map { " (\(DurationText.format($0)))" } ?? ""
    }

    /// Why a connection to a container failed, in words, for NIO's errors.
    public static func channelReason(_ error: any Error) -> String {
        switch error {
        case ChannelError.eof: return closedText
        case ChannelError.connectTimeout: return timeoutText
        case let error as IOError: return error.description
        default: return "\(error)"
        }
    }

    public static let closedText = "the connection was closed before a response"
    public static let timeoutText = "connecting timed out"
}
