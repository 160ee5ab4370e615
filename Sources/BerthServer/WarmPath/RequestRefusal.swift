import BerthCore
import BerthRuntime
import NIOHTTP1

extension RequestFraming {
    /// ``check(method:version:headers:)`` for a head from NIO's parser.
    static func check(_ head: HTTPRequestHead) -> Verdict {
        check(method: head.method.rawValue, version: (head.version.major, head.version.minor), headers: head.headers)
    }
}

extension BerthError {
    /// The refusal of bytes NIO's HTTP parser rejected, saying why as far as the parser tells.
    /// Nil for a head too large, which is the limits' to answer (431), and for a connection
    /// that ended mid-request (a client gone, or closed by a timeout): nothing to answer.
    static func malformedRequest(_ error: HTTPParserError) -> BerthError? {
        let reason: String
        switch error {
        case .headerOverflow, .invalidEOFState, .closedConnection:
            return nil
        case .invalidHeaderToken:
            reason = "a header name or value has a character it may not, whitespace where none is allowed, or obsolete line folding; send each header on one line as `Name: value` (RFC 9112 §5)"
        case .invalidContentLength:
            reason = "its Content-Length is not a number of bytes, or comes with Transfer-Encoding; send one of them, in digits (RFC 9112 §6.2, §6.3)"
        case .unexpectedContentLength:
            reason = "it has Content-Length more than once; send it once (RFC 9112 §6.3)"
        case .invalidChunkSize:
            reason = "a chunk size in its body is not a hexadecimal number that fits, or is followed by more than a chunk extension (RFC 9112 §7.1)"
        case .lfExpected, .strictModeAssertion:
            reason = "its lines do not end in CRLF (RFC 9112 §2.2)"
        case .invalidVersion:
            reason = "its request line is not `METHOD target HTTP/1.1` ending in CRLF, or its version is not 1.0 or 1.1 (RFC 9112 §2.2, §3)"
        case .invalidMethod:
            reason = "its method is not one this server knows, or what came is not HTTP (RFC 9112 §3)"
        case .invalidURL:
            reason = "its request target is not a valid URL path (RFC 9112 §3.2)"
        case .unknown:
            // llhttp's framing errors without a case of their own: Transfer-Encoding with
            // Content-Length or not ending in chunked, a missing CR.
            reason = "its framing is invalid: Transfer-Encoding with Content-Length or not exactly chunked, or a line without CRLF (RFC 9112 §2.2, §6)"
        default:
            reason = "it is not valid HTTP/1.1 (\(error))"
        }
        return BerthError(.invalidInput, "the request was refused: \(reason)")
    }
}
