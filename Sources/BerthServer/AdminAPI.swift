import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import Foundation
import Hummingbird

/// The admin API under `/api`, on the admin port, every route behind the bearer token.
///
/// | route | what |
/// |---|---|
/// | `GET /api/server` | app, server id, current deployment, gateway URL |
/// | `GET /api/containers` | every class: state, live instances… |
/// | `GET /api/containers/{ref}` | one class (application id, prefix, name or class) |
/// | `GET /api/containers/{ref}/instances` | its live and failed instances |
/// | `DELETE /api/containers/{ref}` | stop and remove every instance; requests then fail |
/// | `GET /api/deployments`, `GET /api/deployments/{id}` | deployments with rollout progress |
/// | `POST /api/deployments` | register a deployment (its images built and tagged) |
/// | `POST /api/rollback` | `{"deployment": id?, "rollout": mode?}` |
/// | `GET /api/images?filter=REGEX` | images Berth built |
/// | `DELETE /api/images?ref=IMAGE:TAG` | remove one, unless the current deployment uses it |
/// | `GET /api/instances/{id}/events` | an instance's history from the state store |
/// | `GET /api/logs?container=&instance=&since=` | live logs as JSON lines |
/// | `GET /api/secrets` | secrets' names and when each was set, never values |
/// | `POST /api/secrets` | `{"name", "value"}`: store one, deploy the change |
/// | `DELETE /api/secrets/{name}` | remove one, deploy the change |
public struct AdminAPI: Sendable {
    let deployer: Deployer
    let events: InstanceEventHub
    let telemetry: Telemetry
    let info: ServerInfo
    /// `/metrics` without the token, for a scraper.
    var publicMetrics = false
    /// The engine's state, for `GET /api/server`.
    var engineHealth: (@Sendable () -> EngineHealth)?
    /// The listener's scheme (`https` with TLS), for the dashboard forms' origin check.
    var scheme = "http"
    /// Where the server wrote its addresses once listening.
    let state: StateDirectory?

    public init(deployer: Deployer, events: InstanceEventHub, telemetry: Telemetry, info: ServerInfo, state: StateDirectory? = nil) {
        self.deployer = deployer
        self.events = events
        self.telemetry = telemetry
        self.info = info
        self.state = state
    }

