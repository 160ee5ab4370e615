import Berth
import BerthConfig
import BerthControlPlane
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// A route table and a request head, resolved the two ways the gateway resolves requests: the
/// warm path's (from NIO's request head) and the Worker's (from the `HTTPRequest` that
/// Hummingbird makes of it). What the warm path picks, the Worker must pick too, or a request
/// would go to one object while its container is warm and to another (or none) while it is
/// not; the warm path may leave a request to the Worker.
///
/// The input is text: route lines (`PREFIX SELECTOR`, selectors as `berth.routes` writes them:
/// `path`, `rest`, `header:NAME`, `cookie:NAME`, `query:NAME`, `random:N`, `singleton`,
/// `name:NAME`), an empty line, then a request head (`GET /path HTTP/1.1` and header lines; lone
/// `\n` are taken as `\r\n`), parsed by NIO's HTTP parser as the gateway's is.
enum RouteFuzzing {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        let sections = text.split(separator: "\n\n", maxSplits: 1, omittingEmptySubsequences: false)
        let table = RouteTable(routes: routes(sections[0]))
        guard sections.count == 2, let head = parseHead(sections[1]) else { return }

        // RoutesWorker.warmLease's.
        let warm = table.resolve(target: head.uri, fields: head.headers)
        // HTTP1ToHTTPServerCodec(secure: false), as the gateway's pipeline has it.
        guard let converted = try? HTTPRequest(head, secure: false, splitCookie: false) else { return }
        let worker = table.resolve(Request(head: converted))
        switch (warm, worker) {
        case (nil, _):
            // The Worker has it (an absolute-form target, say): slower, never wrong.
            break
        case let (a?, b?):
            precondition(a.binding == b.binding, "binding \(a.binding) on the warm path, \(b.binding) through the Worker")
            let random = table.configs.first { $0.binding == a.binding }.map { if case .random = $0.object { true } else { false } } ?? false
            if random {
                precondition(a.name.hasPrefix("instance-") && b.name.hasPrefix("instance-"))
            } else {
                precondition(a.name == b.name, "object \"\(a.name)\" on the warm path, \"\(b.name)\" through the Worker (\(a.binding))")
            }
        case let (a?, nil):
            preconditionFailure("the warm path routes to \(a), the Worker to no route")
        }
    }

    /// One route per line that `berth.routes` accepts (a prefix starting with /, a valid
    /// selector); binding `R<line>`.
    static func routes(_ section: Substring) -> [RouteConfig] {
        section.split(separator: "\n").enumerated().compactMap { index, line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].hasPrefix("/"), let selector = ObjectSelector(String(parts[1])) else { return nil }
            return RouteConfig(prefix: String(parts[0]), binding: "R\(index)", object: selector)
        }
    }

    /// The head NIO's parser makes of `section`, or nil when it refuses it.
    static func parseHead(_ section: Substring) -> HTTPRequestHead? {
        let lines = section.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        let raw = lines.joined(separator: "\r\n") + "\r\n\r\n"
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        guard (try? channel.writeInbound(ByteBuffer(string: raw))) != nil,
              case .head(let head)? = try? channel.readInbound(as: HTTPServerRequestPart.self)
        else { return nil }
        return head
    }
}
