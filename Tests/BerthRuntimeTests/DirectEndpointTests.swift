import AsyncHTTPClient
@testable import BerthRuntime
import Testing

@Suite("Direct container addresses")
struct DirectEndpointTests {
    @Test("a container address that does not answer falls back to the published port, and is not tried again")
    func fallback() async {
        let probe = ReadinessProbe(http: HTTPClient.shared)
        let published = [8080: Endpoint(host: "127.0.0.1", port: 40001)]
        let instance = RunningInstance(containerID: "c", endpoints: published, directEndpoints: [8080: Endpoint(host: "127.0.0.1", port: 1)])
        #expect(probe.direct.enabled)
        #expect(await probe.preferDirect(instance, checkedPorts: [8080], pingEndpoint: "ping") == published)
        #expect(!probe.direct.enabled)
        #expect(await probe.preferDirect(instance, checkedPorts: [8080], pingEndpoint: "ping") == published)
    }

    @Test("without a checked port or a direct address, the published ports serve")
    func nothingToCheck() async {
        let probe = ReadinessProbe(http: HTTPClient.shared)
        let published = [8080: Endpoint(host: "127.0.0.1", port: 40001)]
        #expect(await probe.preferDirect(RunningInstance(containerID: "c", endpoints: published), checkedPorts: [8080], pingEndpoint: "ping") == published)
        let instance = RunningInstance(containerID: "c", endpoints: published, directEndpoints: [8080: Endpoint(host: "127.0.0.1", port: 1)])
        #expect(await probe.preferDirect(instance, checkedPorts: [], pingEndpoint: "ping") == published)
        #expect(probe.direct.enabled)
    }
}
