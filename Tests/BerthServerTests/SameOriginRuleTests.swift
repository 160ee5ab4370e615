@testable import BerthServer
import HTTPTypes
import Testing

/// The rule a change without the bearer token passes (``SameOriginRule``), on request heads
/// alone: every way an `Origin`, a `Sec-Fetch-Site` and a `Content-Type` can arrive.
@Suite("The admin port's same-origin rule")
struct SameOriginRuleTests {
    static let rule = SameOriginRule()

    /// A POST to the rollback route as `authority` addressed it, with the given headers.
    static func post(authority: String? = "127.0.0.1:8788", _ fields: [(String, String)]) -> HTTPRequest {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return HTTPRequest(method: .post, scheme: "http", authority: authority, path: "/api/rollback", headerFields: headers)
    }

    @Test("only GET, HEAD and OPTIONS count as changing nothing")
    func methods() {
        for method in [HTTPRequest.Method.get, .head, .options] { #expect(!SameOriginRule.changes(method), "\(method)") }
        for method in [HTTPRequest.Method.post, .put, .patch, .delete, .trace, .connect, HTTPRequest.Method("PURGE")!] {
            #expect(SameOriginRule.changes(method), "\(method)")
        }
    }

    /// An `Origin` (nil: none) and a `Sec-Fetch-Site` (nil: none), and the words the refusal
    /// must contain (nil: allowed).
    struct OriginCase: Sendable, CustomTestStringConvertible {
        var origin: String?
        var site: String?
        var refused: String?
        var authority: String? = "127.0.0.1:8788"
        var testDescription: String { "Origin \(origin ?? "-"), Sec-Fetch-Site \(site ?? "-"), Host \(authority ?? "-")" }
    }

    static let originCases: [OriginCase] = [
        // The dashboard's own page, with or without the fetch metadata.
        .init(origin: "http://127.0.0.1:8788", site: nil, refused: nil),
        .init(origin: "http://127.0.0.1:8788", site: "same-origin", refused: nil),
        .init(origin: nil, site: "same-origin", refused: nil),
        // Another port of the same host: same site, another origin.
        .init(origin: "http://127.0.0.1:9999", site: nil, refused: "Origin http://127.0.0.1:9999 is not this server's origin http://127.0.0.1:8788"),
        .init(origin: "http://127.0.0.1:9999", site: "same-site", refused: "Sec-Fetch-Site: same-site"),
        .init(origin: "http://localhost:8788", site: nil, refused: "is not this server's origin"),
        .init(origin: "https://127.0.0.1:8788", site: nil, refused: "is not this server's origin"),
        // No origin: a sandboxed frame, a redirect from elsewhere.
        .init(origin: "null", site: nil, refused: "Origin: null"),
        .init(origin: "null", site: "same-site", refused: "Sec-Fetch-Site: same-site"),
        // No Origin: only the browser's own same-origin says where it comes from.
        .init(origin: nil, site: nil, refused: "no Origin header and no Sec-Fetch-Site"),
        .init(origin: nil, site: "same-site", refused: "Sec-Fetch-Site: same-site"),
        .init(origin: nil, site: "cross-site", refused: "Sec-Fetch-Site: cross-site"),
        .init(origin: nil, site: "none", refused: "Sec-Fetch-Site: none"),
        // The fetch metadata wins over an Origin that looks right.
        .init(origin: "http://127.0.0.1:8788", site: "cross-site", refused: "Sec-Fetch-Site: cross-site"),
        .init(origin: "http://127.0.0.1:8788", site: "Same-Origin", refused: nil),
        // Default ports, case, IPv6 literals in any spelling.
        .init(origin: "http://127.0.0.1", site: nil, refused: nil, authority: "127.0.0.1:80"),
        .init(origin: "http://127.0.0.1:80", site: nil, refused: nil, authority: "127.0.0.1"),
        .init(origin: "http://127.0.0.1", site: nil, refused: "is not this server's origin", authority: "127.0.0.1:8788"),
        .init(origin: "HTTP://LocalHost:8788", site: nil, refused: nil, authority: "localhost:8788"),
        .init(origin: "http://localhost.:8788", site: nil, refused: "is not this server's origin", authority: "localhost:8788"),
        .init(origin: "http://[::1]:8788", site: nil, refused: nil, authority: "[::1]:8788"),
        .init(origin: "http://[0:0:0:0:0:0:0:1]:8788", site: nil, refused: nil, authority: "[::1]:8788"),
        .init(origin: "http://[::1]", site: nil, refused: nil, authority: "[0::1]:80"),
        .init(origin: "http://[::1]:9999", site: nil, refused: "is not this server's origin http://[::1]:8788", authority: "[::1]:8788"),
        .init(origin: "http://127.0.0.1:8788", site: nil, refused: "is not this server's origin", authority: "[::1]:8788"),
        .init(origin: "http://[::ffff:127.0.0.1]:8788", site: nil, refused: "is not this server's origin"),
        // Not origins at all.
        .init(origin: "http://127.0.0.1:8788/", site: nil, refused: "is not an origin"),
        .init(origin: "127.0.0.1:8788", site: nil, refused: "is not an origin"),
        .init(origin: "http://user@127.0.0.1:8788", site: nil, refused: "is not an origin"),
        .init(origin: "http://127.0.0.1:99999", site: nil, refused: "is not an origin"),
        .init(origin: "http://127.0.0.1:", site: nil, refused: "is not an origin"),
        .init(origin: "http://[::1", site: nil, refused: "is not an origin"),
        .init(origin: "http://[fe80::1%25eth0]:8788", site: nil, refused: "is not an origin"),
        .init(origin: "http://127.0.0.1:8788 http://127.0.0.1:9999", site: nil, refused: "is not an origin"),
        .init(origin: "", site: nil, refused: "is not an origin"),
        // Without a Host (or with a bad one) there is nothing to compare with.
        .init(origin: "http://127.0.0.1:8788", site: nil, refused: "the Host header is missing", authority: nil),
        .init(origin: "http://127.0.0.1:8788", site: nil, refused: "the Host header is missing", authority: "127.0.0.1:8788/x"),
        .init(origin: nil, site: "same-origin", refused: nil, authority: nil),
    ]

    @Test("Origin must be the listener's own, or Sec-Fetch-Site same-origin; every refusal says which header and what it expects", arguments: originCases)
    func origins(_ example: OriginCase) {
        var fields = [("Content-Type", "application/json")]
        if let origin = example.origin { fields.append(("Origin", origin)) }
        if let site = example.site { fields.append(("Sec-Fetch-Site", site)) }
        let refusal = Self.rule.refusal(Self.post(authority: example.authority, fields), form: false)
        if let words = example.refused {
            #expect(refusal?.contains(words) == true, "\(refusal ?? "allowed")")
            #expect(refusal?.contains("dashboard") == true || refusal?.contains("Host") == true, "\(refusal ?? "")")
        } else {
            #expect(refusal == nil)
        }
    }

    @Test("repeated Origin, Sec-Fetch-Site or Host headers are refused")
    func repeated() {
        let own = ("Origin", "http://127.0.0.1:8788")
        let json = ("Content-Type", "application/json")
        #expect(Self.rule.refusal(Self.post([own, own, json]), form: false)?.contains("2 Origin headers") == true)
        #expect(Self.rule.refusal(Self.post([own, ("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Site", "same-origin"), json]), form: false)?
            .contains("2 Sec-Fetch-Site headers") == true)
        #expect(Self.rule.refusal(Self.post([own, ("Host", "127.0.0.1:8788"), json]), form: false)?.contains("Host header") == true)
    }

