import BerthConfig
import BerthCore
import Foundation

/// The rules for a secret's name: an environment variable's name (letters, digits, `_`, not
/// starting with a digit), at most 128 characters, and none of the platform's own prefixes.
public enum SecretName {
    public static let maxLength = 128
    /// Names Berth sets in every container itself.
    public static let reservedPrefixes = ["BERTH_", "CLOUDFLARE_"]
    /// The longest value (64 KiB): an environment variable, not a file.
    public static let maxValueBytes = 64 << 10

    public static func validate(_ name: String) throws(BerthError) {
        guard !name.isEmpty else { throw BerthError(.invalidInput, "a secret needs a name, e.g. `berth secret put API_KEY`") }
        guard name.utf8.count <= maxLength else {
            throw BerthError(.invalidInput, "the secret name is \(name.utf8.count) characters long; at most \(maxLength)")
        }
        let valid = name.utf8.enumerated().allSatisfy { index, byte in
            byte == UInt8(ascii: "_") || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (index > 0 && byte >= 48 && byte <= 57)
        }
        guard valid else {
            throw BerthError(.invalidInput, "\"\(name)\" is not a secret name: use letters, digits and '_', not starting with a digit (an environment variable's name, e.g. API_KEY)")
        }
        if let prefix = reservedPrefixes.first(where: { name.uppercased().hasPrefix($0) }) {
            throw BerthError(.invalidInput, "\"\(name)\" starts with \(prefix), which Berth keeps for the variables it sets in containers; choose another name")
        }
    }

    public static func validate(value: String) throws(BerthError) {
        guard !value.isEmpty else { throw BerthError(.invalidInput, "the secret's value is empty; pipe it in: `printf %s \"$VALUE\" | berth secret put NAME`") }
        guard value.utf8.count <= maxValueBytes else {
            throw BerthError(.invalidInput, "the secret's value is \(value.utf8.count) bytes; at most \(maxValueBytes) (it becomes an environment variable)")
        }
        guard !value.utf8.contains(0) else { throw BerthError(.invalidInput, "the secret's value contains a NUL byte, which no environment variable can hold") }
    }

    /// Where a configuration uses `name` too: `vars.NAME` or `berth.classes.C.env_vars.NAME`.
    /// Cloudflare refuses a name that is both a var and a secret; so does Berth.
    public static func conflicts(_ name: String, in config: ProjectConfig) -> [String] {
        var places: [String] = []
        if config.vars[name] != nil { places.append("vars.\(name)") }
        for (className, properties) in config.berth.classes.sorted(by: { $0.key < $1.key }) where properties.envVars[name] != nil {
            places.append("berth.classes.\(className).env_vars.\(name)")
        }
        return places
    }

    /// The error for a name that is both a secret and something in the configuration.
    public static func conflictError(_ name: String, places: [String], file: String) -> BerthError {
        BerthError(.conflict, "\(name) is both a secret and \(places.joined(separator: " and ")) in \(file); a name is either a var or a secret (as on Cloudflare): rename or remove one of them (`berth secret delete \(name)`)")
    }
}

/// A secret as the admin API shows it: its name and when it was set, never its value.
public struct SecretView: Codable, Sendable, Equatable {
    public var name: String
    public var updatedAt: Date

    public init(name: String, updatedAt: Date) {
        self.name = name
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case name, updatedAt = "updated_at"
    }
}

/// `POST /api/secrets`: `{"name": …, "value": …}`.
public struct SecretPutRequest: Codable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// What `POST` and `DELETE /api/secrets` answer: the secret, and the deployment that
/// carries the change to running instances (none when nothing is deployed yet).
public struct SecretChange: Codable, Sendable {
    public var secret: SecretView
    public var deployment: String?

    public init(secret: SecretView, deployment: String?) {
        self.secret = secret
        self.deployment = deployment
    }
}

/// Every secret's value, for containers and the Worker's `env`, and a version that changes
/// whenever one is put or deleted (it goes into the class fingerprint, never the value).
public struct SecretValues: Sendable, Equatable {
    public var values: [String: String]
    public var version: String

    public init(values: [String: String] = [:], version: String = "") {
        self.values = values
        self.version = version
    }
}
