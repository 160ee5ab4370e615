import BerthAPI
import BerthControlPlane
import BerthCore
import BerthServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Changes through the dashboard's session cookie come from the dashboard's own origin, as
/// JSON; bearer-token requests are unchanged. Through the admin router in process, where
/// every request addresses `localhost` (the test client's Host), so `http://localhost` is
/// the listener's own origin.
@Suite("Admin API: changes through the session cookie only from the dashboard's origin")
struct AdminOriginTests {
    static let own = "http://localhost"
    static var cookie: HTTPFields { [.cookie: "\(AdminAuth<BasicRequestContext>.cookieName)=\(AdminAuth<BasicRequestContext>.sessionValue(token: AdminAPITests.token))"] }

    enum Credential: CaseIterable { case cookie, bearer }

    /// One request's headers: the credential, `Origin`, `Sec-Fetch-Site`, `Content-Type`
    /// (each nil: not sent).
    static func headers(_ credential: Credential, origin: String?, site: String?, type: String?) -> HTTPFields {
        var fields = credential == .cookie ? cookie : AdminAPITests.authorized
        if let origin { fields[.origin] = origin }
        if let site { fields[HTTPField.Name("Sec-Fetch-Site")!] = site }
        if let type { fields[.contentType] = type }
        return fields
    }

    static func failure(_ response: TestResponse) throws -> AdminAPITests.Failure {
        try AdminAPITests.decode(AdminAPITests.Failure.self, response)
    }

    @Test("POST /api/rollback: every credential × Origin × Sec-Fetch-Site × Content-Type; only the dashboard's own JSON passes with the cookie")
    func everyCombination() async throws {
        try await AdminAPITests().withAdmin { plane, client in
            let first = try await plane.deploy()
            let body = try AdminJSON.encoder.encode(RollbackRequest(deployment: first.id))
            let origins: [String?] = [Self.own, "http://localhost:8788", "null", nil]
            let sites: [String?] = [nil, "same-origin", "same-site", "cross-site"]
            let types: [String?] = ["application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8",
                                    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil]
            var passed = 0
            for credential in Credential.allCases {
                for origin in origins {
                    for site in sites {
                        for type in types {
                            let what = "\(credential) Origin \(origin ?? "-") Sec-Fetch-Site \(site ?? "-") Content-Type \(type ?? "-")"
                            let sameOrigin = (origin == Self.own && (site == nil || site == "same-origin")) || (origin == nil && site == "same-origin")
                            let json = type?.hasPrefix("application/json") == true
                            let allowed = credential == .bearer || (sameOrigin && json)
                            let headers = Self.headers(credential, origin: origin, site: site, type: type)
                            try await client.execute(uri: "/api/rollback", method: .post, headers: headers, body: ByteBuffer(data: body)) { response in
                                #expect(response.headers[.accessControlAllowOrigin] == nil, "\(what)")
                                if allowed {
                                    #expect(response.status == .created, "\(what): \(String(buffer: response.body))")
                                    passed += 1
                                    return
                                }
                                #expect(response.status == .forbidden, "\(what)")
                                #expect(response.headers[.contentType] == "application/json")
                                let failure = try Self.failure(response)
                                #expect(failure.error.code == "forbidden")
                                // The reason names the header that failed and what it must be.
                                let header = !sameOrigin ? (site != nil && site != "same-origin" ? "Sec-Fetch-Site: \(site!)" : "Origin") : "Content-Type"
                                #expect(failure.error.message.contains(header), "\(what): \(failure.error.message)")
                                #expect(failure.error.message.contains(sameOrigin ? "application/json" : Self.own), "\(what): \(failure.error.message)")
                            }
                        }
                    }
                }
            }
            // What the server did: one deployment per allowed request, none for the others.
            #expect(passed == 4 * 4 * 6 + 3 * 2)
            // (berth.retention keeps the last 10; the store remembers the ids it pruned.)
            #expect(await plane.deployer.deploymentViews().count + (try await plane.store.prunedDeployments().count) == 1 + passed)
        }
    }

