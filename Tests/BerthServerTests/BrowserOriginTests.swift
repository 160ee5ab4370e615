import BerthAPI
import BerthCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Cross-site request forgery against a real `berth serve`, in Debian's headless Chromium: a
/// person logs in to the dashboard, then opens a page served from another port of
/// 127.0.0.1. That page is the same *site* as the dashboard, so the browser attaches the
/// `SameSite=Strict` session cookie to what it sends; the admin API must still refuse it.
@Suite(
    "The admin API against a page on another loopback port, in headless Chromium",
    .enabled(if: Engine.enabled && (Chromium.available || ProcessInfo.processInfo.environment["CI"] != nil), "no engine or no chromium here; `make test` installs both")
)
struct BrowserOriginTests {
    /// Each way a page elsewhere can POST to `/api/rollback` (marked `?attack=NAME`), and
    /// whether the browser sends the POST at all: a JSON content type from another origin
    /// needs a CORS preflight first, and the admin API grants none.
    static let attacks: [(name: String, sent: Bool)] = [
        ("no-cors-text", true), ("no-cors-claims-json", true), ("cors-text", true), ("cors-json", false),
        ("beacon-text", true), ("beacon-json", false),
        ("form-text", true), ("form-urlencoded", true), ("form-multipart", true),
        ("redirect-same", true), ("redirect-other", true),
    ]

    /// The attacks, as the page elsewhere runs them. Every body is a valid rollback request
    /// (the text/plain forms spell one out with a field's name and value), so a request that
    /// reached the handler would register a deployment.
    static func script(admin: String, deployment: String, otherSite: String) -> String {
        """
        (async () => {
          const body = JSON.stringify({ deployment: \(BrowserTests.quoted(deployment)) });
          const url = (name) => `\(admin)/api/rollback?attack=${name}`;
          const tried = {};
          const post = async (name, init) => {
            try { tried[name] = (await fetch(url(name), { method: "POST", credentials: "include", body, ...init })).type; }
            catch (error) { tried[name] = String(error); }
          };
          await post("no-cors-text", { mode: "no-cors" });
          await post("no-cors-claims-json", { mode: "no-cors", headers: { "Content-Type": "application/json" } });
          await post("cors-text", {});
          await post("cors-json", { headers: { "Content-Type": "application/json" } });
          tried["beacon-text"] = navigator.sendBeacon(url("beacon-text"), body);
          try { tried["beacon-json"] = navigator.sendBeacon(url("beacon-json"), new Blob([body], { type: "application/json" })); }
          catch (error) { tried["beacon-json"] = String(error); }
          const form = (name, enctype, action) => new Promise((resolve) => {
            const frame = document.createElement("iframe");
            frame.name = name;
            document.body.appendChild(frame);
            frame.onload = () => resolve();
            const form = document.createElement("form");
            form.method = "post"; form.enctype = enctype; form.action = action; form.target = name;
            const field = document.createElement("input");
            field.name = body.slice(0, -1) + ',"pad":"'; field.value = '"}';
            form.appendChild(field);
            document.body.appendChild(form);
            form.submit();
            tried[name] = "submitted";
          });
          await form("form-text", "text/plain", url("form-text"));
          await form("form-urlencoded", "application/x-www-form-urlencoded", url("form-urlencoded"));
          await form("form-multipart", "multipart/form-data", url("form-multipart"));
          // Through a 307 of the page's own server, and of a third origin's (Origin: null).
          await form("redirect-same", "text/plain", "/bounce?attack=redirect-same");
          await form("redirect-other", "text/plain", "\(otherSite)/bounce?attack=redirect-other");
          return JSON.stringify(tried);
        })()
        """
    }

