import Berth
import BerthAPI
import BerthControlPlane
import BerthCore
import BerthServer
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// The Swift Worker the bench measures: the containers template's Worker written in Swift
/// (`/singleton…` to the singleton object, anything else to the object named by its path),
/// served by the gateway's Worker path against the same deployment, so it reaches the very
/// container the zero-code routes reach.
struct BenchWorker: Worker {
    func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
        if request.pathname == "/_storage" { return try StorageWorkload.answer(request, env: env) }
        if request.pathname.hasPrefix("/singleton") {
            return await getContainer(env["WEB"]).fetch(request)
        }
        return await env["WEB"].getByName(request.pathname).fetch(request)
    }
}

/// Serves a Worker (``BenchWorker`` in this process, or a Worker process running it) with
/// the current deployment's `env`.
struct WorkerGateway: HTTPResponder {
    typealias Context = GatewayContext
    let serving: ServingState
    var worker: any Worker = BenchWorker()

    func respond(to request: Hummingbird.Request, context: GatewayContext) async throws -> Hummingbird.Response {
        guard let current = serving.current else { return Hummingbird.Response(status: .serviceUnavailable) }
        return try await GatewayResponder(worker: AnyWorker(worker), env: current.platform.env).respond(to: request, context: context)
    }
}

/// A Worker gateway's connection on Berth's own client pipeline (`addGatewayHandlers`: the
/// gateway's HTTP/1 parser and limits, ``WarmProxyHandler``, Hummingbird's codec), as a Swift
/// Worker project's gateway has it: there a Worker's `101` switches the connection to its
/// WebSocket, which Hummingbird's plain HTTP/1.1 channel (the proxy scenarios' Worker gateway)
/// cannot. Its warm path takes nothing: every request goes to the Worker.
struct WorkerGatewayChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    let responder: HTTPChannelHandler.Responder

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pool = UpstreamPool.opening(on: channel.eventLoop, maxIdlePerEndpoint: 0) { _ in
                throw BerthError(.internal, "the bench's Worker gateway has no warm path")
            }
            try channel.addGatewayHandlers(routing: { _ in nil }, pool: pool, logger: logger)
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

extension Harness {
    /// ``WorkerGateway`` on ``WorkerGatewayChannel``s, on a loopback port: its URL and the task
    /// serving it (cancel it to stop).
    func startUpgradingWorkerGateway() async throws -> (url: String, task: Task<Void, any Error>) {
        guard let serving else { throw BerthError(.internal, "the bench server is not serving") }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: WorkerGateway(serving: serving),
            server: HTTPServerBuilder { responder in WorkerGatewayChannel(responder: responder) },
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: "berth-bench-worker-ws"),
            onServerRunning: { port.yield($0.localAddress?.port ?? 0) },
            logger: logger
        )
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let listening = await iterator.next(), listening > 0 else {
            task.cancel()
            throw BerthError(.internal, "the ws scenario's Worker gateway did not start")
        }
        return ("http://127.0.0.1:\(listening)", task)
    }
}
