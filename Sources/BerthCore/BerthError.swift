/// The one error type of Berth.
///
/// Every error a user can see says what was wrong and what to do. Modules throw `BerthError`
/// with a ``Code`` that the edges (CLI exit codes, HTTP statuses) map to their own vocabulary.
public struct BerthError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    /// What kind of failure this is; stable, meant for programs.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The configuration is missing or invalid.
        public static let invalidConfig = Code("invalid_config")
        /// An argument or request is malformed.
        public static let invalidInput = Code("invalid_input")
        /// The named thing (container, image, object, file) does not exist.
        public static let notFound = Code("not_found")
        /// The operation conflicts with the current state (name in use, already running…).
        public static let conflict = Code("conflict")
        /// The container engine cannot be reached.
        public static let engineUnavailable = Code("engine_unavailable")
        /// The container engine answered with an error.
        public static let engineError = Code("engine_error")
        /// An image build failed.
        public static let buildFailed = Code("build_failed")
        /// An operation did not finish in time.
        public static let timeout = Code("timeout")
        /// No capacity is left (for example `max_instances`).
        public static let capacityExceeded = Code("capacity_exceeded")
        /// The request lacks valid credentials (the admin token).
        public static let unauthorized = Code("unauthorized")
        /// The request is refused whatever its credentials (a change through the dashboard's
        /// session cookie from another origin).
        public static let forbidden = Code("forbidden")
        /// Nothing can serve the request now (no deployment, a deleted class, a server that is
        /// not running); it may succeed later.
        public static let unavailable = Code("unavailable")
        /// A container did not start: its engine call failed, it exited, its ports never
        /// answered, or it was stopped while starting.
        public static let startFailed = Code("start_failed")
        /// A running container did not answer a forwarded request (refused or closed the
        /// connection before a response).
        public static let containerUnreachable = Code("container_unreachable")
        /// A client took longer than a limit allows to send its request (its head, or the
        /// next part of its body).
        public static let requestTimeout = Code("request_timeout")
        /// A request's head is larger than the limit (`berth.limits.max_header_bytes`).
        public static let headersTooLarge = Code("headers_too_large")
        /// The request asks for what Berth does not implement (a transfer coding other than
        /// chunked).
        public static let notImplemented = Code("not_implemented")
        /// The Worker's code failed: it threw, used a binding its deployment does not have, or
        /// returned what cannot be sent.
        public static let workerFailed = Code("worker_failed")
        /// A bug or an unexpected condition inside Berth.
        public static let `internal` = Code("internal")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    /// Seconds a client should wait before trying again, when this error says (else its code's).
    private var retryAfter: Int?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Seconds a client should wait before trying again (`Retry-After`): this error's own
    /// figure when it has one, else its code's (``Code/retryAfterSeconds``).
    public var retryAfterSeconds: Int? {
        get { retryAfter ?? code.retryAfterSeconds }
        set { retryAfter = newValue }
    }

    /// The message alone: it is written to stand on its own in front of a user.
    public var description: String { message }

    /// The message and the chain of causes, for logs and bug reports.
    public var debugDescription: String {
        guard let cause else { return "\(code): \(message)" }
        let causeText = (cause as? BerthError)?.debugDescription ?? String(reflecting: cause)
        return "\(code): \(message) [cause: \(causeText)]"
    }
}

extension BerthError {
    /// `error` itself when it is a `BerthError`, else an `internal` error carrying it.
    public static func wrap(_ error: any Error, _ context: String? = nil) -> BerthError {
        if let error = error as? BerthError { return error }
        return BerthError(.internal, context.map { "\($0): \(error)" } ?? "\(error)", cause: error)
    }
}
