import BerthAPI
import BerthControlPlane
import BerthCore
import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The admin API through Hummingbird's in-process test client, over the control plane on the
/// in-memory driver.
@Suite("Admin API, in process")
struct AdminAPITests {
    static let token = "test-token-" + Hex.random(bytes: 8)

    func withAdmin(_ body: @escaping @Sendable (ControlPlane, any TestClientProtocol) async throws -> Void) async throws {
        try await ControlPlane.with { plane in
            let info = ServerInfo(
                serverID: plane.project.serverID, gatewayURL: "http://127.0.0.1:1", adminURL: "http://127.0.0.1:2",
                stateDirectory: plane.project.folder, pid: 1, startedAt: Date()
            )
            let api = AdminAPI(deployer: plane.deployer, events: plane.events, telemetry: plane.telemetry, info: info)
            try await Application(router: api.router(token: Self.token)).test(.router) { client in try await body(plane, client) }
        }
    }

    static var authorized: HTTPFields { [.authorization: "Bearer \(token)"] }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try AdminJSON.decoder.decode(T.self, from: Data(response.body.readableBytesView))
    }

    struct Failure: Decodable {
        struct Detail: Decodable { var code: String; var message: String }
        var error: Detail
    }

    @Test("every route needs the token: none is 401 with how to send it, a wrong one is 401 too")
    func tokenRequired() async throws {
        try await withAdmin { _, client in
            for path in ["/api/server", "/api/containers", "/api/deployments", "/api/images", "/api/logs", "/metrics"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path)")
                    let failure = try Self.decode(Failure.self, response)
                    #expect(failure.error.code == "unauthorized")
                }
            }
            try await client.execute(uri: "/api/containers", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("the admin token is wrong"))
            }
            try await client.execute(uri: "/api/containers/web", method: .delete) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test("containers, instances, deployments and images as JSON; errors carry the table's statuses")
    func views() async throws {
        try await withAdmin { plane, client in
            let deployment = try await plane.deploy()
            _ = try await plane.instance(answering: "a")
            try await client.execute(uri: "/api/containers", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .ok)
                let views = try Self.decode([ContainerView].self, response)
                #expect(views.map(\.name) == ["web"])
                #expect(views.first?.state == .active)
                #expect(views.first?.liveInstances == 1)
            }
            try await client.execute(uri: "/api/containers/web/instances", method: .get, headers: Self.authorized) { response in
                let instances = try Self.decode([InstanceView].self, response)
                #expect(instances.map(\.name) == ["a"])
                #expect(instances.first?.version == deployment.id)
            }
            try await client.execute(uri: "/api/deployments", method: .get, headers: Self.authorized) { response in
                let views = try Self.decode([DeploymentView].self, response)
                #expect(views.map(\.id) == [deployment.id])
                #expect(views.first?.current == true)
            }
            try await client.execute(uri: "/api/images", method: .get, headers: Self.authorized) { response in
                let images = try Self.decode([ImageView].self, response)
                #expect(images.map(\.tag) == [deployment.id])
                #expect(images.first?.inUse == ["web"])
            }
            try await client.execute(uri: "/api/containers/nothing", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .notFound)
                let failure = try Self.decode(Failure.self, response)
                #expect(failure.error.code == "not_found")
            }
            let reference = try #require(deployment.images["web"]?.reference)
            try await client.execute(uri: "/api/images?ref=\(reference)", method: .delete, headers: Self.authorized) { response in
                #expect(response.status == .conflict, "the current deployment's image is not deleted")
            }
            try await client.execute(uri: "/api/deployments/nothing", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("POST /api/deployments registers a deployment; a bad body is 400; POST /api/rollback restores the one before")
    func deployAndRollback() async throws {
        try await withAdmin { plane, client in
            let first = try await plane.deploy()
            try plane.project.writeDockerfile(label: "v2")
            let config = try plane.project.config()
            let images = try await ImageBuilder(images: plane.engine).buildAll(config, version: "second")
            let body = try AdminJSON.encoder.encode(Deployment(id: "second", config: config, images: images, rollout: .immediate, source: "deploy"))
            try await client.execute(uri: "/api/deployments", method: .post, headers: Self.authorized, body: ByteBuffer(data: body)) { response in
                #expect(response.status == .created)
                let view = try Self.decode(DeploymentView.self, response)
                #expect(view.id == "second")
            }
            #expect(await plane.deployer.current?.id == "second")
            try await client.execute(uri: "/api/deployments", method: .post, headers: Self.authorized, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .badRequest)
                let failure = try Self.decode(Failure.self, response)
                #expect(failure.error.code == "invalid_input")
            }
            let rollback = try AdminJSON.encoder.encode(RollbackRequest())
            try await client.execute(uri: "/api/rollback", method: .post, headers: Self.authorized, body: ByteBuffer(data: rollback)) { response in
                #expect(response.status == .created)
                let view = try Self.decode(DeploymentView.self, response)
                #expect(view.rollbackOf == first.id)
                #expect(view.images == first.images.mapValues(\.reference))
            }
        }
    }
}
