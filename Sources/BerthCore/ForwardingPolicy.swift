/// How Berth forwards a request to a container and its response back: the one set of rules
/// both proxies follow, the warm path (raw NIO on the event loop) and the Worker's
/// (``ContainerProxy`` on AsyncHTTPClient). Defined over header names and values, so any
/// representation of a head can use it; nothing here allocates for a usual request.
///
/// The request the container gets:
/// - `Host: container`; the client's `Host` (or authority) goes in `X-Forwarded-Host`;
/// - the client's address appended to its `X-Forwarded-For`, `X-Forwarded-Proto` set;
///   `X-Forwarded-Proto` and `X-Forwarded-Host` from the client are dropped;
/// - hop-by-hop headers and those listed in `Connection` dropped;
/// - `cf-container-target-port` dropped: a port is the Worker's choice (`switchPort`), and
///   the gateway removes a client's before any Worker sees it;
/// - `Expect` dropped: the gateway answers `100-continue` itself where it can (the warm
///   path); a container's interim responses are never passed on;
/// - framing by Berth, never passed through: the client's `Content-Length` and
///   `Transfer-Encoding` are dropped, and the body is framed as the gateway's parser decoded
///   it (``RequestFraming``), as ``Framing`` says.
///
/// The response the client gets: hop-by-hop headers, those listed in `Connection`, and
/// `Transfer-Encoding` dropped (each proxy frames the body to its client itself).
public enum ForwardingPolicy {
    /// What becomes of one header of a client's request.
    public enum RequestHeaderRule: Sendable, Equatable {
        /// Not forwarded.
        case drop
        /// Forwarded as it is.
        case keep
        /// The client's `Host`: not forwarded, its value becomes `X-Forwarded-Host`.
        case host
        /// The client's `X-Forwarded-For`: the client's address is appended to it.
        case forwardedFor
    }

    /// What becomes of one header of a container's response.
    public enum ResponseHeaderRule: Sendable, Equatable {
        case drop
        case keep
        /// `Content-Length`: kept, and the body has a length.
        case contentLength
    }

    /// Who frames the request body on the container's connection. Either way the client's
    /// `Content-Length` and `Transfer-Encoding` are dropped: two parsers that disagree about
    /// them (the gateway's and the container's) could otherwise see different requests in the
    /// same bytes, on a connection shared by every client.
    public enum Framing: Sendable, Equatable {
        /// The proxy writes the head (the warm path): Berth adds the framing header of the
        /// body the gateway decoded, as ``framingHeader(for:method:)`` says, after the others.
        case gateway(RequestFraming.Body, method: String)
        /// The HTTP client frames the body itself from its length (AsyncHTTPClient).
        case byHTTPClient
    }

    /// The framing header Berth sends with a body: `Content-Length` for a length,
    /// `Transfer-Encoding: chunked` for a chunked one, and with none `Content-Length: 0` for
    /// methods whose requests usually have a body, nothing for the others: as AsyncHTTPClient
    /// frames the Worker path's requests, so both paths send the same.
    public static func framingHeader(for body: RequestFraming.Body, method: String) -> (name: String, value: String)? {
        switch body {
        case .length(let length): return ("Content-Length", String(length))
        case .chunked: return ("Transfer-Encoding", "chunked")
        case .none:
            switch method {
            case "GET", "HEAD", "DELETE", "CONNECT", "TRACE": return nil
            default: return ("Content-Length", "0")
            }
        }
    }

    /// The `Host` every container gets.
    public static let containerHost = "container"

    /// The rule for the request header `name`; `listed` are the tokens of the request's
    /// `Connection` fields.
    public static func requestHeader(_ name: String, listed: ConnectionTokens) -> RequestHeaderRule {
        if HopByHop.contains(name) || listed.contains(name) { return .drop }
        switch name.utf8.count {
        case 4 where HopByHop.equalsIgnoringCase(name, "host"): return .host
        case 6 where HopByHop.equalsIgnoringCase(name, "expect"): return .drop
        case 14 where HopByHop.equalsIgnoringCase(name, "content-length"): return .drop
        case 15 where HopByHop.equalsIgnoringCase(name, "x-forwarded-for"): return .forwardedFor
        case 16 where HopByHop.equalsIgnoringCase(name, "x-forwarded-host"): return .drop
        case 17 where HopByHop.equalsIgnoringCase(name, "x-forwarded-proto"): return .drop
        case 17 where HopByHop.equalsIgnoringCase(name, "transfer-encoding"): return .drop
        case 24 where HopByHop.equalsIgnoringCase(name, "cf-container-target-port"): return .drop
        default: return .keep
        }
    }

