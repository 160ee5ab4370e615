import Foundation

/// An image as `list` describes it.
public struct ImageSummary: Decodable, Sendable {
    public var id: String
    /// `repository:tag` names; empty for an untagged image.
    public var repoTags: [String]
    public var repoDigests: [String]
    /// Unix time in seconds.
    public var created: Int64
    public var size: Int64
    public var labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", repoDigests = "RepoDigests", created = "Created", size = "Size", labels = "Labels"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        repoTags = (try c.decodeIfPresent([String].self, forKey: .repoTags) ?? []).filter { $0 != "<none>:<none>" }
        repoDigests = (try c.decodeIfPresent([String].self, forKey: .repoDigests) ?? []).filter { $0 != "<none>@<none>" }
        created = try c.decode(Int64.self, forKey: .created)
        size = try c.decode(Int64.self, forKey: .size)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}

/// An image as `inspect` describes it.
public struct ImageDetails: Decodable, Sendable {
    public var id: String
    public var repoTags: [String]
    public var created: String
    public var size: Int64
    public var architecture: String
    public var os: String
    public var config: Config

    public struct Config: Decodable, Sendable {
        public var labels: [String: String]
        /// `8080/tcp` and the like, from EXPOSE.
        public var exposedPorts: [String]
        public var environment: [String]
        public var entrypoint: [String]?
        public var command: [String]?

        enum CodingKeys: String, CodingKey {
            case labels = "Labels", exposedPorts = "ExposedPorts", environment = "Env", entrypoint = "Entrypoint", command = "Cmd"
        }

        struct Empty: Decodable {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
            exposedPorts = (try c.decodeIfPresent([String: Empty].self, forKey: .exposedPorts) ?? [:]).keys.sorted()
            environment = try c.decodeIfPresent([String].self, forKey: .environment) ?? []
            entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint)
            command = try c.decodeIfPresent([String].self, forKey: .command)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", created = "Created", size = "Size", architecture = "Architecture", os = "Os"
        case config = "Config"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        repoTags = try c.decodeIfPresent([String].self, forKey: .repoTags) ?? []
        created = try c.decode(String.self, forKey: .created)
        size = try c.decode(Int64.self, forKey: .size)
        architecture = try c.decode(String.self, forKey: .architecture)
        os = try c.decode(String.self, forKey: .os)
        config = try c.decodeIfPresent(Config.self, forKey: .config) ?? Config(from: EmptyDecoder())
    }
}

/// Decodes an empty keyed container; used where the engine omits an object.
private struct EmptyDecoder: Decoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try JSONDecoder().decode(Wrapper<Key>.self, from: Data("{}".utf8)).container
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { fatalError("not used") }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { fatalError("not used") }

    private struct Wrapper<Key: CodingKey>: Decodable {
        var container: KeyedDecodingContainer<Key>
        init(from decoder: any Decoder) throws { container = try decoder.container(keyedBy: Key.self) }
    }
}

/// One message of a push or pull: a layer's status and progress, or an error.
public struct ProgressMessage: Decodable, Sendable {
    public var status: String?
    public var id: String?
    public var progress: String?
    public var error: String?

    struct ErrorDetail: Decodable { var message: String? }
    enum CodingKeys: String, CodingKey { case status, id, progress, error, errorDetail }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = try c.decodeIfPresent(String.self, forKey: .status)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        progress = try c.decodeIfPresent(String.self, forKey: .progress)
        let detail = try c.decodeIfPresent(ErrorDetail.self, forKey: .errorDetail)
        error = try c.decodeIfPresent(String.self, forKey: .error) ?? detail?.message
    }

    /// One line for a person: `a1b2c3: Pushing [=====>   ] 1.2MB/3MB`.
    public var line: String {
        if let error { return "error: \(error)" }
        return [id.map { "\($0):" }, status, progress].compactMap { $0 }.joined(separator: " ")
    }
}

/// Credentials for a registry, sent to the engine in the `X-Registry-Auth` header.
public struct RegistryAuth: Encodable, Sendable {
    public var username: String?
    public var password: String?
    public var serverAddress: String?
    public var identityToken: String?

    public init(username: String? = nil, password: String? = nil, serverAddress: String? = nil, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.serverAddress = serverAddress
        self.identityToken = identityToken
    }

    enum CodingKeys: String, CodingKey {
        case username, password, serverAddress = "serveraddress", identityToken = "identitytoken"
    }

    /// Base64url of the JSON, as the engine expects; `{}` when there are no credentials.
    var header: String {
        let data = (try? JSONEncoder().encode(self)) ?? Data("{}".utf8)
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}

/// What removing an image did.
public struct ImageDeleteItem: Decodable, Sendable {
    public var untagged: String?
    public var deleted: String?
    enum CodingKeys: String, CodingKey { case untagged = "Untagged", deleted = "Deleted" }
}
