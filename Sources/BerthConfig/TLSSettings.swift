/// `berth.tls`: the PEM files each listener serves TLS with. A listener with none speaks
/// plain HTTP. Each listener takes one `{ "cert": FILE, "key": FILE }` or a list of them,
/// one per name it answers for: the client's SNI name picks the certificate whose names
/// match it, the first one answers otherwise. Paths are relative to the project folder and
/// the files are read again when they change (renewals need no restart).
public struct TLSSettings: Sendable, Codable, Equatable {
    /// The gateway's certificates (`berth.tls.gateway`).
    public var gateway: [TLSCertificateFiles] = []
    /// The admin API's and dashboard's certificates (`berth.tls.admin`).
    public var admin: [TLSCertificateFiles] = []

    public init(gateway: [TLSCertificateFiles] = [], admin: [TLSCertificateFiles] = []) {
        self.gateway = gateway
        self.admin = admin
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        gateway = try c.decodeIfPresent([TLSCertificateFiles].self, forKey: .gateway) ?? []
        admin = try c.decodeIfPresent([TLSCertificateFiles].self, forKey: .admin) ?? []
    }

    /// The keys of `berth.tls` and of each certificate.
    static let listenerKeys: Set<String> = ["gateway", "admin"]
    static let certificateKeys: Set<String> = ["cert", "key"]
}

/// One certificate chain and its private key, as PEM files.
public struct TLSCertificateFiles: Sendable, Codable, Equatable {
    /// The certificate chain's file, absolute (the leaf first, then intermediates).
    public var cert: String
    /// The private key's file, absolute.
    public var key: String
    /// Where the configuration names them, e.g. `wrangler.jsonc:14:7 berth.tls.gateway[1]`,
    /// for the errors that reading them can give.
    public var source: String

    public init(cert: String, key: String, source: String) {
        self.cert = cert
        self.key = key
        self.source = source
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cert = try c.decode(String.self, forKey: .cert)
        key = try c.decode(String.self, forKey: .key)
        source = try c.decodeIfPresent(String.self, forKey: .source) ?? ""
    }
}