    @Test("every changing method is checked (DELETE, PUT, PATCH), after the cookie; a read through the cookie is not, and grants no CORS")
    func methods() async throws {
        try await AdminAPITests().withAdmin { plane, client in
            _ = try await plane.deploy()
            _ = try await plane.instance(answering: "a")
            let elsewhere = Self.headers(.cookie, origin: "http://localhost:9999", site: "same-site", type: "application/json")
            try await client.execute(uri: "/api/containers/web", method: .delete, headers: elsewhere) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/containers/web", method: .delete, headers: Self.headers(.cookie, origin: Self.own, site: nil, type: nil)) { response in
                #expect(response.status == .forbidden, "a DELETE through the cookie declares JSON too")
                let failure = try Self.failure(response)
                #expect(failure.error.message.contains("no Content-Type"))
            }
            for method in [HTTPRequest.Method.put, .patch] {
                try await client.execute(uri: "/api/rollback", method: method, headers: elsewhere) { response in
                    #expect(response.status == .forbidden, "\(method)")
                }
            }
            #expect(await plane.deployer.containerViews().first?.liveInstances == 1, "nothing was deleted")
            try await client.execute(uri: "/api/containers", method: .get, headers: elsewhere) { response in
                #expect(response.status == .ok, "reading is not a change; the page elsewhere cannot read the answer")
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            // A preflight carries no cookie: it is refused, so the browser never sends the change.
            let preflight: HTTPFields = [.origin: "http://localhost:9999", .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "content-type"]
            try await client.execute(uri: "/api/rollback", method: .options, headers: preflight) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.accessControlAllowOrigin] == nil && response.headers[.accessControlAllowMethods] == nil)
            }
            // A wrong cookie is 401 before the origin is looked at, whatever the Origin.
            for origin in [Self.own, "http://localhost:9999"] {
                var forged = Self.headers(.cookie, origin: origin, site: nil, type: "application/json")
                forged[.cookie] = "\(AdminAuth<BasicRequestContext>.cookieName)=forged"
                try await client.execute(uri: "/api/containers/web", method: .delete, headers: forged) { response in
                    #expect(response.status == .unauthorized, "\(origin)")
                }
            }
            try await client.execute(uri: "/api/containers/web", method: .delete, headers: Self.headers(.cookie, origin: Self.own, site: "same-origin", type: "application/json")) { response in
                #expect(response.status == .ok, "the dashboard's own DELETE: \(String(buffer: response.body))")
            }
        }
    }

    @Test("the login and logout forms need the dashboard's origin, with the form's own content type")
    func forms() async throws {
        try await AdminAPITests().withAdmin { _, client in
            let form = "application/x-www-form-urlencoded"
            let login = ByteBuffer(string: "token=\(AdminAPITests.token)")
            for (origin, site) in [(Self.own, nil), (Self.own, "same-origin"), (nil, "same-origin")] as [(String?, String?)] {
                var headers: HTTPFields = [.contentType: form]
                if let origin { headers[.origin] = origin }
                if let site { headers[HTTPField.Name("Sec-Fetch-Site")!] = site }
                try await client.execute(uri: "/login", method: .post, headers: headers, body: login) { response in
                    #expect(response.status == .seeOther, "\(origin ?? "-") \(site ?? "-")")
                    #expect(response.headers[.setCookie]?.hasPrefix("\(AdminAuth<BasicRequestContext>.cookieName)=") == true)
                }
            }
            for (origin, site) in [("http://localhost:8788", nil), ("null", nil), (nil, nil), (nil, "same-site"), (Self.own, "cross-site")] as [(String?, String?)] {
                var headers: HTTPFields = [.contentType: form]
                if let origin { headers[.origin] = origin }
                if let site { headers[HTTPField.Name("Sec-Fetch-Site")!] = site }
                try await client.execute(uri: "/login", method: .post, headers: headers, body: login) { response in
                    #expect(response.status == .forbidden, "\(origin ?? "-") \(site ?? "-")")
                    #expect(response.headers[.setCookie] == nil)
                    let failure = try Self.failure(response)
                    #expect(failure.error.code == "forbidden")
                }
            }
            var logout = Self.headers(.cookie, origin: "http://localhost:8788", site: "same-site", type: form)
            try await client.execute(uri: "/logout", method: .post, headers: logout) { response in
                #expect(response.status == .forbidden, "a page elsewhere cannot log the dashboard out")
            }
            logout = Self.headers(.cookie, origin: Self.own, site: "same-origin", type: form)
            try await client.execute(uri: "/logout", method: .post, headers: logout) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
        }
    }
}
