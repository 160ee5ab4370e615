import Berth
import BerthAPI
import BerthConfig
import Foundation
import HTTPTypes

/// Zero-code routing: picks the container class and object for a request from its path.
public struct RouteTable: Sendable {
    public let configs: [RouteConfig]

    public init(routes: [RouteConfig]) {
        configs = routes
    }

    /// The binding and object name a request goes to, or nil when no route matches.
    ///
    /// A `header:NAME` route names the object by all of the request's NAME fields joined by
    /// ", " (what `request.headers.get(NAME)` gives a Cloudflare Worker), the same from a
    /// ``Request`` (the Worker's) as from the parser's head (``resolve(target:fields:)``, the
    /// warm path's), or one request would go to different objects while its container is
    /// warm and while it is not.
    public func resolve(_ request: Request) -> (binding: String, name: String)? {
        let headers = request.headers
        return resolve(
            path: request.path,
            header: { name in
                guard let field = HTTPField.Name(name) else { return nil }
                // The request's first Host field is its authority, no longer a field.
                let authority = field.canonicalName == "host" ? request.head.authority.map { [$0] } ?? [] : []
                return Self.combined(authority + headers[values: field])
            },
            cookies: { headers[values: .cookie] }
        )
    }

    /// The binding and object name for a request head as the gateway's parser reads it: its
    /// target and its header fields in order (NIO's `HTTPHeaders`).
    public func resolve(target: String, fields: some Sequence<(name: String, value: String)>) -> (binding: String, name: String)? {
        resolve(
            path: target,
            header: { name in Self.combined(fields.lazy.filter { Self.sameName($0.name, name) }.map(\.value)) },
            cookies: { fields.filter { Self.sameName($0.name, "cookie") }.map(\.value) }
        )
    }

    /// A field's values as one, each without the spaces and tabs around it (NIO's parser
    /// keeps trailing ones, HTTPTypes drops them), joined by ", "; nil when there is none.
    static func combined(_ values: some Sequence<String>) -> String? {
        var result: String?
        for value in values {
            let trimmed = value.trimmingCharacters(in: [" ", "\t"])
            result = result.map { $0 + ", " + trimmed } ?? trimmed
        }
        return result
    }

    /// Field names compare without regard to ASCII case.
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// The binding and object name for `path` (with its query), reading headers and cookies
    /// only when a route needs them.
    public func resolve(
        path: String, header: (String) -> String?, cookies: () -> [String]
    ) -> (binding: String, name: String)? {
        let pathname = path.firstIndex(of: "?").map { String(path[..<$0]) } ?? path
        guard let route = configs.first(where: { pathname.hasPrefix($0.prefix) }) else { return nil }
        let name: String
        switch route.object {
        case .path:
            name = pathname
        case .rest:
            var rest = String(pathname.dropFirst(route.prefix.count))
            while rest.hasPrefix("/") { rest.removeFirst() }
            name = rest
        case .header(let field):
            name = header(field) ?? ""
        case .cookie(let cookie):
            name = Self.cookie(cookie, in: cookies()) ?? ""
        case .query(let key):
            name = Request.query(key, in: path) ?? ""
        case .random(let count):
            name = "instance-\(Int.random(in: 0..<count))"
        case .singleton:
            name = "cf-singleton-container"
        case .name(let fixed):
            name = fixed
        }
        return (route.binding, name)
    }

    static func cookie(_ name: String, in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }
}
