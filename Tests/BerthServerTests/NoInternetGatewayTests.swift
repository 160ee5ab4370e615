import BerthCore
import DockerEngine
import Testing

/// `enable_internet: false` through the gateway: the example's server starts on the isolated
/// network and is served like any other, with the class's isolation in `docker inspect`.
@Suite("A class without internet through the gateway", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct NoInternetGatewayTests {
    @Test("requests are served by a container on the internal network, with nothing published")
    func served() async throws {
        let berth = #"{ "classes": { "MyContainer": { "enable_internet": false, "pids_limit": 64, "env_vars": { "MESSAGE": "isolated" } } } }"#
        try await GatewayFixture.with(berth: berth) { f in
            let reply = try await f.request("/container/isolated")
            #expect(reply.status == 200, "\(reply.body)")
            #expect(reply.body.hasPrefix("Hi, I'm a container and this is my message: \"isolated\""))
            let controller = f.myContainer.get(f.myContainer.idFromName("/container/isolated"))
            let details = try await f.client.inspectContainer(try #require(await controller.containerID))
            #expect(details.hostConfig.networkMode == "berth-no-internet")
            #expect(details.ports.isEmpty)
            #expect(details.hostConfig.pidsLimit == 64)
            #expect(details.hostConfig.capDrop == ["ALL"])
            #expect(details.hostConfig.securityOptions == ["no-new-privileges"])
            // A second request takes the warm path to the same container.
            let again = try await f.request("/container/isolated")
            #expect(again.status == 200 && again.body == reply.body)
        }
    }
}