    public func router(token: String) -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(AdminAuth(token: token, openPaths: publicMetrics ? ["/login", "/metrics"] : ["/login"], scheme: scheme))
        DashboardRoutes(deployer: deployer, events: events, telemetry: telemetry, stats: StatsSampler(output: deployer.engine), token: token)
            .add(to: router)
        let api = router.group("api")
        api.get("server") { _, _ in await self.serverInfo() }
        api.get("containers") { _, _ in AdminJSON.response(await deployer.containerViews()) }
        api.get("containers/:ref") { _, context in
            try await handle { () async throws(BerthError) in AdminJSON.response(try await deployer.containerView(try context.parameter("ref"))) }
        }
        api.get("containers/:ref/instances") { _, context in
            try await handle { () async throws(BerthError) in AdminJSON.response(try await deployer.instanceViews(try context.parameter("ref"))) }
        }
        api.delete("containers/:ref") { request, context in
            try await handle { () async throws(BerthError) in
                let view = try await deployer.containerView(try context.parameter("ref"))
                let stopped = try await deployer.deleteClass(view.className)
                var answer = ["name": view.name, "class_name": view.className, "stopped_instances": "\(stopped)"]
                if ["1", "true", "yes"].contains(request.uri.queryParameters.get("purge") ?? "") {
                    let (objects, alarms) = await deployer.registry.purgeStorage(className: view.className)
                    answer["purged_objects"] = "\(objects)"
                    answer["purged_alarms"] = "\(alarms)"
                }
                return AdminJSON.response(answer)
            }
        }
        api.get("containers/:ref/objects/:object/storage") { _, context in
            try await handle { () async throws(BerthError) in
                let view = try await deployer.containerView(try context.parameter("ref"))
                return AdminJSON.response(try await deployer.registry.storageView(className: view.className, object: try context.parameter("object")))
            }
        }
        api.post("containers/:ref/objects/:object/sql") { request, context in
            try await handle { () async throws(BerthError) in
                let view = try await deployer.containerView(try context.parameter("ref"))
                let query: StorageQuery = try await decode(request, context)
                return AdminJSON.response(try await deployer.registry.readOnlyQuery(className: view.className, object: try context.parameter("object"), query))
            }
        }
        api.get("deployments") { _, _ in AdminJSON.response(await deployer.deploymentViews()) }
        api.get("deployments/:id") { _, context in
            try await handle { () async throws(BerthError) in
                let id = try context.parameter("id")
                guard let view = await deployer.deploymentViews().first(where: { $0.id == id }) else {
                    throw BerthError(.notFound, "no deployment \(id)")
                }
                return AdminJSON.response(view)
            }
        }
        api.post("deployments") { request, context in
            try await handle { () async throws(BerthError) in
                var deployment: Deployment = try await decode(request, context)
                deployment.createdAt = Date()
                let registered = try await deployer.deploy(deployment)
                return AdminJSON.response(await deployer.deploymentViews().first { $0.id == registered.id }, status: .created)
            }
        }
        // A Worker executable, before the deployment that names it: stored by its SHA-256,
        // which the path must be.
        api.put("workers/:sha256") { [state] request, context in
            try await handle { () async throws(BerthError) in
                let digest = try context.parameter("sha256")
                guard WorkerBuild.isValidDigest(digest) else {
                    throw BerthError(.invalidInput, "\"\(digest.prefix(80))\" is not a Worker's SHA-256 (64 lowercase hexadecimal characters)")
                }
                guard let state else { throw BerthError(.unavailable, "this server keeps no state folder for Worker executables") }
                let buffer: ByteBuffer
                do { buffer = try await request.body.collect(upTo: 1 << 30) } catch {
                    throw BerthError(.invalidInput, "the Worker executable could not be read (at most 1 GiB): \(error)")
                }
                let stored = try WorkerBuilder.store(data: Data(buffer.readableBytesView), in: state.workersPath)
                guard stored == digest else {
                    try? FileManager.default.removeItem(atPath: (state.workersPath as NSString).appendingPathComponent(stored))
                    throw BerthError(.invalidInput, "the Worker executable's SHA-256 is \(stored), not \(digest) as its path says; the upload was cut or changed")
                }
                return AdminJSON.response(["sha256": stored], status: .created)
            }
        }
        api.post("rollback") { request, context in
            try await handle { () async throws(BerthError) in
                let body: RollbackRequest = try await decode(request, context)
                let registered = try await deployer.rollback(to: body.deployment, rollout: body.rollout)
                return AdminJSON.response(await deployer.deploymentViews().first { $0.id == registered.id }, status: .created)
            }
        }
        api.get("images") { request, _ in
            try await handle { () async throws(BerthError) in
                AdminJSON.response(try await deployer.images(filter: request.uri.queryParameters.get("filter")))
            }
        }
        api.delete("images") { request, _ in
            try await handle { () async throws(BerthError) in
                guard let reference = request.uri.queryParameters.get("ref"), !reference.isEmpty else {
                    throw BerthError(.invalidInput, "name the image to delete: ?ref=IMAGE:TAG")
                }
                return AdminJSON.response(try await deployer.deleteImage(reference))
            }
        }
        api.get("instances/:id/events") { _, context in
            try await handle { () async throws(BerthError) in
                AdminJSON.response(try await deployer.store.events(instanceID: try context.parameter("id")))
            }
        }
        api.get("logs") { request, _ in
            try await handle { () async throws(BerthError) in
                let query = request.uri.queryParameters
                var since: Date?
                if let text = query.get("since"), !text.isEmpty {
                    guard let duration = DurationText.parse(text) else {
                        throw BerthError(.invalidInput, "since=\(text) is not a duration (examples: 30s, 10m, 2h)")
                    }
                    since = Date().addingTimeInterval(-Double(duration.components.seconds))
                }
                let container = query.get("container").flatMap { $0.isEmpty ? nil : $0 }
                var className: String?
                if let container { className = try await deployer.containerView(container).className }
                let tail = LogTail(registry: deployer.registry, events: events, output: deployer.engine)
                let stream = tail.stream(className: className, instance: query.get("instance").flatMap { $0.isEmpty ? nil : $0 }, since: since)
                return Response(status: .ok, headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"], body: ResponseBody(asyncSequence: stream))
            }
        }
        api.get("secrets") { _, _ in
            try await handle { () async throws(BerthError) in AdminJSON.response(try await deployer.secretViews()) }
        }
        api.post("secrets") { request, context in
            try await handle { () async throws(BerthError) in
                let body: SecretPutRequest = try await decode(request, context)
                return AdminJSON.response(try await deployer.putSecret(body.name, value: body.value), status: .created)
            }
        }
        api.delete("secrets/:name") { _, context in
            try await handle { () async throws(BerthError) in
                AdminJSON.response(try await deployer.deleteSecret(try context.parameter("name")))
            }
        }
        return router
    }

    func serverInfo() async -> Response {
        var info = state?.readServerInfo() ?? self.info
        info.deploymentID = await deployer.current?.id
        info.app = await deployer.current?.config.name
        info.engine = engineHealth?()
        return AdminJSON.response(info)
    }
}

/// Runs a route's body, turning a ``BerthError`` into its JSON answer.
func handle(_ body: () async throws(BerthError) -> Response) async throws -> Response {
    do { return try await body() } catch { return AdminJSON.error(error) }
}

func decode<T: Decodable>(_ request: Request, _ context: BasicRequestContext) async throws(BerthError) -> T {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: 32 << 20)
    } catch {
        throw BerthError(.invalidInput, "the request body could not be read (at most 32 MiB): \(error)")
    }
    do {
        return try AdminJSON.decoder.decode(T.self, from: Data(buffer.readableBytesView))
    } catch {
        throw BerthError(.invalidInput, "the request body is not a valid \(T.self): \(error)")
    }
}

extension BasicRequestContext {
    func parameter(_ name: String) throws(BerthError) -> String {
        guard let value = parameters.get(name) else { throw BerthError(.invalidInput, "missing \(name) in the path") }
        return value.removingPercentEncoding ?? value
    }
}
