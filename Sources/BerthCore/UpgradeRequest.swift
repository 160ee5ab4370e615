/// What a request's `Upgrade` asks for (RFC 9110 §7.8), as both of Berth's proxies and the
/// SDK's `isWebSocketUpgrade` decide it.
public enum UpgradeRequest: Sendable, Equatable {
    /// Nothing: no `Upgrade`, or one its `Connection` does not list (then it is an
    /// ordinary hop-by-hop header, dropped).
    case none
    /// `Upgrade: websocket` (among others, if any).
    case webSocket
    /// Another protocol (`h2c`, …): refused.
    case other(String)

    /// Whether `headers` ask to switch protocols, as the HTTP parser sees it (`Upgrade` plus
    /// `upgrade` among the `Connection` tokens): after such a request the parser reads no more
    /// HTTP on the connection, so the request is either switched or answered and the
    /// connection closed. Allocates nothing for a request without `Upgrade`.
    @inlinable
    public static func detect<Headers: Sequence>(in headers: Headers) -> UpgradeRequest where Headers.Element == (name: String, value: String) {
        var protocols: [String]?
        var connectionUpgrade = false
        for (name, value) in headers {
            switch name.utf8.count {
            case 7 where HopByHop.equalsIgnoringCase(name, "upgrade"):
                var list = protocols ?? []
                HopByHop.forEachToken(in: value) { list.append(String(decoding: $0.lazy.map(HopByHop.lowercased), as: UTF8.self)) }
                protocols = list
            case 10 where HopByHop.equalsIgnoringCase(name, "connection"):
                HopByHop.forEachToken(in: value) { if HopByHop.equalsIgnoringCase($0, "upgrade") { connectionUpgrade = true } }
            default:
                continue
            }
        }
        guard connectionUpgrade, let protocols, !protocols.isEmpty else { return .none }
        if protocols.contains(where: { $0 == "websocket" || $0.hasPrefix("websocket/") }) { return .webSocket }
        return .other(protocols.joined(separator: ", "))
    }
}
