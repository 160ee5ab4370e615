import BerthAPI
import BerthControlPlane
import Hummingbird
import NIOCore

/// The request context of the gateway: Hummingbird's core context plus the client address.
public struct GatewayContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
