import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Waits until a container port answers: first a TCP connection, then any HTTP response to
/// the ping endpoint. Polls with a fast backoff (2 ms growing to 50 ms), so readiness is seen
/// within milliseconds of the app listening.
struct ReadinessProbe: Sendable {
    let http: HTTPClient
    /// Whether containers' own addresses answer from here, once known.
    let direct = DirectReachability()

    /// The endpoints to proxy to: the container's own address when it answers (the engine's
    /// userland port proxy, a process every byte would cross twice more, is skipped), else
    /// the published ports. Checked with one connection and one HTTP answer on each port
    /// that answered on its published port; when that fails the class stops trying, since
    /// the next container sits on the same network. `BERTH_DIRECT_CONTAINER_NETWORK=0`
    /// turns it off.
    func preferDirect(_ instance: RunningInstance, checkedPorts: [Int], pingEndpoint: String) async -> [Int: Endpoint] {
        guard direct.enabled, !checkedPorts.isEmpty, checkedPorts.allSatisfy({ instance.directEndpoints[$0] != nil }) else {
            return instance.endpoints
        }
        let (host, path) = Self.split(pingEndpoint)
        for port in checkedPorts {
            let endpoint = instance.directEndpoints[port]!
            var answered = false
            if Self.canConnect(endpoint) {
                var request = HTTPClientRequest(url: "http://\(endpoint)\(path)")
                request.headers.add(name: "Host", value: host)
                if let response = try? await http.execute(request, timeout: .milliseconds(500)) {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    answered = true
                }
            }
            guard answered else {
                direct.failed()
                return instance.endpoints
            }
        }
        return instance.endpoints.merging(instance.directEndpoints) { _, direct in direct }
    }

    /// `pingEndpoint` is `host[/path]` as in Cloudflare's Container class (default `ping`).
    func waitUntilReady(_ endpoint: Endpoint, containerPort: Int, pingEndpoint: String, timeout: Duration) async throws(BerthError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        let (host, path) = Self.split(pingEndpoint)
        var delay = Duration.milliseconds(2)
        var lastProblem = "no connection yet"
        while true {
            if Task.isCancelled { throw BerthError(.timeout, "cancelled while waiting for port \(containerPort)") }
            if Self.canConnect(endpoint) {
                var request = HTTPClientRequest(url: "http://\(endpoint)\(path)")
                request.headers.add(name: "Host", value: host)
                let remaining = clock.now.duration(to: deadline)
                let perTry = min(remaining, .seconds(2))
                do {
                    let response = try await http.execute(request, timeout: .milliseconds(max(1, perTry.milliseconds)))
                    // Any HTTP answer means the server is up; drain it so the connection is reused.
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    return
                } catch {
                    lastProblem = "the port accepts connections but gives no HTTP answer (\(error))"
                }
            } else {
                lastProblem = "nothing listens on the port"
            }
            guard clock.now.advanced(by: delay) < deadline else {
                throw BerthError(.timeout, "port \(containerPort) did not answer within \(DurationText.format(timeout)): \(lastProblem)")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 3 / 2, .milliseconds(50))
        }
    }

    static func split(_ pingEndpoint: String) -> (host: String, path: String) {
        guard let slash = pingEndpoint.firstIndex(of: "/") else { return (pingEndpoint.isEmpty ? "container" : pingEndpoint, "/") }
        let host = String(pingEndpoint[..<slash])
        return (host.isEmpty ? "container" : host, String(pingEndpoint[slash...]))
    }

    /// A TCP connect with a short timeout; on loopback it answers at once.
    static func canConnect(_ endpoint: Endpoint) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(endpoint.port).bigEndian)
        guard inet_pton(AF_INET, endpoint.host, &address.sin_addr) == 1 else { return true }  // not IPv4: let HTTP decide
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// Whether the containers' own addresses are worth trying: until one does not answer (then
/// the published ports serve), or never with `BERTH_DIRECT_CONTAINER_NETWORK=0`.
final class DirectReachability: Sendable {
    private let unreachable = Mutex(ProcessInfo.processInfo.environment["BERTH_DIRECT_CONTAINER_NETWORK"] == "0")

    var enabled: Bool { !unreachable.withLock { $0 } }

    func failed() {
        unreachable.withLock { $0 = true }
    }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
