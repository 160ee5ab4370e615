/// The framing rules of RFC 9112 §6–7 that every request meets before the gateway routes it
/// (both paths: the warm path and the Worker's). A request whose body's length is ambiguous
/// or that the gateway cannot decode is refused, and its connection closed, so that no two
/// parsers on the way to a container can disagree about where it ends:
///
/// - header names must be tokens, and values free of control characters (no line breaks: no
///   obsolete line folding, RFC 9112 §5.2);
/// - `Content-Length` at most once, a number of bytes (`1*DIGIT`), never with
///   `Transfer-Encoding` (§6.3);
/// - `Transfer-Encoding` only in HTTP/1.1 (§6.1) and only as the one coding Berth decodes,
///   `chunked` (any case, no parameters, no tab after it: NIO's parser would take
///   `chunked<TAB>` for another coding): a list whose last coding is not `chunked`, or
///   `chunked` twice, leaves the length undeterminable (§6.3, 400); another coding before
///   `chunked` (`gzip, chunked`) or parameters are not implemented (§6.1, 501);
/// - no body on `TRACE` (RFC 9110 §9.3.8).
///
/// The accepted request's ``Body`` says how its body is delimited, which is all a proxy needs
/// to frame it again itself (``ForwardingPolicy/Framing``). Defined over names and values,
/// without allocating for a usual request.
public enum RequestFraming {
    /// How an accepted request's body is delimited.
    public enum Body: Sendable, Equatable {
        /// No body (no framing header, or `Content-Length: 0`).
        case none
        /// `Content-Length` bytes, more than 0.
        case length(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
    }

    /// The outcome of ``check(method:version:headers:)``.
    public enum Verdict: Sendable {
        case accept(Body)
        /// Refused with this error (its code gives the status: 400, or 501 for a transfer
        /// coding Berth does not decode); the connection closes after the answer.
        case refuse(BerthError)
    }

    /// Checks a request head's framing. `method` as sent (`TRACE`), `version` its HTTP
    /// version.
    @inlinable
    public static func check<Headers: Sequence>(
        method: String, version: (major: Int, minor: Int), headers: Headers
    ) -> Verdict where Headers.Element == (name: String, value: String) {
        var scan = Scan()
        for (name, value) in headers {
            if let refusal = scan.add(name: name, value: value) { return .refuse(refusal) }
        }
        return scan.verdict(method: method, version: version)
    }

    /// What ``check(method:version:headers:)`` gathers, one header at a time.
    public struct Scan {
        private var lengthFields = 0
        private var length: Int?
        private var codings = Codings()

        public init() {}

        /// Notes one header; an error if it alone refuses the request.
        public mutating func add(name: String, value: String) -> BerthError? {
            if let error = Self.checkName(name) ?? Self.checkValue(value, of: name) { return error }
            switch name.utf8.count {
            case 14 where HopByHop.equalsIgnoringCase(name, "content-length"):
                lengthFields += 1
                if lengthFields > 1 {
                    return refusal("the request has Content-Length more than once; send it once (RFC 9112 §6.3)")
                }
                guard let parsed = Self.contentLength(value) else {
                    return refusal("Content-Length \(Self.quoted(value)) is not a number of bytes; send digits only (RFC 9112 §6.2)")
                }
                length = parsed
            case 17 where HopByHop.equalsIgnoringCase(name, "transfer-encoding"):
                if !codings.add(listedIn: value) {
                    return refusal("Transfer-Encoding \(Self.quoted(value)) is malformed; send Transfer-Encoding: chunked (RFC 9112 §6.1)")
                }
            default:
                break
            }
            return nil
        }

        /// The verdict once every header was added.
        public func verdict(method: String, version: (major: Int, minor: Int)) -> Verdict {
            let body: Body
            if codings.fields > 0 {
                if lengthFields > 0 {
                    return .refuse(refusal("the request has both Content-Length and Transfer-Encoding, so its length is ambiguous; send one of them (RFC 9112 §6.3)"))
                }
                if version.major == 1 && version.minor == 0 {
                    return .refuse(refusal("an HTTP/1.0 request cannot use Transfer-Encoding; send Content-Length (RFC 9112 §6.1)"))
                }
                if codings.count == 0 {
                    return .refuse(refusal("Transfer-Encoding is empty; send Transfer-Encoding: chunked or Content-Length (RFC 9112 §6.1)"))
                }
                if codings.chunked > 1 {
                    return .refuse(refusal("Transfer-Encoding applies chunked more than once; send it once (RFC 9112 §6.1)"))
                }
                if !codings.lastIsChunked {
                    return .refuse(refusal("Transfer-Encoding does not end with chunked, so the request's length cannot be determined; send Transfer-Encoding: chunked or Content-Length (RFC 9112 §6.3)"))
                }
                if codings.count > 1 || codings.parameters {
                    return .refuse(BerthError(
                        .notImplemented, "Berth decodes no transfer coding but chunked (without parameters); send the body with Transfer-Encoding: chunked or Content-Length (RFC 9112 §6.1)"
                    ))
                }
                body = .chunked
            } else if let length, length > 0 {
                body = .length(length)
            } else {
                body = .none
            }
            if body != .none && method == "TRACE" {
                return .refuse(refusal("a TRACE request cannot have a body; send it without one (RFC 9110 §9.3.8)"))
            }
            return .accept(body)
        }

