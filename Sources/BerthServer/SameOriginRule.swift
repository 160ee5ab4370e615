import Foundation
import HTTPTypes
#if canImport(Glibc)
import Glibc
#endif

/// Which requests may change something on the admin port without the bearer token: the
/// dashboard's own, from its own origin.
///
/// A browser attaches the dashboard's `SameSite=Strict` cookie to requests from every page of
/// the same *site*, and a site ignores the port: a page on any other port of 127.0.0.1 gets
/// the cookie on its POSTs to the admin API (a `text/plain` form, a `no-cors` fetch, a
/// beacon). So a change that is not made with the bearer token must also show that it comes
/// from this listener's own origin:
///
/// 1. **Origin.** `Origin` is this listener's origin — its scheme, and the host and port of
///    the `Host` the request addressed (default ports filled in, IPv6 compared canonically,
///    case ignored) — or, without `Origin`, `Sec-Fetch-Site` is `same-origin`. `Origin: null`,
///    any other origin (another port of the same host is another origin), a `Sec-Fetch-Site`
///    other than `same-origin`, or neither header is refused.
/// 2. **Content type.** `Content-Type` is `application/json`, parameters allowed. A page
///    elsewhere can send that only after a CORS preflight, which the admin API never grants;
///    what an HTML form or a `no-cors` fetch can send (`text/plain`, `multipart/form-data`,
///    `application/x-www-form-urlencoded`) is refused. The dashboard's own HTML forms (log in,
///    log out) are checked for their origin only.
///
/// Safe methods (GET, HEAD, OPTIONS) change nothing and are not checked.
struct SameOriginRule: Sendable {
    /// The listener's scheme: `https` when the admin listener serves TLS.
    var scheme = "http"

    /// Whether `method` may change something (everything but GET, HEAD and OPTIONS).
    static func changes(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head && method != .options
    }

    /// Why `request` is refused, or nil when it may go on. `form`: the request is one of the
    /// dashboard's HTML forms, whose content type is a form's.
    func refusal(_ request: HTTPRequest, form: Bool) -> String? {
        if let refusal = originRefusal(request) { return refusal }
        return form ? nil : Self.contentTypeRefusal(request.headerFields[values: .contentType])
    }

    /// The origin half of the rule.
    func originRefusal(_ request: HTTPRequest) -> String? {
        let origins = request.headerFields[values: .origin].map { $0.trimmingCharacters(in: .whitespaces) }
        let sites = request.headerFields[values: Self.secFetchSite].map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let own = ownOrigin(request)
        let ownText = own?.description ?? "this server's origin"
        let expected = "changes without the bearer token must come from the dashboard's own pages at \(ownText)"
        guard origins.count <= 1 else { return "the request carries \(origins.count) Origin headers; a browser sends one, and \(expected)" }
        guard sites.count <= 1 else { return "the request carries \(sites.count) Sec-Fetch-Site headers; a browser sends one, and \(expected)" }
        // The browser's own account of where the request comes from: a page cannot set it.
        if let site = sites.first, site != "same-origin" {
            return "Sec-Fetch-Site: \(site): the browser says the request comes from another origin, and \(expected) (Sec-Fetch-Site: same-origin)"
        }
        guard let text = origins.first else {
            if sites.first == "same-origin" { return nil }
            return "the request has no Origin header and no Sec-Fetch-Site, so nothing shows it comes from the dashboard: \(expected)"
                + " (a browser sends Origin: \(ownText)); scripts send Authorization: Bearer <token> instead of the cookie"
        }
        if text == "null" {
            return "Origin: null: the request comes from a page without an origin (a sandboxed frame, a file, or a redirect from another origin), and \(expected)"
        }
        guard let origin = WebOrigin(serialized: text) else {
            return "Origin \"\(text)\" is not an origin (scheme://host[:port]), and \(expected)"
        }
        guard let own else {
            return "the Host header is missing, repeated or malformed, so the server cannot compare Origin \(text) with its own origin; send one Host: HOST:PORT"
        }
        guard origin == own else {
            return "Origin \(text) is not this server's origin \(own): \(expected) (another port of the same host is another origin)"
        }
        return nil
    }

    /// The content-type half of the rule, over the request's `Content-Type` values.
    static func contentTypeRefusal(_ values: [String]) -> String? {
        let expected = "changes without the bearer token take JSON: send Content-Type: application/json, as the dashboard does"
        guard let value = values.first else { return "the request has no Content-Type: \(expected)" }
        guard values.count == 1 else { return "the request carries \(values.count) Content-Type headers: \(expected)" }
        let media = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard media.trimmingCharacters(in: .whitespaces).lowercased() == "application/json" else {
            return "Content-Type: \(value) is not application/json: \(expected)"
        }
        return nil
    }

    /// The origin the request addressed: the listener's scheme and the one `Host`.
    func ownOrigin(_ request: HTTPRequest) -> WebOrigin? {
        // HTTP/1's first Host becomes the authority; a second one stays among the fields.
        guard let authority = request.authority, request.headerFields[values: Self.host].isEmpty else { return nil }
        return WebOrigin(scheme: scheme, authority: authority)
    }

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let host = HTTPField.Name("Host")!
}

/// A web origin as browsers serialize it (`scheme://host[:port]`), with the port filled in
/// for http and https, the host lowercased and an IPv6 literal in its canonical text.
struct WebOrigin: Equatable, Sendable, CustomStringConvertible {
    var scheme: String
    var host: String
    var port: Int?

    /// Parses an `Origin` value: a scheme, `://` and an authority, nothing else.
    init?(serialized text: String) {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        self.init(scheme: String(scheme), authority: String(text[separator.upperBound...]))
    }

    /// An origin from a scheme and an authority (`host[:port]`, as in a `Host` header).
    init?(scheme: String, authority: String) {
        let scheme = scheme.lowercased()
        var rest = Substring(authority)
        let host: String
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), let canonical = Self.canonicalIPv6(rest[rest.index(after: rest.startIndex)..<close]) else {
                return nil
            }
            host = "[\(canonical)]"
            rest = rest[rest.index(after: close)...]
        } else {
            let name = rest.prefix { $0 != ":" }
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else { return nil }
            host = name.lowercased()
            rest = rest[name.endIndex...]
        }
        var port: Int?
        if !rest.isEmpty {
            let digits = rest.dropFirst()
            guard rest.first == ":", (1...5).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(digits), value <= 65535
            else { return nil }
            port = value
        }
        self.scheme = scheme
        self.host = host
        self.port = port ?? Self.defaultPort(scheme)
    }

    static func defaultPort(_ scheme: String) -> Int? {
        switch scheme {
        case "http": 80
        case "https": 443
        default: nil
        }
    }

    /// The address's canonical text (RFC 5952, as browsers write it), or nil when it is none.
    static func canonicalIPv6(_ text: Substring) -> String? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, String(text), &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(cString: buffer)
    }

    /// `scheme://host[:port]`, the port left out where it is the scheme's default.
    var description: String {
        guard let port, port != Self.defaultPort(scheme) else { return "\(scheme)://\(host)" }
        return "\(scheme)://\(host):\(port)"
    }
}
