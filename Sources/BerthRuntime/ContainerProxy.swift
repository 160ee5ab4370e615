import AsyncHTTPClient
import BerthCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Forwards requests to containers over pooled connections, streaming both bodies.
public struct ContainerProxy: Sendable {
    let http: HTTPClient

    public init(http: HTTPClient) {
        self.http = http
    }

    /// Sends `request` to the container behind `lease`. The returned body releases the lease
    /// when it has been read to the end (or dropped).
    public func forward<Body: AsyncSequence & Sendable>(
        _ request: HTTPRequest, body: Body?, contentLength: Int?, lease: ContainerLease,
        clientAddress: String?, scheme: String = "http"
    ) async throws(BerthError) -> ProxiedResponse where Body.Element == ByteBuffer {
        var outbound = HTTPClientRequest(url: "http://\(lease.endpoint)\(request.path ?? "/")")
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        let listed = HopByHop.connectionListed(request.headerFields[values: .connection])
        var forwardedFor: String?
        var originalHost: String?
        for field in request.headerFields {
            let name = field.name.canonicalName
            // Body framing is AsyncHTTPClient's to set.
            if HopByHop.contains(name) || HopByHop.isListed(name, in: listed) || name == "content-length" || name == "transfer-encoding" {
                continue
            }
            switch name {
            case "host": originalHost = field.value; continue
            case "x-forwarded-for": forwardedFor = field.value; continue
            default: outbound.headers.add(name: field.name.rawName, value: field.value)
            }
        }
        if originalHost == nil { originalHost = request.authority }
        outbound.headers.replaceOrAdd(name: "Host", value: "container")
        if let clientAddress {
            outbound.headers.replaceOrAdd(name: "X-Forwarded-For", value: forwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress)
        }
        outbound.headers.replaceOrAdd(name: "X-Forwarded-Proto", value: scheme)
        if let originalHost { outbound.headers.replaceOrAdd(name: "X-Forwarded-Host", value: originalHost) }
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
            throw BerthError(
                .engineError,
                "the container did not answer: \(Self.describe(error)); it may have crashed or closed the connection",
                cause: error
            )
        }
        var head = HTTPResponse(status: .init(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase))
        let responseListed = HopByHop.connectionListed(response.headers["connection"])
        for (name, value) in response.headers {
            if HopByHop.contains(name) || HopByHop.isListed(name, in: responseListed) || HopByHop.equalsIgnoringCase(name, "transfer-encoding") {
                continue
            }
            if let fieldName = HTTPField.Name(name) { head.headerFields.append(HTTPField(name: fieldName, value: value)) }
        }
        return ProxiedResponse(head: head, body: ProxiedBody(body: response.body, lease: lease))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the connection was closed before a response"
            case .connectTimeout: return "connecting timed out"
            case .deadlineExceeded: return "no response within 15 minutes"
            default: return "\(error)"
            }
        }
        return "\(error)"
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

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: body.makeAsyncIterator(), lease: lease)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let lease: ContainerLease

        public mutating func next() async throws -> ByteBuffer? {
            do {
                guard let chunk = try await base.next() else {
                    await lease.release()
                    return nil
                }
                return chunk
            } catch {
                await lease.release()
                throw BerthError(.engineError, "the container closed the connection in the middle of the response", cause: error)
            }
        }
    }
}
