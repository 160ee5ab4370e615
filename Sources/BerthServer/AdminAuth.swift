import BerthCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Every admin route needs `Authorization: Bearer <token>`. The comparison takes the same
/// time whatever the token, and neither the token nor the header is ever logged.
public struct AdminAuth<Context: RequestContext>: RouterMiddleware {
    let digest: SHA256.Digest

    public init(token: String) {
        digest = SHA256.hash(data: Data(token.utf8))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return AdminJSON.unauthorized("the admin API needs the admin token: send Authorization: Bearer <token> (the server wrote it to .berth/admin-token)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return AdminJSON.unauthorized("the Authorization header must be \"Bearer <token>\"")
        }
        let offered = SHA256.hash(data: Data(parts[1].trimmingCharacters(in: .whitespaces).utf8))
        guard offered == digest else {
            return AdminJSON.unauthorized("the admin token is wrong: use the one in the server's .berth/admin-token")
        }
        return try await next(request, context)
    }
}

/// JSON bodies of the admin API: ISO 8601 dates, sorted keys, `{"error": {code, message}}`
/// for failures.
public enum AdminJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        do {
            let data = try encoder.encode(value)
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            return self.error(BerthError(.internal, "cannot encode the response: \(error)"))
        }
    }

    static func error(_ error: BerthError) -> Response {
        struct Body: Encodable {
            struct Detail: Encodable { let code: String; let message: String }
            let error: Detail
        }
        let data = (try? encoder.encode(Body(error: .init(code: error.code.rawValue, message: error.message)))) ?? Data()
        return Response(status: status(for: error.code), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func unauthorized(_ message: String) -> Response {
        var response = error(BerthError(.unauthorized, message))
        response.headers[.wwwAuthenticate] = "Bearer realm=\"berth\""
        return response
    }

    /// The HTTP status of an error code.
    public static func status(for code: BerthError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidInput, .invalidConfig: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        case .unauthorized: .unauthorized
        case .buildFailed: .unprocessableContent
        case .timeout: .gatewayTimeout
        case .unavailable, .engineUnavailable, .capacityExceeded: .serviceUnavailable
        case .engineError: .badGateway
        default: .internalServerError
        }
    }
}
