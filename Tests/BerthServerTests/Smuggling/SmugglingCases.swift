/// One attempt at request smuggling: the bytes a hostile client sends for one request, and
/// what the gateway must do with them.
struct SmugglingCase: Sendable {
    enum Outcome: Sendable, Equatable {
        /// Forwarded whole: the container gets `method` with exactly `body`, framed by Berth.
        case forwarded(method: String, body: String)
        /// Refused with this status before anything reaches the container; the connection closes.
        case refused(Int)
        /// The parser rejects the body after the head: 400, the connection closes, and the
        /// container never gets the request whole (at most the start of it, on a connection
        /// that then closes).
        case cutOff(method: String)
    }

    var family: String
    var name: String
    /// The request's bytes, for its request target.
    var bytes: @Sendable (_ target: String) -> String
    var outcome: Outcome
}

extension SmugglingCase {
    /// A request that a container would take for two, were the first one's body passed to it
    /// unframed: an empty last chunk, then a request of its own.
    static let smuggled = "0\r\n\r\nGET /singleton/smuggled HTTP/1.1\r\nHost: evil\r\n\r\n"

    static func chunked(_ payload: String) -> String {
        payload.isEmpty ? "0\r\n\r\n" : String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n0\r\n\r\n"
    }

    /// `method target version`, `Host`, `headers` (each ending in CRLF), the blank line, `body`.
    static func request(_ method: String, _ headers: String, _ body: String = "", version: String = "HTTP/1.1") -> @Sendable (String) -> String {
        { target in "\(method) \(target) \(version)\r\nHost: smuggle.test\r\n\(headers)\r\n\(body)" }
    }

    static func forwarded(_ family: String, _ name: String, _ method: String, _ headers: String, _ body: String, decoded: String) -> SmugglingCase {
        SmugglingCase(family: family, name: name, bytes: request(method, headers, body), outcome: .forwarded(method: method, body: decoded))
    }

    static func refused(_ family: String, _ name: String, _ status: Int, _ method: String, _ headers: String, _ body: String, version: String = "HTTP/1.1") -> SmugglingCase {
        SmugglingCase(family: family, name: name, bytes: request(method, headers, body, version: version), outcome: .refused(status))
    }

    static func cutOff(_ family: String, _ name: String, _ headers: String, _ body: String) -> SmugglingCase {
        SmugglingCase(family: family, name: name, bytes: request("POST", headers, body), outcome: .cutOff(method: "POST"))
    }

    static let te = "Transfer-Encoding: chunked\r\n"
    static let hello = chunked("hello")

