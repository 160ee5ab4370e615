// The example of README.md, verbatim between the markers, so that it keeps compiling.
// README-BEGIN
import Berth
import BerthServer

struct MyContainer: Container {
    static let defaultPort: Int? = 8080
    static let sleepAfter: Duration = .seconds(10)
    static let envVars = ["MESSAGE": "I was passed in via the container class!"]
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }
    func onStart() async { context.log("Container successfully started") }
    func onStop(exitCode: Int, reason: StopReason) async { context.log("Container successfully shut down") }
    func onError(_ error: BerthError) async { context.log("Container error: \(error)") }
}

struct HelloWorker: Worker {
    func fetch(_ request: Request, env: Env) async throws -> Response {
        if request.pathname.hasPrefix("/container") {
            let id = env["MY_CONTAINER"].idFromName(request.pathname)
            return await env["MY_CONTAINER"].get(id).fetch(request)
        }
        if request.pathname.hasPrefix("/lb") {
            return await getRandom(env["MY_CONTAINER"], 3).fetch(request)
        }
        return .text("Call /container/<id> or /lb\n")
    }
}
// README-END

import Testing
import BerthAPI
import BerthControlPlane

@Suite("The README's Swift example", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct ReadmeExampleTests {
    @Test("serves /container/<id> and /lb through its container class")
    func serves() async throws {
        try await GatewayFixture.with(worker: HelloWorker(), containerTypes: ["MyContainer": MyContainer.self]) { f in
            let reply = try await f.request("/container/readme")
            #expect(reply.status == 200)
            #expect(reply.body.contains("I was passed in via the container class!"))
            #expect(try await f.request("/lb").status == 200)
            #expect(try await f.request("/").body == "Call /container/<id> or /lb\n")
        }
    }
}
