import AsyncHTTPClient
import BerthAPI
import BerthControlPlane
import BerthCore
import BerthServer
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The dashboard, `/metrics` and the admin routes of a real `berth serve`.
@Suite("Dashboard, metrics and the admin routes", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct DashboardTests {
    /// A client that shows redirects instead of following them.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    struct Reply {
        var status: UInt
        var headers: HTTPHeaders
        var body: String
    }

    static func send(_ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await http.execute(request, timeout: .seconds(30))
        return Reply(status: response.status.code, headers: response.headers, body: String(buffer: try await response.body.collect(upTo: 8 << 20)))
    }

    @Test("every page and admin route answers with the token, and 401 or the login form without; the login form sets the session cookie")
    func routesNeedTheToken() async throws {
        try await ServeTests.withProject("dash", message: "dash") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let deploy = try await berth(["deploy", project.folder, "--containers-rollout", "immediate", "--json"])
            #expect(deploy.status == 0, "\(deploy.errors)")
            let deployment = try deploy.json(DeploymentView.self).id
            let instance = try #require(instanceID(in: try await server.get("/container/1?/log/hello-dashboard").body))
            let base = server.adminURL
            let bearer = [("Authorization", "Bearer \(server.token)")]

            let api = [
                "/api/server", "/api/containers", "/api/containers/web", "/api/containers/web/instances", "/api/containers/web/instances/stats",
                "/api/containers/web/history", "/api/deployments", "/api/deployments/\(deployment)", "/api/images", "/api/instances/\(instance)",
                "/api/instances/\(instance)/events", "/metrics",
            ]
            for path in api {
                #expect(try await Self.send(base + path, headers: bearer).status == 200, "\(path)")
                #expect(try await Self.send(base + path).status == 401, "\(path)")
                #expect(try await Self.send(base + path, headers: [("Authorization", "Bearer wrong")]).status == 401, "\(path)")
            }
            // Routes that change things refuse without the token, before reading anything.
            for (method, path) in [(HTTPMethod.POST, "/api/deployments"), (.POST, "/api/rollback"), (.DELETE, "/api/containers/web"), (.DELETE, "/api/images?ref=x:y")] {
                #expect(try await Self.send(base + path, method: method, body: "{}").status == 401, "\(method) \(path)")
                #expect(try await Self.send(base + path, method: method, headers: [("Authorization", "Bearer wrong")], body: "{}").status == 401)
            }
            #expect(try await Self.send(base + "/api/containers", headers: bearer).body.contains("\"live_instances\":1"), "nothing was deleted")
            for path in ["/", "/assets/app.js", "/assets/app.css"] {
                #expect(try await Self.send(base + path, headers: bearer).status == 200, "\(path)")
                let anonymous = try await Self.send(base + path)
                #expect(anonymous.status == 303, "\(path)")
                #expect(anonymous.headers.first(name: "Location") == "/login")
            }
            let page = try await Self.send(base + "/", headers: bearer)
            #expect(page.body.contains("/assets/app.js") && !page.body.contains("http://") && !page.body.contains("https://"), "nothing from elsewhere")
            #expect(page.body.contains("width=device-width"))

            // The login form: a wrong token is refused; the right one sets an HTTP-only,
            // secure session cookie that is not the token, and the cookie opens everything.
            let form = try await Self.send(base + "/login")
            #expect(form.status == 200 && form.body.contains("<form method=\"post\" action=\"/login\">"))
            // As a browser posts it: with the dashboard's own origin (see AdminOriginTests).
            let form_ = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", base)]
            #expect(try await Self.send(base + "/login", method: .POST, headers: form_, body: "token=wrong").status == 401)
            let login = try await Self.send(base + "/login", method: .POST, headers: form_, body: "token=\(server.token)")
            #expect(login.status == 303)
            let cookie = try #require(login.headers.first(name: "Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"))
            #expect(!cookie.contains(server.token))
            let session = [("Cookie", String(cookie.split(separator: ";")[0]))]
            #expect(try await Self.send(base + "/", headers: session).status == 200)
            #expect(try await Self.send(base + "/api/containers", headers: session).status == 200)
            #expect(try await Self.send(base + "/api/containers", headers: [("Cookie", "berth_session=forged")]).status == 401)

            // The instance page's logs: server-sent events with the container's output.
            var request = HTTPClientRequest(url: base + "/api/logs/events?instance=\(instance)&since=10m")
            request.headers.add(name: "Authorization", value: "Bearer \(server.token)")
            let response = try await Self.http.execute(request, timeout: .seconds(30))
            #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
            var text = ""
            let reading = Task {
                for try await chunk in response.body {
                    text += String(buffer: chunk)
                    if text.contains("hello-dashboard") { break }
                }
                return text
            }
            let timeout = Task { try await Task.sleep(for: .seconds(20)); reading.cancel() }
            let events = try await reading.value
            timeout.cancel()
            #expect(events.contains("data: {"))
            #expect(events.contains(#""line":"hello-dashboard""#) && events.contains(#""stream":"stdout""#), "\(events)")
        }
    }

    @Test("/metrics is valid Prometheus text with requests, latency, cold starts, instances and errors; --public-metrics opens it")
    func metrics() async throws {
        try await ServeTests.withProject("metrics", message: "metrics") { project in
            let server = try await ServerProcess.start(folder: project.folder, arguments: ["--public-metrics"])
            defer { server.stop() }
            #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
            for _ in 0..<3 {
                #expect(try await server.get("/container/a").status == 200)
                #expect(try await server.get("/container/b").status == 200)
            }
            #expect(try await server.get("/container/boom?/error").status == 502)
            let reply = try await Self.send(server.adminURL + "/metrics")
            #expect(reply.status == 200, "public: no token needed")
            #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let metrics = try PrometheusText(reply.body)
            let web = ["class": "MyContainer"]
            #expect(metrics.types["berth_requests_total"] == "counter")
            #expect((metrics.value("berth_requests_total", web.merging(["status": "200"]) { $1 }) ?? 0) >= 6)
            #expect(metrics.types["berth_request_duration_seconds"] == "histogram")
            #expect((metrics.value("berth_request_duration_seconds_count", web.merging(["status": "200"]) { $1 }) ?? 0) >= 6)
            #expect(metrics.types["berth_cold_start_duration_seconds"] == "histogram")
            #expect((metrics.value("berth_cold_start_duration_seconds_count", web) ?? 0) >= 3)
            #expect((metrics.value("berth_instances", web.merging(["state": "healthy"]) { $1 }) ?? 0) >= 2)
            #expect((metrics.value("berth_proxy_errors_total", web) ?? 0) >= 1)
            #expect(metrics.value("berth_container_start_failures_total", web) == 0)
            #expect(metrics.value("berth_max_instances_rejections_total", web) == 0)
        }
    }
}
