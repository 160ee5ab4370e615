import BerthCore
import BerthTestSupport
import Foundation

extension Harness {
    // MARK: TLS

    /// The warm path behind TLS: `berth dev` (the release binary, its own process) with
    /// `berth.tls.gateway`, against nginx terminating TLS with the same certificate and key
    /// (P-256, made by a CA of the bench's own) in front of the same container, in alternating
    /// rounds of wrk over keep-alive HTTP/1.1 (wrk speaks no HTTP/2), as `proxy.` does without
    /// TLS: `tls.berth_rps`, `tls.nginx_rps`, `tls.ratio_vs_nginx`; `tls.direct_rps` is the
    /// container itself, without TLS.
    func tlsProxy(into results: inout Results) async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let berth = #", "tls": { "gateway": { "cert": "tls/site.crt", "key": "tls/site.key" } }"#
        // standard-4, as the main bench's class: the container is not what limits the rate.
        let project = try separateProject("tls", maxInstances: 4, instanceType: "standard-4", berth: berth)
        defer { try? FileManager.default.removeItem(atPath: project.folder) }
        try FileManager.default.createDirectory(atPath: project.folder + "/tls", withIntermediateDirectories: true)
        let pair = try certificates.issue("site", names: ["127.0.0.1", "localhost"], certPath: project.folder + "/tls/site.crt", keyPath: project.folder + "/tls/site.key")

        let (process, gateway) = try await Self.startDev(project.folder, scenario: "tls")
        defer {
            if process.isRunning {
                process.interrupt()
                process.waitUntilExit()
            }
        }
        guard gateway.hasPrefix("https://") else { throw BerthError(.internal, "berth dev with berth.tls.gateway is ready on \(gateway), not https") }
        let path = "/container/tls"
        // The first request starts the container, and checks the certificate against the CA.
        let first = try Tool.output("curl", ["-s", "--cacert", certificates.caPath, "-o", "/dev/null", "-w", "%{http_code}", gateway + path])
        guard first == "200" else { throw BerthError(.internal, "the TLS gateway answered \(first) for \(path)") }
        let address = try await containerAddress(object: path, app: project.app)
        let nginx = try Nginx.start(upstream: "\(address):8080", workers: ProcessInfo.processInfo.activeProcessorCount, tls: pair)
        defer { nginx.stop() }
        let bases = [("direct", "http://\(address):8080"), ("nginx", "https://127.0.0.1:\(nginx.port)"), ("berth", gateway)]
        try proxyRounds(bases, path: path, key: "tls", connections: 32, seconds: quick ? 3 : 8, into: &results)

        process.interrupt()
        process.waitUntilExit()
        await removeAll(of: project.app)
    }
}