    /// Every case of the suite.
    static let all: [SmugglingCase] = [
        // CL.TE and TE.CL: both framing headers, in either order and disguise.
        refused("CL.TE", "Content-Length then Transfer-Encoding", 400, "POST", "Content-Length: 6\r\n" + te, "0\r\n\r\nG"),
        refused("TE.CL", "Transfer-Encoding then Content-Length", 400, "POST", te + "Content-Length: 4\r\n", chunked(smuggled)),
        refused("CL.TE", "Content-Length with xchunked", 400, "POST", "Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n", hello),
        refused("TE.CL", "CHUNKED with Content-Length", 400, "POST", "Transfer-Encoding: CHUNKED\r\nContent-Length: 4\r\n", hello),
        refused("TE.CL", "an empty Transfer-Encoding with Content-Length", 400, "POST", "Transfer-Encoding: \r\nContent-Length: 5\r\n", "hello"),
        refused("TE.CL", "HTTP/1.0 with both", 400, "POST", te + "Content-Length: 5\r\n", hello, version: "HTTP/1.0"),
        // TE.TE: Transfer-Encoding in case, whitespace and list variants.
        forwarded("TE.TE", "Chunked on a POST", "POST", "Transfer-Encoding: Chunked\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "Chunked on a GET", "GET", "Transfer-Encoding: Chunked\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "CHUNKED on a GET", "GET", "Transfer-Encoding: CHUNKED\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "a space before chunked", "GET", "Transfer-Encoding:  chunked\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "a space after chunked", "GET", "Transfer-Encoding: chunked \r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "Transfer-Encoding:<tab>chunked", "GET", "Transfer-Encoding:\tchunked\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "a tab before the value", "DELETE", "Transfer-Encoding: \tchunked\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", ", chunked (an empty list element)", "GET", "Transfer-Encoding: , chunked\r\n", chunked(smuggled), decoded: smuggled),
        forwarded("TE.TE", "TRANSFER-ENCODING as the name", "GET", "TRANSFER-ENCODING: chunked\r\n", chunked(smuggled), decoded: smuggled),
        refused("TE.TE", "chunked then a tab", 400, "GET", "Transfer-Encoding: chunked\t\r\n", chunked(smuggled)),
        refused("TE.TE", "chunked, chunked", 400, "POST", "Transfer-Encoding: chunked, chunked\r\n", chunked(chunked(smuggled))),
        refused("TE.TE", "gzip, chunked", 501, "POST", "Transfer-Encoding: gzip, chunked\r\n", hello),
        refused("TE.TE", "gzip, chunked on a GET", 501, "GET", "Transfer-Encoding: gzip, chunked\r\n", chunked(smuggled)),
        refused("TE.TE", "xchunked", 400, "POST", "Transfer-Encoding: xchunked\r\n", chunked(smuggled)),
        refused("TE.TE", "chunked;q=1", 501, "POST", "Transfer-Encoding: chunked;q=1\r\n", hello),
        refused("TE.TE", "chunked;q=1 , chunked", 400, "POST", "Transfer-Encoding: chunked;q=1 , chunked\r\n", chunked(hello)),
        refused("TE.TE", "two lines: gzip, then chunked", 501, "POST", "Transfer-Encoding: gzip\r\n" + te, hello),
        refused("TE.TE", "two lines of chunked", 400, "POST", te + te, chunked(hello)),
        refused("TE.TE", "Transfer-Encoding : chunked (space before the colon)", 400, "POST", "Transfer-Encoding : chunked\r\n", chunked(smuggled)),
        refused("TE.TE", "obs-fold: gzip, then chunked on the next line", 400, "POST", "Transfer-Encoding: gzip,\r\n chunked\r\n", hello),
        refused("TE.TE", "obs-fold: the value on the next line", 400, "POST", "Transfer-Encoding:\r\n chunked\r\n", hello),
        refused("TE.TE", "identity", 400, "POST", "Transfer-Encoding: identity\r\n", hello),
        refused("TE.TE", "chunked, gzip", 400, "POST", "Transfer-Encoding: chunked, gzip\r\n", hello),
        refused("TE.TE", "a vertical tab before chunked", 400, "POST", "Transfer-Encoding: \u{b}chunked\r\n", hello),
        refused("TE.TE", "HTTP/1.0 with Transfer-Encoding", 400, "POST", te, chunked(smuggled), version: "HTTP/1.0"),
        // Content-Length: several, malformed, or hiding a request in a body.
        refused("CL.CL", "two that agree", 400, "POST", "Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
        refused("CL.CL", "two that differ", 400, "POST", "Content-Length: 5\r\nContent-Length: 52\r\n", "hello" + smuggled),
        refused("CL", "5, 5", 400, "POST", "Content-Length: 5, 5\r\n", "hello"),
        refused("CL", "+5", 400, "POST", "Content-Length: +5\r\n", "hello"),
        refused("CL", "0x5", 400, "POST", "Content-Length: 0x5\r\n", "hello"),
        refused("CL", "-1", 400, "POST", "Content-Length: -1\r\n", "hello"),
        refused("CL", "larger than 64 bits", 400, "POST", "Content-Length: 99999999999999999999\r\n", "hello"),
        forwarded("CL", "leading zeros", "POST", "Content-Length: 005\r\n", "hello", decoded: "hello"),
        forwarded("CL", "a request inside a body", "POST", "Content-Length: \(smuggled.utf8.count)\r\n", smuggled, decoded: smuggled),
        // Bodies on methods that rarely have one.
        forwarded("body", "GET with Content-Length", "GET", "Content-Length: \(smuggled.utf8.count)\r\n", smuggled, decoded: smuggled),
        forwarded("body", "GET, chunked", "GET", te, chunked(smuggled), decoded: smuggled),
        forwarded("body", "GET with Content-Length: 0", "GET", "Content-Length: 0\r\n", "", decoded: ""),
        forwarded("body", "HEAD with Content-Length", "HEAD", "Content-Length: \(smuggled.utf8.count)\r\n", smuggled, decoded: smuggled),
        forwarded("body", "HEAD, chunked", "HEAD", te, chunked(smuggled), decoded: smuggled),
        forwarded("body", "OPTIONS with Content-Length", "OPTIONS", "Content-Length: 5\r\n", "hello", decoded: "hello"),
        forwarded("body", "DELETE, chunked", "DELETE", te, chunked(smuggled), decoded: smuggled),
        forwarded("body", "TRACE without a body", "TRACE", "", "", decoded: ""),
        refused("body", "TRACE with Content-Length", 400, "TRACE", "Content-Length: \(smuggled.utf8.count)\r\n", smuggled),
        refused("body", "TRACE, chunked", 400, "TRACE", te, chunked(smuggled)),
        // Line endings.
        SmugglingCase(
            family: "LF", name: "bare LF line endings", bytes: { "POST \($0) HTTP/1.1\nHost: smuggle.test\nContent-Length: 5\n\nhello" }, outcome: .refused(400)
        ),
        refused("LF", "a bare LF after a header", 400, "POST", "X-A: b\nContent-Length: 5\r\n", "hello"),
        refused("LF", "a bare CR in a value", 400, "POST", "X-A: a\rb\r\nContent-Length: 5\r\n", "hello"),
        cutOff("LF", "bare LF in a chunked body", te, "5\nhello\n0\n\n"),
        // Chunk sizes.
        cutOff("chunk", "0x5", te, "0x5\r\nhello\r\n0\r\n\r\n"),
        cutOff("chunk", "5 ;ext (a space before the extension)", te, "5 ;ext\r\nhello\r\n0\r\n\r\n"),
        cutOff("chunk", "a size larger than 64 bits", te, "FFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
        cutOff("chunk", "a negative size", te, "-5\r\nhello\r\n0\r\n\r\n"),
        cutOff("chunk", "more data than its size", te, "3\r\nhello\r\n0\r\n\r\n"),
        forwarded("chunk", "an extension", "POST", te, "5;ext=\"a b\"\r\nhello\r\n0\r\n\r\n", decoded: "hello"),
        forwarded("chunk", "leading zeros", "PUT", te, "0005\r\nhello\r\n0\r\n\r\n", decoded: "hello"),
        forwarded("chunk", "uppercase hex", "PATCH", te, "A\r\nhellohello\r\n0\r\n\r\n", decoded: "hellohello"),
        forwarded("chunk", "trailers", "POST", te, "5\r\nhello\r\n0\r\nX-Trailer: 1\r\nX-Smuggle: GET /x\r\n\r\n", decoded: "hello"),
        cutOff("chunk", "a Content-Length trailer", te, "5\r\nhello\r\n0\r\nContent-Length: 52\r\n\r\n"),
        // Header names and values.
        refused("header", "a space in a name", 400, "POST", "X A: b\r\nContent-Length: 5\r\n", "hello"),
        refused("header", "an @ in a name", 400, "POST", "X@A: b\r\nContent-Length: 5\r\n", "hello"),
        refused("header", "an empty name", 400, "POST", ": b\r\nContent-Length: 5\r\n", "hello"),
        refused("header", "a NUL in a value", 400, "POST", "X-A: a\u{0}b\r\nContent-Length: 5\r\n", "hello"),
        refused("header", "obs-fold of another header", 400, "POST", "X-A: a\r\n b\r\nContent-Length: 5\r\n", "hello"),
    ]
}
