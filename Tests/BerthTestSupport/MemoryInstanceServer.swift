import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The process of an in-memory instance: a real HTTP/1.1 listener on a loopback port, so that
/// readiness probes, both proxies and their connection pools work as they do against the
/// engine. Every request is answered with JSON naming the instance, the object, the path and
/// `MESSAGE`; `/bytes/N` answers N bytes.
final class MemoryInstanceServer: Sendable {
    let channel: any Channel

    static func start(environment: [String: String], group: any EventLoopGroup) async throws -> MemoryInstanceServer {
        let identity = Identity(
            instance: environment["BERTH_INSTANCE_ID"] ?? "", object: environment["BERTH_OBJECT_NAME"] ?? environment["BERTH_OBJECT_ID"] ?? "",
            message: environment["MESSAGE"] ?? ""
        )
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Responder(identity: identity))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return MemoryInstanceServer(channel: channel)
    }

    init(channel: any Channel) {
        self.channel = channel
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func stop() {
        channel.close(promise: nil)
    }

    struct Identity: Sendable, Encodable {
        var instance: String
        var object: String
        var message: String
        var path = ""
        var method = ""
    }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let identity: Identity

        init(identity: Identity) {
            self.identity = identity
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            var body = ByteBuffer()
            if head.uri.hasPrefix("/bytes/"), let count = Int(head.uri.dropFirst("/bytes/".count)) {
                body.writeRepeatingByte(UInt8(ascii: "x"), count: count)
            } else {
                var answer = identity
                answer.path = head.uri
                answer.method = head.method.rawValue
                body.writeBytes((try? JSONEncoder().encode(answer)) ?? Data())
            }
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.readableBytes))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
