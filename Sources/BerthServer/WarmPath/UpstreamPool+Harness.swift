import BerthRuntime
import NIOCore

extension UpstreamPool {
    /// A pool whose container connections are the channels `open` makes, given the pool's own
    /// handlers and then connected to the endpoint's address: for harnesses without sockets
    /// (the gateway's fuzz target puts `EmbeddedChannel`s here).
    package static func opening(
        on eventLoop: any EventLoop, maxIdlePerEndpoint: Int, _ open: @escaping (Endpoint) throws -> any Channel
    ) -> UpstreamPool {
        UpstreamPool(
            eventLoop: eventLoop, maxIdlePerEndpoint: maxIdlePerEndpoint,
            connector: { endpoint, handler in
                eventLoop.makeCompletedFuture {
                    let channel = try open(endpoint)
                    try addHandlers(to: channel.pipeline.syncOperations, handler: handler)
                    channel.connect(to: try SocketAddress(ipAddress: endpoint.host, port: endpoint.port), promise: nil)
                    return channel
                }
            },
            upgradeOpener: { endpoint, initialize in
                eventLoop.makeCompletedFuture {
                    let channel = try open(endpoint)
                    try initialize(channel)
                    channel.connect(to: try SocketAddress(ipAddress: endpoint.host, port: endpoint.port), promise: nil)
                    return channel
                }
            }
        )
    }
}