    @Test("the body must be declared JSON, parameters allowed; the dashboard's forms are checked for their origin only", arguments: [
        ("application/json", true), ("application/json; charset=utf-8", true), ("Application/JSON", true), (" application/json ;charset=UTF-8", true),
        ("text/plain", false), ("text/plain;charset=UTF-8", false), ("application/x-www-form-urlencoded", false),
        ("multipart/form-data; boundary=----x", false), ("application/jsonx", false), ("application/json-seq", false), ("text/json", false),
        ("application/json, text/plain", false), ("text/plain; application/json", false), ("", false),
    ])
    func contentTypes(_ type: String, _ allowed: Bool) {
        let request = Self.post([("Origin", "http://127.0.0.1:8788"), ("Content-Type", type)])
        let refusal = Self.rule.refusal(request, form: false)
        if allowed {
            #expect(refusal == nil)
        } else {
            #expect(refusal?.contains("Content-Type: \(type) is not application/json") == true, "\(refusal ?? "allowed")")
            #expect(refusal?.contains("send Content-Type: application/json") == true)
        }
        #expect(Self.rule.refusal(request, form: true) == nil, "a form of the dashboard's own page")
        let elsewhere = Self.post([("Origin", "http://127.0.0.1:9999"), ("Content-Type", type)])
        #expect(Self.rule.refusal(elsewhere, form: true)?.contains("is not this server's origin") == true)
    }

    @Test("no Content-Type, or two, is refused")
    func missingContentType() {
        let own = ("Origin", "http://127.0.0.1:8788")
        #expect(Self.rule.refusal(Self.post([own]), form: false)?.contains("no Content-Type") == true)
        #expect(Self.rule.refusal(Self.post([own]), form: true) == nil)
        let twice = Self.post([own, ("Content-Type", "application/json"), ("Content-Type", "text/plain")])
        #expect(Self.rule.refusal(twice, form: false)?.contains("2 Content-Type headers") == true)
    }

    @Test("origins print as browsers write them")
    func serialization() {
        #expect(WebOrigin(serialized: "http://127.0.0.1:80")?.description == "http://127.0.0.1")
        #expect(WebOrigin(serialized: "https://Example.test:443")?.description == "https://example.test")
        #expect(WebOrigin(serialized: "http://[0:0::1]:8788")?.description == "http://[::1]:8788")
        #expect(WebOrigin(scheme: "http", authority: "127.0.0.1:8788") == WebOrigin(serialized: "http://127.0.0.1:8788"))
    }
}