    /// The headers Berth adds after the client's own: `X-Forwarded-For` (the client's
    /// `forwardedFor`, then `client`), `X-Forwarded-Proto`, `X-Forwarded-Host` (the client's
    /// `host`). `Host` itself (``containerHost``) is the path's to place first.
    public static func appendForwardedHeaders(
        forwardedFor: String?, host: String?, client: String?, scheme: String, _ add: (_ name: String, _ value: String) -> Void
    ) {
        if let client {
            add("X-Forwarded-For", forwardedFor.map { "\($0), \(client)" } ?? client)
        }
        add("X-Forwarded-Proto", scheme)
        if let host { add("X-Forwarded-Host", host) }
    }

    /// Rewrites a request's headers for the container: `add` gets `Host`, every header kept
    /// (in order), the forwarded headers, then Berth's framing header if `framing` has one.
    /// `authority` stands in for a missing `Host`.
    @inlinable
    public static func rewriteRequestHeaders<Headers: Sequence>(
        _ headers: Headers, authority: String? = nil, client: String?, scheme: String, framing: Framing,
        _ add: (_ name: String, _ value: String) -> Void
    ) where Headers.Element == (name: String, value: String) {
        let listed = HopByHop.connectionListed(in: headers)
        var host: String?
        var forwardedFor: String?
        add("Host", containerHost)
        for (name, value) in headers {
            switch requestHeader(name, listed: listed) {
            case .keep: add(name, value)
            case .drop: continue
            case .host: host = value
            case .forwardedFor: forwardedFor = value
            }
        }
        appendForwardedHeaders(forwardedFor: forwardedFor, host: host ?? authority, client: client, scheme: scheme, add)
        if case .gateway(let body, let method) = framing, let header = framingHeader(for: body, method: method) {
            add(header.name, header.value)
        }
    }

    /// The rule for the response header `name`; `listed` are the tokens of the response's
    /// `Connection` fields.
    public static func responseHeader(_ name: String, listed: ConnectionTokens) -> ResponseHeaderRule {
        if HopByHop.contains(name) || listed.contains(name) { return .drop }
        switch name.utf8.count {
        case 14 where HopByHop.equalsIgnoringCase(name, "content-length"): return .contentLength
        case 17 where HopByHop.equalsIgnoringCase(name, "transfer-encoding"): return .drop
        default: return .keep
        }
    }

    /// Whether a status is interim (1xx but `101 Switching Protocols`): the container's are
    /// not passed on; its final response follows.
    public static func isInterim(status: Int) -> Bool {
        status < 200 && status != 101
    }

    /// Whether the response body can end only by closing the client's connection: an
    /// HTTP/1.0 client (no chunked encoding) and a body without `Content-Length`.
    public static func bodyEndsWithClose(clientVersion: (major: Int, minor: Int), isHEAD: Bool, status: Int, hasContentLength: Bool) -> Bool {
        guard clientVersion == (1, 0), !isHEAD, !hasContentLength else { return false }
        return !(status < 200 || status == 204 || status == 304)
    }

    /// Whether an `Expect` value asks for `100 Continue` (only an HTTP/1.1 client waits).
    public static func expectsContinue(_ value: String, clientVersion: (major: Int, minor: Int)) -> Bool {
        guard clientVersion.major == 1 && clientVersion.minor >= 1 else { return false }
        var value = value
        return value.withUTF8 { bytes in
            var low = 0
            var high = bytes.count
            while low < high && (bytes[low] == 0x20 || bytes[low] == 0x09) { low += 1 }
            while high > low && (bytes[high - 1] == 0x20 || bytes[high - 1] == 0x09) { high -= 1 }
            return HopByHop.equalsIgnoringCase(UnsafeBufferPointer(rebasing: bytes[low..<high]), "100-continue")
        }
    }
}
