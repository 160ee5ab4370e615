import BerthCore
import BerthRuntime
import Testing

/// The framing rules every request head meets at the gateway (RFC 9112 §6–7), as a pure
/// function: accepted with the body's delimitation, or refused with a status and a reason.
@Suite("Request framing: RFC 9112 §6–7 at the gateway")
struct RequestFramingTests {
    typealias Header = (name: String, value: String)

    enum Outcome: Equatable, CustomStringConvertible {
        case accept(RequestFraming.Body)
        case refuse(Int)

        var description: String {
            switch self {
            case .accept(let body): "accept \(body)"
            case .refuse(let status): "refuse \(status)"
            }
        }
    }

    func outcome(_ headers: [Header], method: String = "POST", version: (Int, Int) = (1, 1)) -> Outcome {
        switch RequestFraming.check(method: method, version: version, headers: headers) {
        case .accept(let body): .accept(body)
        case .refuse(let error): .refuse(error.code.httpStatus)
        }
    }

    func message(_ headers: [Header], method: String = "POST", version: (Int, Int) = (1, 1)) -> String {
        if case .refuse(let error) = RequestFraming.check(method: method, version: version, headers: headers) { return error.message }
        return ""
    }

    @Test("no framing header, Content-Length and chunked: how the body is delimited")
    func accepted() {
        #expect(outcome([("Host", "x")]) == .accept(.none))
        #expect(outcome([("Content-Length", "0")]) == .accept(.none))
        #expect(outcome([("Content-Length", "5")]) == .accept(.length(5)))
        #expect(outcome([("content-length", "005")]) == .accept(.length(5)), "leading zeros are digits")
        #expect(outcome([("Content-Length", " 5\t")]) == .accept(.length(5)), "whitespace around a value is not part of it")
        #expect(outcome([("Content-Length", "9223372036854775807")]) == .accept(.length(Int.max)))
        #expect(outcome([("Transfer-Encoding", "chunked")]) == .accept(.chunked))
        // Transfer-coding names are case-insensitive (RFC 9112 §7); whitespace around a value
        // and empty list elements are not part of it (RFC 9110 §5.5, §5.6.1).
        for value in ["Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked", ", chunked", "chunked,"] {
            #expect(outcome([("transfer-encoding", value)]) == .accept(.chunked), "\(value)")
        }
        #expect(outcome([("TRANSFER-ENCODING", "chunked")]) == .accept(.chunked))
        // Bodies on methods that rarely have one are framed like any other.
        for method in ["GET", "HEAD", "OPTIONS", "DELETE"] {
            #expect(outcome([("Content-Length", "3")], method: method) == .accept(.length(3)), "\(method)")
            #expect(outcome([("Transfer-Encoding", "chunked")], method: method) == .accept(.chunked), "\(method)")
        }
        #expect(outcome([("Content-Length", "0")], method: "TRACE") == .accept(.none))
        #expect(outcome([("Content-Length", "5")], version: (1, 0)) == .accept(.length(5)))
        #expect(outcome([("X-Value", "tab\tand obs-text \u{e9}")]) == .accept(.none))
    }

    @Test("Content-Length: several, malformed, or with Transfer-Encoding is 400")
    func contentLength() {
        for value in ["", " ", "+5", "-1", "0x5", "5 5", "5,5", "5, 5", "1e3", "five", "99999999999999999999", "9223372036854775808", "5\u{0}"] {
            #expect(outcome([("Content-Length", value)]) == .refuse(400), "\(value)")
        }
        #expect(outcome([("Content-Length", "5"), ("Content-Length", "5")]) == .refuse(400), "even when they agree")
        #expect(outcome([("Content-Length", "5"), ("content-length", "6")]) == .refuse(400))
        #expect(message([("Content-Length", "5"), ("Content-Length", "5")]).contains("more than once"))
        #expect(message([("Content-Length", "0x5")]) == "Content-Length \"0x5\" is not a number of bytes; send digits only (RFC 9112 §6.2)")
        #expect(outcome([("Content-Length", "5"), ("Transfer-Encoding", "chunked")]) == .refuse(400))
        #expect(outcome([("Transfer-Encoding", "chunked"), ("Content-Length", "0")]) == .refuse(400))
        #expect(message([("Transfer-Encoding", "chunked"), ("Content-Length", "3")]).contains("both Content-Length and Transfer-Encoding"))
    }

