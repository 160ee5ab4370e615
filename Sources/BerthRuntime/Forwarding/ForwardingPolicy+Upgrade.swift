import BerthCore
import NIOHTTP1

/// Protocol switches (`Upgrade`, RFC 9110 §7.8): Berth proxies WebSockets (RFC 6455) and
/// refuses every other upgrade, on both paths.
extension ForwardingPolicy {
    /// What a request's `Upgrade` asks for (``BerthCore/UpgradeRequest``).
    public typealias UpgradeRequest = BerthCore.UpgradeRequest

    /// Whether `headers` ask to switch protocols: ``BerthCore/UpgradeRequest/detect(in:)``.
    @inlinable
    public static func upgrade<Headers: Sequence>(in headers: Headers) -> UpgradeRequest where Headers.Element == (name: String, value: String) {
        UpgradeRequest.detect(in: headers)
    }

    /// Why Berth refuses a request that asks to switch protocols, or nil when it proxies it:
    /// only a WebSocket handshake (`GET`, HTTP/1.1, no body) is switched.
    public static func upgradeRefusal(_ upgrade: UpgradeRequest, method: String, version: (major: Int, minor: Int), hasBody: Bool) -> BerthError? {
        switch upgrade {
        case .none:
            return nil
        case .other(let protocols):
            return BerthError(.notImplemented, "Berth proxies WebSocket upgrades only (Upgrade: websocket), not \(protocols); send the request without Upgrade (use HTTP/2 over TLS for h2)")
        case .webSocket:
            if method != "GET" { return BerthError(.invalidInput, "a WebSocket handshake must be a GET request, not \(method)") }
            if version != (1, 1) { return BerthError(.invalidInput, "a WebSocket handshake needs HTTP/1.1") }
            if hasBody { return BerthError(.invalidInput, "a WebSocket handshake has no body") }
            return nil
        }
    }

    /// The headers Berth adds to a WebSocket handshake it forwards, after
    /// ``rewriteRequestHeaders(_:authority:client:scheme:framing:_:)`` dropped the client's
    /// hop-by-hop `Connection` and `Upgrade` (the `Sec-WebSocket-*` fields pass as they are);
    /// the same two go back to the client with the container's 101.
    public static let webSocketUpgradeHeaders: [(name: String, value: String)] = [("Connection", "Upgrade"), ("Upgrade", "websocket")]
}

extension ForwardingPolicy {
    /// The WebSocket handshake as the container gets it: the request's headers rewritten as
    /// for any request, plus ``webSocketUpgradeHeaders``; HTTP/1.1, no body.
    public static func webSocketHead(_ request: HTTPRequestHead, client: String?, scheme: String) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.count + 6)
        rewriteRequestHeaders(request.headers, client: client, scheme: scheme, framing: .gateway(.none, method: "GET")) {
            headers.add(name: $0, value: $1)
        }
        for header in webSocketUpgradeHeaders { headers.add(name: header.name, value: header.value) }
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: request.uri, headers: headers)
    }

    /// A container's response headers but the hop-by-hop and framing ones (``responseHeader(_:listed:)``):
    /// what a client gets of an answer whose body the gateway frames itself.
    public static func clientResponseHeaders(_ response: HTTPHeaders) -> HTTPHeaders {
        let listed = HopByHop.connectionListed(in: response)
        var headers = HTTPHeaders()
        for (name, value) in response where responseHeader(name, listed: listed) == .keep {
            headers.add(name: name, value: value)
        }
        return headers
    }

    /// The container's 101 as the client gets it: ``clientResponseHeaders(_:)`` plus
    /// ``webSocketUpgradeHeaders``.
    public static func webSocketResponseHeaders(_ response: HTTPHeaders) -> HTTPHeaders {
        var headers = clientResponseHeaders(response)
        for header in webSocketUpgradeHeaders { headers.add(name: header.name, value: header.value) }
        return headers
    }
}
