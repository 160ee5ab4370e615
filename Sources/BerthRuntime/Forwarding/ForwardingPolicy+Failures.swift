import AsyncHTTPClient
import BerthCore
import HTTPTypes
import NIOCore

extension ForwardingPolicy {
    /// The status a client gets for a forwarding failure from ``failure(_:)``.
    ///
    /// The one place the status is chosen: when BerthCore's table of statuses by code takes
    /// over, this and ``status(for:)`` give way to it.
    public static let failureStatus = HTTPResponse.Status.badGateway

    /// The error a client gets when the container did not answer: the connection was refused,
    /// failed, or closed before a response head. Both proxies say the same.
    public static func failure(_ error: any Error) -> BerthError {
        BerthError(
            .engineError, "the container did not answer: \(reason(error)); it may have crashed or closed the connection", cause: error
        )
    }

    /// The error when the container's connection broke after its response began. The
    /// response cannot be completed: the client's connection is cut, never handed a
    /// truncated body as a whole one.
    public static func interrupted(_ error: any Error) -> BerthError {
        BerthError(.engineError, "the container closed the connection in the middle of the response", cause: error)
    }

    /// The HTTP status of a failure of forwarding (``failure(_:)``, ``interrupted(_:)``), nil
    /// for any other error.
    public static func status(for error: BerthError) -> HTTPResponse.Status? {
        error.code == .engineError && error.message.hasPrefix("the container") ? failureStatus : nil
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