        private func refusal(_ message: String) -> BerthError {
            BerthError(.invalidInput, message)
        }

        /// An error unless `name` is a token (RFC 9110 §5.1).
        static func checkName(_ name: String) -> BerthError? {
            if !name.utf8.isEmpty && name.utf8.allSatisfy(isTokenByte) { return nil }
            return BerthError(.invalidInput, "the header name \(quoted(name)) is not a token; send names of letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 §5.1)")
        }

        /// An error if `value` holds a control character other than tab: a line break is
        /// obsolete line folding or a smuggled header (RFC 9112 §5.2, RFC 9110 §5.5).
        static func checkValue(_ value: String, of name: String) -> BerthError? {
            if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) { return nil }
            return BerthError(.invalidInput, "the value of header \(quoted(name)) holds a line break or control character (obsolete line folding is not accepted); send each header on one line (RFC 9112 §5.2)")
        }

        /// `1*DIGIT` between optional whitespace, as a byte count that fits an `Int`.
        static func contentLength(_ value: String) -> Int? {
            var digits = value.utf8[...]
            while let first = digits.first, first == 0x20 || first == 0x09 { digits.removeFirst() }
            while let last = digits.last, last == 0x20 || last == 0x09 { digits.removeLast() }
            guard !digits.isEmpty else { return nil }
            var result = 0
            for byte in digits {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - 0x30))
                if overflow1 || overflow2 { return nil }
                result = sum
            }
            return result
        }

        /// A value as it appears in a message: quoted, at most 64 characters, control
        /// characters escaped.
        static func quoted(_ text: String) -> String {
            var shown = ""
            for scalar in text.unicodeScalars.prefix(64) {
                shown += scalar.value < 0x20 || scalar.value == 0x7F ? scalar.escaped(asASCII: true) : String(scalar)
            }
            return "\"" + shown + (text.unicodeScalars.count > 64 ? "…" : "") + "\""
        }
    }

    /// The transfer codings of a request's `Transfer-Encoding` fields, in order (RFC 9112
    /// §6.1: `#transfer-coding`, each `token *( OWS ";" OWS parameter )`).
    struct Codings {
        /// `Transfer-Encoding` fields seen.
        var fields = 0
        /// Codings listed.
        var count = 0
        /// How often `chunked` is listed.
        var chunked = 0
        var lastIsChunked = false
        /// A coding has parameters.
        var parameters = false

        /// Adds the codings listed in one field's value; false if it is malformed.
        mutating func add(listedIn value: String) -> Bool {
            fields += 1
            var rest = value.utf8[...]
            while true {
                rest = rest.drop { $0 == 0x20 || $0 == 0x09 }
                guard let first = rest.first else { return true }
                if first == UInt8(ascii: ",") {
                    // Empty list elements are allowed (RFC 9110 §5.6.1).
                    rest = rest.dropFirst()
                    continue
                }
                let token = rest.prefix(while: isTokenByte)
                guard !token.isEmpty else { return false }
                count += 1
                lastIsChunked = token.count == 7 && zip(token, "chunked".utf8).allSatisfy { HopByHop.lowercased($0) == $1 }
                if lastIsChunked { chunked += 1 }
                rest = rest[token.endIndex...]
                // Parameters, then the end of the element. A tab after a coding is refused:
                // llhttp (NIO's parser) takes `chunked<TAB>` for another coding, after the
                // head has gone on, and the two must agree.
                while true {
                    let space = rest.prefix { $0 == 0x20 || $0 == 0x09 }
                    rest = rest[space.endIndex...]
                    guard let next = rest.first else { return !space.contains(0x09) }
                    if next == UInt8(ascii: ",") {
                        if space.contains(0x09) { return false }
                        break
                    }
                    guard next == UInt8(ascii: ";") else { return false }
                    parameters = true
                    rest = rest.dropFirst().drop { $0 == 0x20 || $0 == 0x09 }
                    guard let end = Self.parameter(rest) else { return false }
                    rest = rest[end...]
                }
            }
        }

        /// The end of `parameter = token "=" ( token / quoted-string )` at the start of
        /// `text`, or nil if there is none.
        static func parameter(_ text: Substring.UTF8View) -> Substring.UTF8View.Index? {
            let name = text.prefix(while: isTokenByte)
            guard !name.isEmpty, name.endIndex < text.endIndex, text[name.endIndex] == UInt8(ascii: "=") else { return nil }
            let value = text[text.index(after: name.endIndex)...]
            guard let first = value.first else { return nil }
            if first != UInt8(ascii: "\"") {
                let token = value.prefix(while: isTokenByte)
                return token.isEmpty ? nil : token.endIndex
            }
            var index = value.index(after: value.startIndex)
            while index < value.endIndex {
                switch value[index] {
                case UInt8(ascii: "\""): return value.index(after: index)
                case UInt8(ascii: "\\"):
                    index = value.index(after: index)
                    guard index < value.endIndex else { return nil }
                default: break
                }
                index = value.index(after: index)
            }
            return nil
        }
    }
}

/// Whether `byte` may appear in a token (RFC 9110 §5.6.2: `tchar`).
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
    default: false
    }
}
