import BerthCore
import Foundation

/// A private CA and server certificates made with `openssl` in a temporary folder, as an
/// operator's own CA would make them: P-256 keys, a CA certificate, and leaves signed by it
/// for the names asked (DNS names, and IP addresses written as such). For the TLS tests and
/// the TLS benchmark; `make test` installs openssl.
package struct TestCertificates: Sendable {
    package let folder: String
    /// The CA's certificate (PEM), what a client is given to trust.
    package var caPath: String { folder + "/ca.pem" }

    package init() throws {
        folder = NSTemporaryDirectory() + "berth-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", folder + "/ca.key",
            "-out", caPath, "-days", "3", "-subj", "/CN=Berth Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    /// A leaf for `names` signed by the CA, written to `NAME.crt` and `NAME.key` (or the
    /// paths given): the certificate's and key's paths.
    @discardableResult
    package func issue(_ name: String, names: [String], certPath: String? = nil, keyPath: String? = nil) throws -> (cert: String, key: String) {
        let cert = certPath ?? folder + "/\(name).crt"
        let key = keyPath ?? folder + "/\(name).key"
        let request = folder + "/\(name).csr"
        let extensions = folder + "/\(name).ext"
        let alternatives = names.map { $0.first?.isNumber == true || $0.contains(":") ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        try """
        subjectAltName=\(alternatives)
        basicConstraints=critical,CA:FALSE
        keyUsage=critical,digitalSignature
        extendedKeyUsage=serverAuth

        """.write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", request,
            "-subj", "/CN=\(names.first ?? name)",
        ])
        try Self.openssl([
            "x509", "-req", "-in", request, "-CA", caPath, "-CAkey", folder + "/ca.key", "-set_serial", String(UInt32.random(in: 1...UInt32.max)),
            "-days", "3", "-extfile", extensions, "-out", cert,
        ])
        return (cert, key)
    }

    /// The base64 SHA-256 of the certificate's public key (what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes).
    package func spkiHash(_ cert: String) throws -> String {
        let script = "openssl x509 -in '\(cert)' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"
        return try Self.run("/bin/sh", ["-c", script]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    package func remove() { try? FileManager.default.removeItem(atPath: folder) }

    static func openssl(_ arguments: [String]) throws {
        _ = try run("/usr/bin/openssl", arguments)
    }

    /// A program's standard output; its standard error in the error when it fails.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw BerthError(.notFound, "\(program) is missing: `make test` installs openssl")
        }
        let result = try Program.run(program, arguments)
        guard result.status == 0 else {
            throw BerthError(.internal, "\(program) \(arguments.joined(separator: " ")) failed: \(result.errors)")
        }
        return result.output
    }
}

/// A program run to its end, its standard output and error read side by side
/// (``ChildProcess/run(_:_:)``: none of the test process's sockets go to it).
package enum Program {
    package static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let ran = try ChildProcess.run(program, arguments)
        return (ran.status, String(decoding: ran.output, as: UTF8.self), String(decoding: ran.errors, as: UTF8.self))
    }
}