    /// A site on another loopback port: a page, and `/bounce?attack=NAME`, a 307 to the admin
    /// API's rollback route.
    static func site(admin: String) -> Application<RouterResponder<BasicRequestContext>> {
        let router = Router()
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "<!doctype html><title>elsewhere</title><p>A page on another port.</p>"))
            )
        }
        router.post("bounce") { request, _ in
            let name = request.uri.queryParameters.get("attack") ?? ""
            return Response(status: .temporaryRedirect, headers: [.location: "\(admin)/api/rollback?attack=\(name)"])
        }
        return Application(router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)))
    }

    /// What became of one request, from the browser's network events.
    struct Outcome {
        var method: String
        var url: String
        var status: Int?
        var failure: String?
    }

    /// Every request the page made, by request id: its last URL (after redirects), the status
    /// the server answered (also for a response CORS kept from the page), or why it failed.
    static func outcomes(_ browser: Chromium) -> [String: Outcome] {
        var outcomes: [String: Outcome] = [:]
        var rawStatus: [String: Int] = [:]
        for (method, params) in browser.networkEvents {
            guard let id = params["requestId"] as? String else { continue }
            switch method {
            case "Network.requestWillBeSent":
                let request = params["request"] as? [String: Any] ?? [:]
                outcomes[id] = Outcome(method: request["method"] as? String ?? "", url: request["url"] as? String ?? "")
            case "Network.responseReceived":
                outcomes[id]?.status = (params["response"] as? [String: Any])?["status"] as? Int
            case "Network.responseReceivedExtraInfo":
                rawStatus[id] = params["statusCode"] as? Int
            case "Network.loadingFailed":
                let cors = (params["corsErrorStatus"] as? [String: Any])?["corsError"] as? String
                outcomes[id]?.failure = [params["errorText"] as? String, cors].compactMap { $0 }.joined(separator: " ")
            default: break
            }
        }
        for (id, status) in rawStatus where outcomes[id]?.status == nil { outcomes[id]?.status = status }
        return outcomes
    }

    /// The POSTs that reached `/api/rollback` for attack `name`.
    static func posts(_ name: String, admin: String, in outcomes: [String: Outcome]) -> [Outcome] {
        outcomes.values.filter { $0.method == "POST" && $0.url == "\(admin)/api/rollback?attack=\(name)" }
    }

    static func deployments(_ server: ServerProcess) async throws -> [DeploymentView] {
        let reply = try await server.admin("/api/deployments", token: server.token)
        return try AdminJSON.decoder.decode([DeploymentView].self, from: Data(reply.body.utf8))
    }

    @Test("a page on another port of 127.0.0.1 cannot roll back with the dashboard's cookie in any way; the dashboard itself still can")
    func crossOriginPosts() async throws {
        try await ServeTests.withProject("origin", message: "origin") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let deploy = try await berth(["deploy", project.folder, "--containers-rollout", "immediate", "--json"])
            #expect(deploy.status == 0, "\(deploy.errors)")
            let deployment = try deploy.json(DeploymentView.self).id
            let admin = server.adminURL
            try await Self.site(admin: admin).test(.live) { page in
                try await Self.site(admin: admin).test(.live) { other in
                    let elsewhere = "http://127.0.0.1:\(try #require(page.port))"
                    let browser = try Chromium()
                    defer { browser.close() }
                    try await browser.openPage()
                    try await browser.send("Network.enable")

                    // A person logs in: the browser now holds the session cookie.
                    try await browser.navigate(admin + "/login")
                    #expect(try await browser.waitFor("document.getElementById('token')"))
                    _ = try await browser.evaluate("document.getElementById('token').value = \(BrowserTests.quoted(server.token)); document.querySelector('form').submit(); true")
                    #expect(try await browser.waitFor("location.pathname === '/' && document.querySelector('[data-class=\"MyContainer\"]')"), "logged in")
                    let before = try await Self.deployments(server).count

                    // The page elsewhere tries every way; each ends in the browser before we look.
                    try await browser.navigate(elsewhere + "/")
                    #expect(try await browser.waitFor("document.title === 'elsewhere'"))
                    let tried = try await browser.evaluate(Self.script(admin: admin, deployment: deployment, otherSite: "http://127.0.0.1:\(try #require(other.port))"))
                    for (name, _) in Self.attacks {
                        let ended = try await Self.eventually { Self.posts(name, admin: admin, in: Self.outcomes(browser)).contains { $0.status != nil || $0.failure != nil } }
                        #expect(ended, "\(name): the browser never finished its POST (\(tried ?? "-"))")
                    }
                    let outcomes = Self.outcomes(browser)
                    for (name, sent) in Self.attacks {
                        let posts = Self.posts(name, admin: admin, in: outcomes)
                        if sent {
                            // It reached the server with the cookie (else 401) and was refused.
                            #expect(!posts.isEmpty && posts.allSatisfy { $0.status == 403 }, "\(name): \(posts)")
                        } else {
                            #expect(!posts.isEmpty && posts.allSatisfy { $0.status == nil && $0.failure?.contains("Preflight") == true }, "\(name): \(posts)")
                        }
                    }
                    #expect(try await Self.deployments(server).count == before, "no attack registered a deployment")

                    // The dashboard's own change, in the same browser, goes through.
                    try await browser.navigate(admin + "/")
                    #expect(try await browser.waitFor("document.querySelector('[data-class=\"MyContainer\"]')"))
                    let rolledBack = try await browser.evaluate(
                        "api('/api/rollback', { method: 'POST', data: { deployment: \(BrowserTests.quoted(deployment)) } }).then((d) => d.rollback_of, (e) => 'failed: ' + e.message)"
                    )
                    #expect(rolledBack as? String == deployment)
                    let after = try await Self.deployments(server)
                    #expect(after.count == before + 1 && after.first?.rollbackOf == deployment && after.first?.current == true)

                    // And its log-out form: the cookie is gone, the API answers 401 again.
                    _ = try await browser.evaluate("document.querySelector('header form button').click(); true")
                    #expect(try await browser.waitFor("location.pathname === '/login'"))
                    #expect(try await browser.evaluate("fetch('/api/containers').then((r) => r.status)") as? Int == 401)
                }
            }
        }
    }

    /// Polls `condition` every 100 ms for up to 20 s.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
