import AsyncHTTPClient
import BerthConfig
import BerthCore
import BerthTestSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import Testing

@testable import BerthServer

/// A listener's TLS without the engine: certificates made by a CA of the test's own
/// (`openssl`), loaded, picked by SNI, read again on change, and served by a Hummingbird
/// application on a loopback port through Berth's channel (HTTP/2 and HTTP/1.1 by ALPN).
@Suite("TLS listeners")
struct ListenerTLSTests {
    static func files(_ pair: (cert: String, key: String), _ source: String = "wrangler.jsonc:3:5: berth.tls.gateway") -> TLSCertificateFiles {
        TLSCertificateFiles(cert: pair.cert, key: pair.key, source: source)
    }

    @Test("SNI names pick a certificate: exact, one-label wildcard, case-blind; the first otherwise")
    func picking() {
        let names = [["a.test"], ["*.b.test", "c.test"]]
        #expect(ListenerTLS.pick("x.b.test", names: names) == 1)
        #expect(ListenerTLS.pick("C.TEST", names: names) == 1)
        #expect(ListenerTLS.pick("b.test", names: names) == 0)
        #expect(ListenerTLS.pick("y.x.b.test", names: names) == 0)
        #expect(ListenerTLS.pick(nil, names: names) == 0)
        #expect(ListenerTLS.pick("a.test", names: names) == 0)
    }

    @Test("files that are not a certificate, or a key that is not the certificate's, are refused naming the key")
    func badFiles() throws {
        let ca = try TestCertificates()
        defer { ca.remove() }
        let one = try ca.issue("one", names: ["one.test"])
        let two = try ca.issue("two", names: ["two.test"])

        let notCertificate = #expect(throws: BerthError.self) { try ListenerTLS(listener: "gateway", files: [Self.files((one.key, one.key))]) }
        #expect(notCertificate?.message.hasPrefix("wrangler.jsonc:3:5: berth.tls.gateway.cert: \(one.key) ") == true, "\(notCertificate?.message ?? "")")
        #expect(notCertificate?.code == .invalidConfig)

        let notKey = #expect(throws: BerthError.self) { try ListenerTLS(listener: "gateway", files: [Self.files((one.cert, one.cert))]) }
        #expect(notKey?.message.contains("berth.tls.gateway.key: \(one.cert) is not an unencrypted PEM private key") == true, "\(notKey?.message ?? "")")

        let mismatched = #expect(throws: BerthError.self) { try ListenerTLS(listener: "gateway", files: [Self.files((one.cert, two.key))]) }
        #expect(mismatched?.message.contains("is not the private key of the certificate in \(one.cert)") == true, "\(mismatched?.message ?? "")")

        let loaded = try ListenerTLS(listener: "gateway", files: [Self.files(one), Self.files(two)])
        #expect(loaded.names == [["one.test"], ["two.test"]])
        #expect(chmod(one.key, 0o600) == 0 && chmod(two.key, 0o640) == 0)
        #expect(loaded.exposedKeys == [two.key], "a key the group can read is named; one only its owner reads is not")
    }

    @Test("changed files are read again; a bad change is said once and the previous certificates keep serving")
    func reload() throws {
        let ca = try TestCertificates()
        defer { ca.remove() }
        let pair = try ca.issue("site", names: ["old.test"])
        let tls = try ListenerTLS(listener: "admin", files: [Self.files(pair)])
        #expect(tls.reloadIfChanged() == nil, "nothing changed")

        try ca.issue("new", names: ["new.test"], certPath: pair.cert, keyPath: pair.key)
        let reloaded = try #require(tls.reloadIfChanged())
        #expect(reloaded.hasPrefix("TLS: the admin listener's certificates were read again") && reloaded.contains("new.test"), "\(reloaded)")
        #expect(tls.names == [["new.test"]])

        // A key written for another certificate: refused, said once.
        let other = try ca.issue("other", names: ["other.test"])
        try FileManager.default.removeItem(atPath: pair.key)
        try FileManager.default.copyItem(atPath: other.key, toPath: pair.key)
        let refused = try #require(tls.reloadIfChanged())
        #expect(refused.hasPrefix("error: ") && refused.contains("previous ones keep serving"), "\(refused)")
        #expect(tls.names == [["new.test"]], "the previous certificate still serves")
        #expect(tls.reloadIfChanged() == nil, "the same bad files are not said again")
    }

