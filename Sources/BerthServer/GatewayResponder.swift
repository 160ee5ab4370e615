import BerthCore
import BerthRuntime
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The gateway: each request goes through the Worker (zero-code routes from the config) to
/// a Durable Object, which starts its container if needed, and is proxied there with both
/// bodies streaming.
public struct GatewayResponder: HTTPResponder {
    public typealias Context = GatewayContext
    let platform: Platform

    public init(platform: Platform) {
        self.platform = platform
    }

    public func respond(to request: Request, context: GatewayContext) async throws -> Response {
        let path = request.head.path ?? "/"
        guard let (containerClass, id) = platform.routes.resolve(path: path, headers: request.headers) else {
            if path == "/" || path.hasPrefix("/?") { return index() }
            return ErrorResponse.text(.notFound, "No route for \(path.split(separator: "?").first ?? "/"). Routes: \(routeList())\n")
        }
        let controller = containerClass.get(id)
        // Cloudflare's fetch(): the target port comes from cf-container-target-port, else defaultPort.
        let port = request.headers[.containerTargetPort].flatMap { Int($0) }
        do {
            let lease = try await controller.acquire(port: port)
            let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
            let contentLength = request.headers[.contentLength].flatMap { Int($0) }
            let proxied = try await platform.proxy.forward(
                request.head, body: hasBody ? request.body : nil, contentLength: contentLength, lease: lease,
                clientAddress: context.remoteAddress?.ipAddress
            )
            var headers = proxied.head.headerFields
            headers[.containerTargetPort] = nil
            return Response(status: proxied.head.status, headers: headers, body: ResponseBody(asyncSequence: proxied.body))
        } catch {
            return ErrorResponse.from(error)
        }
    }

    func routeList() -> String {
        platform.routes.configs.map { "\($0.prefix) → \($0.binding) (\($0.object))" }.joined(separator: ", ")
    }

    /// `GET /`: what this Worker serves, as the template's index does.
    func index() -> Response {
        var lines = ["Berth is serving \(platform.config.name).", "", "Routes:"]
        for route in platform.routes.configs {
            lines.append("  \(route.prefix)  →  \(route.binding), object by \(route.object)")
        }
        if platform.routes.configs.isEmpty {
            lines.append("  (none: add \"routes\" under \"berth\" in the configuration)")
        }
        return ErrorResponse.text(.ok, lines.joined(separator: "\n") + "\n")
    }
}

extension HTTPField.Name {
    /// The header `switchPort` sets.
    public static let containerTargetPort = HTTPField.Name("cf-container-target-port")!
}

/// Errors as HTTP responses that say what went wrong.
enum ErrorResponse {
    static func text(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: message)))
    }

    static func from(_ error: any Error) -> Response {
        let error = BerthError.wrap(error)
        switch error.code {
        case .capacityExceeded:
            return text(.serviceUnavailable, error.message + "\n", headers: [.retryAfter: "1"])
        case .invalidInput:
            return text(.badRequest, error.message + "\n")
        case .engineError where error.message.hasPrefix("the container"):
            return text(.badGateway, error.message + "\n")
        default:
            return text(.internalServerError, error.message + "\n")
        }
    }
}
