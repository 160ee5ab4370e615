import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import Foundation
import Hummingbird

/// The dashboard on the admin port: the login form, the page (an app drawn in the browser
/// from the admin API, with its script and style served by Berth: nothing comes from
/// elsewhere), `/metrics`, and the API routes only the dashboard needs.
struct DashboardRoutes: Sendable {
    let deployer: Deployer
    let events: InstanceEventHub
    let telemetry: Telemetry
    let stats: StatsSampler
    let token: String

    func add(to router: Router<BasicRequestContext>) {
        router.get("login") { _, _ in Self.html(DashboardAssets.login(message: nil)) }
        router.post("login") { request, _ in
            let body = (try? await request.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            let offered = Self.formValue("token", in: body) ?? ""
            guard AdminAuth<BasicRequestContext>.equal(AdminAuth<BasicRequestContext>.sessionValue(token: offered), AdminAuth<BasicRequestContext>.sessionValue(token: token)) else {
                return Self.html(DashboardAssets.login(message: "That is not the admin token. It is in .berth/admin-token on the server."), status: .unauthorized)
            }
            let cookie = "\(AdminAuth<BasicRequestContext>.cookieName)=\(AdminAuth<BasicRequestContext>.sessionValue(token: token)); Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=2592000"
            return Response(status: .seeOther, headers: [.location: "/", .setCookie: cookie, .cacheControl: "no-store"])
        }
        router.post("logout") { _, _ in
            let cookie = "\(AdminAuth<BasicRequestContext>.cookieName)=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
            return Response(status: .seeOther, headers: [.location: "/login", .setCookie: cookie])
        }
        router.get("/") { _, _ in Self.html(DashboardAssets.page) }
        router.get("assets/app.js") { _, _ in Self.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("assets/app.css") { _, _ in Self.asset(DashboardAssets.style, type: "text/css; charset=utf-8") }
        router.get("metrics") { _, _ in
            let text = await telemetry.exposition(deployer.registry)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("api/containers/:ref/history") { request, context in
            try await handle { () async throws(BerthError) in
                let view = try await deployer.containerView(try context.parameter("ref"))
                let minutes = request.uri.queryParameters.get("minutes").flatMap(Int.init) ?? 60
                return AdminJSON.response(telemetry.history(view.className).points(minutes: min(60, max(1, minutes))))
            }
        }
        router.get("api/containers/:ref/instances/stats") { _, context in
            try await handle { () async throws(BerthError) in
                var views = try await deployer.instanceViews(try context.parameter("ref"))
                await withTaskGroup(of: (Int, (cpu: Double?, memory: UInt64, limit: UInt64)?).self) { group in
                    for (index, view) in views.enumerated().prefix(64) {
                        guard let containerID = view.containerID else { continue }
                        group.addTask { (index, await stats.sample(containerID)) }
                    }
                    for await (index, sample) in group {
                        guard let sample else { continue }
                        views[index].cpuPercent = sample.cpu
                        views[index].memoryBytes = sample.memory
                        views[index].memoryLimitBytes = sample.limit
                    }
                }
                return AdminJSON.response(views)
            }
        }
        router.get("api/instances/:id") { _, context in
            try await handle { () async throws(BerthError) in
                let id = try context.parameter("id")
                guard let row = try await deployer.store.instances(instanceID: id, limit: 2).first else {
                    throw BerthError(.notFound, "no instance \(id)")
                }
                let live = try? await deployer.instanceViews(row.className).first { $0.instance == row.instanceID }
                // The object's storage, read-only; an object of a class no longer served has none shown.
                let storage = try? await deployer.registry.storageView(className: row.className, object: row.objectID)
                return AdminJSON.response(InstanceDetail(
                    instance: row, live: live, events: try await deployer.store.events(instanceID: row.instanceID), storage: storage
                ))
            }
        }
        router.get("api/logs/events") { request, _ in
            let query = request.uri.queryParameters
            var tail = LogTail(registry: deployer.registry, events: events, output: deployer.engine)
            tail.serverSentEvents = true
            let since = query.get("since").flatMap(DurationText.parse).map { Date().addingTimeInterval(-Double($0.components.seconds)) }
            let stream = tail.stream(
                className: query.get("class").flatMap { $0.isEmpty ? nil : $0 }, instance: query.get("instance").flatMap { $0.isEmpty ? nil : $0 },
                since: since ?? Date().addingTimeInterval(-3600)
            )
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody(asyncSequence: stream)
            )
        }
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A field of an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}

/// What the instance page shows: the instance as the store keeps it, its live view while it
/// runs, and its history.
struct InstanceDetail: Encodable {
    var instance: StateStore.InstanceRow
    var live: InstanceView?
    var events: [StateStore.EventRow]
    /// Its object's storage: pairs, tables, alarm and schedules.
    var storage: ObjectStorageView?
}