    @Test("a TLS listener speaks HTTP/2 and HTTP/1.1 by ALPN, picks the certificate by SNI, and is verified against the CA")
    func serves() async throws {
        let ca = try TestCertificates()
        defer { ca.remove() }
        let first = try ca.issue("first", names: ["localhost", "127.0.0.1"])
        let second = try ca.issue("second", names: ["second.test"])
        let tls = try ListenerTLS(listener: "gateway", files: [Self.files(first), Self.files(second)])
        try await Self.withServer(tls: tls) { port in
            for version in [HTTPClient.Configuration.HTTPVersion.automatic, .http1Only] {
                try await Self.withClient(ca: ca.caPath, version: version) { client in
                    let response = try await client.execute(HTTPClientRequest(url: "https://localhost:\(port)/hello"), timeout: .seconds(30))
                    #expect(response.status == .ok)
                    #expect(response.version == (version == .http1Only ? .http1_1 : .http2))
                    #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "hello over https")
                }
            }
            // curl asks for second.test: SNI picks the second certificate.
            let curl = try Curl.run([
                "-sS", "-v", "--http2", "--cacert", ca.caPath, "--resolve", "second.test:\(port):127.0.0.1", "https://second.test:\(port)/hello",
            ])
            #expect(curl.output == "hello over https", "\(curl.errors)")
            #expect(curl.errors.contains("subject: CN=second.test"), "\(curl.errors)")
            #expect(curl.errors.contains("ALPN: server accepted h2") || curl.errors.contains("ALPN, server accepted to use h2"), "\(curl.errors)")

            // Without the CA, the client refuses the server.
            try await Self.withClient(ca: nil, version: .automatic) { client in
                await #expect(throws: (any Error).self) {
                    _ = try await client.execute(HTTPClientRequest(url: "https://localhost:\(port)/hello"), timeout: .seconds(30))
                }
            }
        }
    }

    @Test("a connection that never finishes its handshake is closed after header_timeout; max_connections counts TLS connections")
    func handshakeLimits() async throws {
        let ca = try TestCertificates()
        defer { ca.remove() }
        let tls = try ListenerTLS(listener: "gateway", files: [Self.files(try ca.issue("site", names: ["localhost"]))])
        var limits = LimitSettings()
        limits.headerTimeout = .seconds(1)
        limits.maxConnections = 1
        try await Self.withServer(tls: tls, limits: limits) { port in
            // The sockets block while they wait: on a thread of their own, not the test pool's.
            let (refusedClosed, silentClosed) = try await Self.offPool {
                let silent = try RawHTTP(port: port)
                let refused = try RawHTTP(port: port)
                return (try refused.isClosedByServer(), try silent.isClosedByServer())
            }
            #expect(refusedClosed, "one past max_connections is closed at once")
            #expect(silentClosed, "the silent connection is closed after header_timeout")
            // The slot is free again: a real client is served.
            try await Self.withClient(ca: ca.caPath, version: .http1Only) { client in
                let response = try await client.execute(HTTPClientRequest(url: "https://localhost:\(port)/hello"), timeout: .seconds(30))
                #expect(response.status == .ok)
            }
        }
    }

    // MARK: Harness

    /// Runs blocking work (socket reads) on a dispatch thread, so that it holds no thread of
    /// Swift's cooperative pool (two here) while the server under test needs one.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// A Hummingbird application answering `GET /hello` through Berth's TLS channel.
    static func withServer(tls: ListenerTLS, limits: LimitSettings = LimitSettings(), _ body: (Int) async throws -> Void) async throws {
        let router = Router()
        router.get("hello") { _, _ in "hello over https" }
        let port = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, server: .berth(limits: limits, tls: tls),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                port.continuation.yield(channel.localAddress?.port ?? 0)
                port.continuation.finish()
            },
            logger: Logger(label: "tls-test")
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var ports = port.stream.makeAsyncIterator()
            let listening = try #require(await ports.next())
            do {
                try await body(listening)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    static func withClient(ca: String?, version: HTTPClient.Configuration.HTTPVersion, _ body: (HTTPClient) async throws -> Void) async throws {
        var configuration = HTTPClient.Configuration()
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca { tls.additionalTrustRoots = [.file(ca)] }
        configuration.tlsConfiguration = tls
        configuration.httpVersion = version
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            try await body(client)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}

/// curl, as a client from outside.
enum Curl {
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try Program.run("/usr/bin/curl", arguments)
    }
}
