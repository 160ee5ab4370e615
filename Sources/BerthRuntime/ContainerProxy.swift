import AsyncHTTPClient
import BerthCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Forwards requests to containers over pooled connections, streaming both bodies.
public struct ContainerProxy: Sendable {
    let http: HTTPClient
    /// `berth.limits.response_timeout`, as `http` enforces it (its read timeout): named in
    /// the errors, as the warm path names it.
    let responseTimeout: Duration?

    public init(http: HTTPClient, responseTimeout: Duration? = nil) {
        self.http = http
        self.responseTimeout = responseTimeout
    }

    /// Sends `request` to the container behind `lease`. The returned body releases the lease
    /// when it has been read to the end (or dropped).
    public func forward<Body: AsyncSequence & Sendable>(
        _ request: HTTPRequest, body: Body?, contentLength: Int?, lease: ContainerLease,
        clientAddress: String?, scheme: String = "http"
    ) async throws(BerthError) -> ProxiedResponse where Body.Element == ByteBuffer {
        // The HTTP client may open a new connection for any request: none while the runtime
        // does not trust its endpoints (``EngineSight``).
        guard lease.mayConnect else {
            await lease.release()
            throw EngineSight.refusal
        }
        var outbound = HTTPClientRequest(url: "http://\(lease.endpoint)\(request.path ?? "/")")
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        outbound.headers.reserveCapacity(request.headerFields.count + 4)
        // Body framing is AsyncHTTPClient's to set.
        ForwardingPolicy.rewriteRequestHeaders(
            request.headerFields.lazy.map { (name: $0.name.rawName, value: $0.value) }, authority: request.authority,
            client: clientAddress, scheme: scheme, framing: .byHTTPClient
        ) { outbound.headers.add(name: $0, value: $1) }
        if let body {
            if let contentLength {
                outbound.body = .stream(body, length: .known(Int64(contentLength)))
            } else {
                outbound.body = .stream(body, length: .unknown)
            }
        }

        let response: HTTPClientResponse
        do {
            response = try await http.execute(outbound, timeout: .minutes(15))
        } catch {
            await lease.release()
            throw ForwardingPolicy.failure(error, responseTimeout: responseTimeout)
        }
        var head = HTTPResponse(status: .init(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase))
        let listed = HopByHop.connectionListed(in: response.headers)
        for (name, value) in response.headers where ForwardingPolicy.responseHeader(name, listed: listed) != .drop {
            if let fieldName = HTTPField.Name(name) { head.headerFields.append(HTTPField(name: fieldName, value: value)) }
        }
        return ProxiedResponse(head: head, body: ProxiedBody(body: response.body, lease: lease, responseTimeout: responseTimeout))
    }
}
/// A container's response: its head, and its body as it streams.
public struct ProxiedResponse: Sendable {
    public var head: HTTPResponse
    public var body: ProxiedBody
}

/// The body of a proxied response. Reading it to the end, failing, or dropping it releases
/// the container lease, so the idle timer counts from the moment the response is done.
public struct ProxiedBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let body: HTTPClientResponse.Body
    let lease: ContainerLease
    let responseTimeout: Duration?

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: body.makeAsyncIterator(), lease: lease, responseTimeout: responseTimeout)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let lease: ContainerLease
        let responseTimeout: Duration?

        public mutating func next() async throws -> ByteBuffer? {
            do {
                guard let chunk = try await base.next() else {
                    await lease.release()
                    return nil
                }
                return chunk
            } catch {
                await lease.release()
                throw ForwardingPolicy.interrupted(error, responseTimeout: responseTimeout)
            }
        }
    }
}

extension ContainerProxy {
    /// Opens a WebSocket to the container behind `lease` for a client's handshake (see
    /// ``ContainerSocket/open(lease:request:client:scheme:on:timeout:)``), on `loop` (the
    /// client connection's, when known), and returns the container's answer as the client
    /// gets it: the 101 with its socket, or its other response, whole.
    public func openWebSocket(
        _ request: HTTPRequest, lease: ContainerLease, clientAddress: String?, scheme: String, on loop: (any EventLoop)?
    ) async throws(BerthError) -> (socket: ContainerSocket?, head: HTTPResponse, body: ByteBuffer?) {
        var headers = HTTPHeaders()
        for field in request.headerFields { headers.add(name: field.name.rawName, value: field.value) }
        if headers["host"].isEmpty, let authority = request.authority { headers.add(name: "Host", value: authority) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.path ?? "/", headers: headers)
        let timeout = TimeAmount(responseTimeout ?? .seconds(60))
        let opened = try await ContainerSocket.open(
            lease: lease, request: head, client: clientAddress, scheme: scheme, on: loop ?? http.eventLoopGroup.next(), timeout: timeout
        )
        var response = HTTPResponse(status: .init(code: Int(opened.head.status.code), reasonPhrase: opened.head.status.reasonPhrase))
        let kept = opened.socket == nil
            ? ForwardingPolicy.clientResponseHeaders(opened.head.headers) : ForwardingPolicy.webSocketResponseHeaders(opened.head.headers)
        for (name, value) in kept {
            if let fieldName = HTTPField.Name(name) { response.headerFields.append(HTTPField(name: fieldName, value: value)) }
        }
        return (opened.socket, response, opened.body)
    }
}