    @Test("Transfer-Encoding: anything but chunked is 501 when well-formed and ending in chunked, else 400")
    func transferEncoding() {
        // A coding Berth does not decode before chunked, or parameters: not implemented.
        for value in ["gzip, chunked", "deflate,chunked", "chunked;q=1", "chunked; foo=\"b,a;r\"", "identity , chunked"] {
            #expect(outcome([("Transfer-Encoding", value)]) == .refuse(501), "\(value)")
        }
        #expect(outcome([("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]) == .refuse(501), "two fields make one list")
        #expect(message([("Transfer-Encoding", "gzip, chunked")]).hasPrefix("Berth decodes no transfer coding but chunked"))
        // The length cannot be determined, or chunked twice, or not a list of codings: 400.
        for value in ["xchunked", "chunkedx", "identity", "gzip", "chunked, gzip", "chunked, chunked", "", " ", ",", "chunked;", "chunked;q",
                      "chunked;q=", "chunked; q=\"1", "chunked q=1", "\u{b}chunked", "chunked\u{0}", "chunked\r\n chunked", "chu nked", "\"chunked\""] {
            #expect(outcome([("Transfer-Encoding", value)]) == .refuse(400), "\(value.debugDescription)")
        }
        // llhttp takes chunked followed by a tab for another coding once the head has gone on;
        // refused here first, so that both agree.
        for value in ["chunked\t", "chunked \t", "chunked\t ", "chunked\t, chunked"] {
            #expect(outcome([("Transfer-Encoding", value)]) == .refuse(400), "\(value.debugDescription)")
        }
        #expect(outcome([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")]) == .refuse(400))
        #expect(outcome([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "gzip")]) == .refuse(400))
        #expect(message([("Transfer-Encoding", "xchunked")]).contains("does not end with chunked"))
        #expect(message([("Transfer-Encoding", "chunked, chunked")]).contains("chunked more than once"))
    }

    @Test("HTTP/1.0 with Transfer-Encoding and TRACE with a body are 400")
    func versionAndMethod() {
        #expect(outcome([("Transfer-Encoding", "chunked")], version: (1, 0)) == .refuse(400))
        #expect(outcome([("Transfer-Encoding", "chunked"), ("Content-Length", "5")], version: (1, 0)) == .refuse(400))
        #expect(message([("Transfer-Encoding", "chunked")], version: (1, 0)).contains("HTTP/1.0"))
        #expect(outcome([("Content-Length", "5")], method: "TRACE") == .refuse(400))
        #expect(outcome([("Transfer-Encoding", "chunked")], method: "TRACE") == .refuse(400))
        #expect(message([("Content-Length", "5")], method: "TRACE").contains("TRACE request cannot have a body"))
    }

    @Test("header names must be tokens; values may not hold line breaks or control characters")
    func namesAndValues() {
        for name in ["", "X A", "X@A", "X:A", "Transfer-Encoding ", " Transfer-Encoding", "X\u{1}A", "Ä", "X\tA", "(x)", "x/y"] {
            #expect(outcome([(name, "1")]) == .refuse(400), "\(name.debugDescription)")
        }
        for name in ["X-A", "x_a", "!#$%&'*+-.^_`|~09azAZ"] {
            #expect(outcome([(name, "1")]) == .accept(.none), "\(name)")
        }
        for value in ["a\r\n b", "a\n\tb", "a\rb", "a\u{0}b", "a\u{7f}", "\u{1b}[31m"] {
            #expect(outcome([("X-A", value)]) == .refuse(400), "\(value.debugDescription)")
        }
        #expect(message([("X A", "1")]).hasPrefix("the header name \"X A\" is not a token"))
        #expect(message([("X-A", "a\r\n b")]).contains("obsolete line folding"))
        #expect(message([("X-A", "a\r\n b")]).contains("\"X-A\""))
    }

    @Test("a refusal names the value it refused, shortened and with control characters escaped")
    func quoting() {
        let long = String(repeating: "g", count: 100) + ", chunked"
        #expect(outcome([("Transfer-Encoding", long)]) == .refuse(501))
        let malformed = String(repeating: "x", count: 100) + " y"
        #expect(message([("Transfer-Encoding", malformed)]).contains("\"" + String(repeating: "x", count: 64) + "…\""))
        #expect(message([("X\u{0}A", "1")]).contains("\"X\\0A\""))
    }
}
