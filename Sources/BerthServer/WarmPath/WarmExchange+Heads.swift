import BerthCore
import BerthRuntime
import NIOHTTP1

/// The heads of a warm exchange, rewritten as the ``ForwardingPolicy`` says.
extension WarmExchange {
    /// Whether an HTTP/1.1 client waits for `100 Continue` before sending its body.
    static func expectsContinue(_ request: HTTPRequestHead) -> Bool {
        let version = (request.version.major, request.version.minor)
        return request.headers.contains {
            HopByHop.equalsIgnoringCase($0.name, "expect") && ForwardingPolicy.expectsContinue($0.value, clientVersion: version)
        }
    }

    /// The request as the container gets it (see ``ForwardingPolicy``): HTTP/1.1 keep-alive,
    /// its body framed by Berth as the parser decoded it (`body`), whatever the client sent.
    static func forwardedHead(_ request: HTTPRequestHead, body: RequestFraming.Body, client: String?, scheme: String = "http") -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.count + 4)
        let framing = ForwardingPolicy.Framing.gateway(body, method: request.method.rawValue)
        ForwardingPolicy.rewriteRequestHeaders(request.headers, client: client, scheme: scheme, framing: framing) {
            headers.add(name: $0, value: $1)
        }
        return HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)
    }

    /// The container's response headers as the client of `request` gets them (see
    /// ``ForwardingPolicy``), before ``setConnection(_:version:closeClient:)``; and whether
    /// the client can only tell the body's end by the connection closing.
    static func clientResponseHeaders(_ head: HTTPResponseHead, for request: HTTPRequestHead) -> (headers: HTTPHeaders, bodyEndsWithClose: Bool) {
        let listed = HopByHop.connectionListed(in: head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 1)
        var hasLength = false
        for (name, value) in head.headers {
            switch ForwardingPolicy.responseHeader(name, listed: listed) {
            case .drop: continue
            case .keep: break
            case .contentLength: hasLength = true
            }
            headers.add(name: name, value: value)
        }
        let endsWithClose = ForwardingPolicy.bodyEndsWithClose(
            clientVersion: (request.version.major, request.version.minor), isHEAD: request.method == .HEAD,
            status: Int(head.status.code), hasContentLength: hasLength
        )
        return (headers, endsWithClose)
    }

    /// Sets `Connection` in a response's headers when the client's connection will close or
    /// (HTTP/1.0) stay open.
    static func setConnection(_ headers: inout HTTPHeaders, version: HTTPVersion, closeClient: Bool) {
        if version == .http1_0 {
            if !closeClient { headers.add(name: "Connection", value: "keep-alive") }
        } else if closeClient {
            headers.add(name: "Connection", value: "close")
        }
    }
}
