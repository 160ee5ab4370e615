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
    public func resolve(_ request: Request) -> (binding: String, name: String)? {
        let headers = request.headers
        return resolve(
            path: request.path,
            header: { HTTPField.Name($0).flatMap { headers[$0] } },
            cookies: { headers[values: .cookie] }
        )
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
