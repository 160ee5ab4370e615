import Foundation
import Berth
import BerthConfig
import HTTPTypes

/// Zero-code routing: picks the container class and object for a request from its path.
public struct RouteTable: Sendable {
    public let configs: [RouteConfig]

    public init(routes: [RouteConfig]) {
        configs = routes
    }

    /// The binding and object name a request goes to, or nil when no route matches.
    public func resolve(_ request: Request) -> (binding: String, name: String)? {
        let path = request.pathname
        let headers = request.headers
        guard let route = configs.first(where: { path.hasPrefix($0.prefix) }) else { return nil }
        let name: String
        switch route.object {
        case .path:
            name = path
        case .rest:
            var rest = String(path.dropFirst(route.prefix.count))
            while rest.hasPrefix("/") { rest.removeFirst() }
            name = rest
        case .header(let header):
            name = HTTPField.Name(header).flatMap { headers[$0] } ?? ""
        case .cookie(let cookie):
            name = Self.cookie(cookie, in: headers[values: .cookie]) ?? ""
        case .query(let key):
            name = request.query(key) ?? ""
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
