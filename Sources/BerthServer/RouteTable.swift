import Foundation
import BerthConfig
import BerthRuntime
import HTTPTypes

/// Zero-code routing: picks the container class and object for a request from its path.
public struct RouteTable: Sendable {
    struct Entry: Sendable {
        var config: RouteConfig
        var target: ContainerClass
    }

    let entries: [Entry]

    init(routes: [RouteConfig], bindings: [String: ContainerClass]) {
        entries = routes.compactMap { route in bindings[route.binding].map { Entry(config: route, target: $0) } }
    }

    public var configs: [RouteConfig] { entries.map(\.config) }

    /// Where a request goes, or nil when no route matches.
    public func resolve(path fullPath: String, headers: HTTPFields) -> (ContainerClass, ObjectID)? {
        let path = fullPath.split(separator: "?", maxSplits: 1).first.map(String.init) ?? fullPath
        guard let entry = entries.first(where: { path.hasPrefix($0.config.prefix) }) else { return nil }
        let target = entry.target
        let name: String
        switch entry.config.object {
        case .path:
            name = path
        case .rest:
            var rest = String(path.dropFirst(entry.config.prefix.count))
            while rest.hasPrefix("/") { rest.removeFirst() }
            name = rest
        case .header(let header):
            name = HTTPField.Name(header).flatMap { headers[$0] } ?? ""
        case .cookie(let cookie):
            name = Self.cookie(cookie, in: headers[values: .cookie]) ?? ""
        case .query(let key):
            name = Self.query(key, in: fullPath) ?? ""
        case .random(let count):
            name = "instance-\(Int.random(in: 0..<count))"
        case .singleton:
            name = "cf-singleton-container"
        case .name(let fixed):
            name = fixed
        }
        return (target, target.idFromName(name))
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

    static func query(_ key: String, in path: String) -> String? {
        guard let question = path.firstIndex(of: "?") else { return nil }
        for pair in path[path.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first.map(String.init) == key {
                return parts.count == 2 ? String(parts[1]).removingPercentEncoding ?? String(parts[1]) : ""
            }
        }
        return nil
    }
}
