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
        return unreachable(reason(error), cause: error)
    }

    /// The error when the container's connection broke after its response began (see
    /// ``cut(cause:)``), or went silent (``stalled(after:cause:)``).
    public static func interrupted(_ error: any Error, responseTimeout: Duration? = nil) -> BerthError {
        if case HTTPClientError.readTimeout? = error as? HTTPClientError { return stalled(after: responseTimeout, cause: error) }
        return cut(cause: error)
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
        return channelReason(error)
    }

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
