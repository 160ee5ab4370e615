import BerthAPI
import BerthControlPlane
import Hummingbird
import NIOCore

/// The request context of the gateway: Hummingbird's core context plus the client address.
public struct GatewayContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The client's connection: a Worker's 101 switches it to a WebSocket.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}
