import BerthConfig
import BerthCore
import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// One listener's TLS: its certificates as read from their PEM files (`berth.tls.<listener>`)
/// and the context each new connection's handshake uses. ``reloadIfChanged()`` reads the
/// files again when one changed; a connection keeps the context it started with, so a
/// renewal drops nothing, and a bad renewal keeps the previous certificates serving.
///
/// With several certificates, the client's SNI name picks the first whose names (its DNS
/// subject alternative names, `*.` matching one label) match; no name, or no match, gets the
/// first certificate.
public final class ListenerTLS: Sendable {
    /// `gateway` or `admin`, as in `berth.tls`.
    public let listener: String
    /// What is said of it: `the gateway`, `the admin listener`.
    public var title: String { listener == "admin" ? "the admin listener" : "the \(listener)" }
    let files: [TLSCertificateFiles]
    /// What ALPN offers: HTTP/2 first, on both listeners.
    static let applicationProtocols = ["h2", "http/1.1"]
    private let state: Mutex<State>

    struct State {
        var context: NIOSSLContext
        /// The files as last read (whether they loaded or not), so a failure is said once.
        var stamps: [FileStamp]
        var names: [[String]]
    }

    public init(listener: String, files: [TLSCertificateFiles]) throws(BerthError) {
        precondition(!files.isEmpty, "a TLS listener needs a certificate")
        self.listener = listener
        self.files = files
        state = Mutex(try Self.read(files, stamps: Self.stamps(files), listener: listener))
    }

    /// The files' stamps, in order, to tell when one changed.
    static func stamps(_ files: [TLSCertificateFiles]) -> [FileStamp] {
        files.flatMap { [FileStamp($0.cert), FileStamp($0.key)] }
    }

    /// Reads every file and makes the context from them.
    static func read(_ files: [TLSCertificateFiles], stamps: [FileStamp], listener: String) throws(BerthError) -> State {
        let loaded = try load(files)
        return State(context: try context(loaded, listener: listener), stamps: stamps, names: loaded.map(\.names))
    }

    /// The context a connection accepted now handshakes with.
    var context: NIOSSLContext { state.withLock { $0.context } }

    /// Each certificate's names, in the configuration's order.
    public var names: [[String]] { state.withLock { $0.names } }

    /// Reads the files again if any changed since the last look: what to say about it (the
    /// new names, or why the previous certificates still serve), or nil when nothing changed.
    public func reloadIfChanged() -> String? {
        let stamps = Self.stamps(files)
        guard state.withLock({ $0.stamps }) != stamps else { return nil }
        do {
            let read = try Self.read(files, stamps: stamps, listener: listener)
            state.withLock { $0 = read }
            return "TLS: \(title)'s certificates were read again (\(Self.describe(read.names))); new connections use them"
        } catch {
            state.withLock { $0.stamps = stamps }
            return "error: TLS: \(title)'s certificate files changed but cannot be used, so the previous ones keep serving: \(error.message)"
        }
    }

    /// The key files other users can read (group or others have a permission bit): said at
    /// start, since whoever reads a key can pose as the server.
    public var exposedKeys: [String] {
        files.map(\.key).filter { path in
            var info = stat()
            return stat(path, &info) == 0 && info.st_mode & 0o077 != 0
        }
    }

    /// `a.example, *.b.example; c.example`: each certificate's names.
    static func describe(_ names: [[String]]) -> String {
        names.map { $0.isEmpty ? "no DNS names" : $0.joined(separator: ", ") }.joined(separator: "; ")
    }

    // MARK: Loading

    struct Loaded {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var names: [String]
    }

    static func load(_ files: [TLSCertificateFiles]) throws(BerthError) -> [Loaded] {
        var result: [Loaded] = []
        for file in files { result.append(try load(file)) }
        return result
    }

    /// One chain and key, checked to belong together.
    static func load(_ file: TLSCertificateFiles) throws(BerthError) -> Loaded {
        func failure(_ key: String, _ path: String, _ text: String) -> BerthError {
            BerthError(.invalidConfig, "\(file.source).\(key): \(path) \(text)")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(try read(file.cert))
        } catch let error as BerthError {
            throw failure("cert", file.cert, error.message)
        } catch {
            throw failure("cert", file.cert, "is not a PEM certificate chain (-----BEGIN CERTIFICATE-----): \(error)")
        }
        guard !chain.isEmpty else { throw failure("cert", file.cert, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: try read(file.key), format: .pem)
        } catch let error as BerthError {
            throw failure("key", file.key, error.message)
        } catch {
            throw failure("key", file.key, "is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----): \(error)")
        }
        let loaded = Loaded(chain: chain, key: key, names: dnsNames(chain[0]))
        // BoringSSL checks that the key is the certificate's when a context takes both.
        do {
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw failure("key", file.key, "is not the private key of the certificate in \(file.cert) (\(error))")
        }
        return loaded
    }

    private static func read(_ path: String) throws(BerthError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BerthError(.invalidConfig, "cannot be read (missing, or not readable by this user)")
        }
        return Array(data)
    }

    /// The certificate's DNS subject alternative names, lowercased.
    static func dnsNames(_ certificate: NIOSSLCertificate) -> [String] {
        certificate._subjectAlternativeNames().compactMap { name in
            guard name.nameType == .dnsName else { return nil }
            return String(decoding: Array(name.contents), as: UTF8.self).lowercased()
        }
    }

    /// The index of the certificate for the SNI name `host`: the first whose names match it.
    static func pick(_ host: String?, names: [[String]]) -> Int {
        guard let host = host?.lowercased(), !host.isEmpty else { return 0 }
        return names.firstIndex { $0.contains { matches(host, pattern: $0) } } ?? 0
    }

    /// `*.example.com` matches one label: `a.example.com`, not `example.com` or `a.b.example.com`.
    static func matches(_ host: String, pattern: String) -> Bool {
        if pattern == host { return true }
        guard pattern.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
        return host[host.index(after: dot)...] == pattern.dropFirst(2) && host[..<dot].isEmpty == false
    }

    static func context(_ loaded: [Loaded], listener: String) throws(BerthError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: loaded[0].chain.map { .certificate($0) }, privateKey: .privateKey(loaded[0].key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = Self.applicationProtocols
        if loaded.count > 1 {
            let names = loaded.map(\.names)
            let overrides: [NIOSSLContextConfigurationOverride] = loaded.map { entry in
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = entry.chain.map { .certificate($0) }
                override.privateKey = .privateKey(entry.key)
                return override
            }
            configuration.sslContextCallback = { values, promise in
                let index = pick(values.serverHostname, names: names)
                promise.succeed(index == 0 ? .noChanges : overrides[index])
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw BerthError(.invalidConfig, "berth.tls.\(listener): the certificates cannot make a TLS context (\(error)); check that each file is a PEM chain with its own unencrypted key")
        }
    }
}

/// What identifies a file's version without reading it: device, inode, size, change time
/// (a renewal that replaces the file, or a symbolic link's new target, changes it).
struct FileStamp: Equatable, Sendable {
    var device: UInt64 = 0
    var inode: UInt64 = 0
    var size: Int64 = -1
    var seconds: Int = 0
    var nanoseconds: Int = 0

    init(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        seconds = Int(info.st_mtim.tv_sec)
        nanoseconds = Int(info.st_mtim.tv_nsec)
    }
}
