import BerthAPI
import BerthControlPlane
import BerthCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Every admin route needs the admin token: `Authorization: Bearer <token>` (scripts), or
/// the session cookie the dashboard's login form sets (people). Comparisons take the same
/// time whatever the input; neither the token nor the cookie is ever logged. Without them,
/// pages redirect to the login form and everything else answers 401.
///
/// A change (any method but GET, HEAD and OPTIONS) made with the cookie, and one to an open
/// path (the login form), must also pass ``SameOriginRule``: from this listener's own origin,
/// with a JSON body unless it is one of the dashboard's HTML forms; else 403 with the reason.
/// Bearer-token requests are not checked: a page elsewhere cannot send that header without a
/// CORS preflight, which the admin API never grants.
public struct AdminAuth<Context: RequestContext>: RouterMiddleware {
    let digest: SHA256.Digest
    let session: String
    /// Paths served without the token (the login form; `/metrics` when made public).
    let openPaths: Set<String>
    /// The dashboard's HTML forms: their changes are checked for their origin only.
    let formPaths: Set<String>
    let rule: SameOriginRule

    /// `scheme`: the listener's, `https` when it serves TLS.
    public init(token: String, openPaths: Set<String> = [], formPaths: Set<String> = ["/login", "/logout"], scheme: String = "http") {
        rule = SameOriginRule(scheme: scheme)
        digest = SHA256.hash(data: Data(token.utf8))
        session = Self.sessionValue(token: token)
        self.openPaths = openPaths
        self.formPaths = formPaths
    }

    /// The session cookie's value: derived from the token (an HMAC), so it is not the token,
    /// and it stays valid across restarts until the token changes.
    public static func sessionValue(token: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("berth-dashboard-session-v1".utf8), using: SymmetricKey(data: Data(token.utf8)))
        return Hex.encode(mac)
    }

    public static var cookieName: String { "berth_session" }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if openPaths.contains(path) { return try await sameOrigin(request, context: context, next: next) }
        if let header = request.headers[.authorization] {
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
        if let cookie = Self.cookie(Self.cookieName, in: request), Self.equal(cookie, session) {
            return try await sameOrigin(request, context: context, next: next)
        }
        if path.hasPrefix("/api/") || path == "/api" || path == "/metrics" {
            return AdminJSON.unauthorized("the admin API needs the admin token: send Authorization: Bearer <token> (the server wrote it to .berth/admin-token)")
        }
        return Response(status: .seeOther, headers: [.location: "/login", .cacheControl: "no-store"])
    }

    /// `next`, for a change only once it passed ``SameOriginRule``.
    func sameOrigin(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if SameOriginRule.changes(request.method), let refusal = rule.refusal(request.head, form: formPaths.contains(request.uri.path)) {
            return AdminJSON.error(BerthError(.forbidden, refusal))
        }
        return try await next(request, context)
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name {
                    return pair[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// Compares in time that depends on the length only.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// The admin API's JSON answers (the coders are ``BerthAPI/AdminJSON``'s).
extension AdminJSON {
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
        var response = Response(
            status: HTTPResponse.Status(code: error.code.httpStatus, reasonPhrase: error.code.httpReason), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        return response
    }

    static func unauthorized(_ message: String) -> Response {
        var response = error(BerthError(.unauthorized, message))
        response.headers[.wwwAuthenticate] = "Bearer realm=\"berth\""
        return response
    }

}
