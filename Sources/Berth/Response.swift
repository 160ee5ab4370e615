public import HTTPTypes
import NIOCore

/// An HTTP response from a Worker or a container.
public struct Response: Sendable {
    public var head: HTTPResponse
    public var body: Body
    /// The WebSocket of a `101 Switching Protocols`: a container's (from `stub.fetch`), or
    /// the client end of a ``WebSocketPair``.
    public var webSocket: WebSocket?

    public init(head: HTTPResponse, body: Body = .empty) {
        self.head = head
        self.body = body
    }

    public init(status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], body: Body = .empty) {
        self.init(head: HTTPResponse(status: status, headerFields: headers), body: body)
    }

    /// `new Response(null, { status: 101, webSocket })`: switches the client's connection to
    /// `webSocket`. `headers` may name the subprotocol (`Sec-WebSocket-Protocol`); Berth adds
    /// the handshake's own.
    public init(webSocket: WebSocket, headers: HTTPFields = [:]) {
        self.init(head: HTTPResponse(status: .switchingProtocols, headerFields: headers))
        self.webSocket = webSocket
    }

    /// A plain-text response.
    public static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: Body(text))
    }

    public var status: HTTPResponse.Status { head.status }
    public var headers: HTTPFields {
        get { head.headerFields }
        set { head.headerFields = newValue }
    }
}
