import AsyncHTTPClient
import BerthCore
import NIOCore

extension ForwardingPolicy {
    /// The error a client gets when the container did not answer: the connection was refused,
    /// failed, or closed before a response head. Both proxies say the same; its code
    /// (`container_unreachable`) makes it a 502 in the one table of statuses; a container
    /// silent for `responseTimeout` gets ``silent(after:cause:)`` (504).
    public static func failure(_ error: any Error, responseTimeout: Duration? = nil) -> BerthError {
        // Berth's own refusal (``EngineSight/refusal``) says what happened already.
        if let error = error as? BerthError { return error }
        if case HTTPClientError.readTimeout? = error as? HTTPClientError { return silent(after: responseTimeout, cause: error) }
        return BerthError(
            .containerUnreachable, "the container did not answer: \(reason(error)); it may have crashed or closed the connection", cause: error
        )
    }

    /// The error when the container's connection broke after its response began. The
    /// response cannot be completed: the client's connection is cut, never handed a
    /// truncated body as a whole one.
    public static func interrupted(_ error: any Error, responseTimeout: Duration? = nil) -> BerthError {
        if case HTTPClientError.readTimeout? = error as? HTTPClientError {
            return BerthError(
                .timeout, "the container sent nothing for berth.limits.response_timeout\(limitText(responseTimeout)) in the middle of the response",
                cause: error
            )
        }
        return BerthError(.containerUnreachable, "the container closed the connection in the middle of the response", cause: error)
    }

    /// The error when a container stayed silent for `berth.limits.response_timeout` before
    /// its response head (504): the request is given up, the connection to it closed.
    public static func silent(after limit: Duration? = nil, cause: (any Error)? = nil) -> BerthError {
        BerthError(.timeout, "the container did not answer within berth.limits.response_timeout\(limitText(limit))", cause: cause)
    }

    private static func limitText(_ limit: Duration?) -> String {
        limit.map { " (\(DurationText.format($0)))" } ?? ""
    }

    /// Why a connection to a container failed, in words, for NIO's and AsyncHTTPClient's
    /// errors alike.
    public static func reason(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return closedText
            case .connectTimeout: return timeoutText
            case .deadlineExceeded: return "no response within 15 minutes"
            default: return "\(error)"
            }
        }
        switch error {
        case ChannelError.eof: return closedText
        case ChannelError.connectTimeout: return timeoutText
        case let error as IOError: return error.description
        default: return "\(error)"
        }
    }

    private static let closedText = "the connection was closed before a response"
    private static let timeoutText = "connecting timed out"

    /// Tells the object's ``RequestObserver`` (metrics, the dashboard's history) about one
    /// exchange, once the status the client gets is known: the container's response head,
    /// or Berth's own error (`failure` says why).
    public static func report(
        _ controller: ContainerController, status: Int, since started: ContinuousClock.Instant, failure: BerthError.Code? = nil
    ) {
        controller.requestObserver?.request(
            className: controller.className, status: status, duration: started.duration(to: .now), failure: failure
        )
    }
}
