/// The one table of HTTP statuses: how each ``BerthError/Code`` is answered at every edge
/// (the gateway, the admin API, the warm path). Nothing else turns errors into statuses.
extension BerthError.Code {
    /// The HTTP status a request that failed with this code gets.
    public var httpStatus: Int {
        switch self {
        case .invalidInput, .invalidConfig: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .requestTimeout: 408
        case .conflict: 409
        case .buildFailed: 422
        case .headersTooLarge: 431
        case .startFailed, .workerFailed, .internal: 500
        case .notImplemented: 501
        case .engineError, .containerUnreachable: 502
        case .unavailable, .engineUnavailable, .capacityExceeded: 503
        case .timeout: 504
        default: 500
        }
    }

    /// The status's reason phrase, for HTTP/1 status lines.
    public var httpReason: String {
        switch httpStatus {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 422: "Unprocessable Content"
        case 431: "Request Header Fields Too Large"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Internal Server Error"
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`), where waiting helps.
    public var retryAfterSeconds: Int? {
        switch self {
        case .capacityExceeded: 1
        default: nil
        }
    }
}
