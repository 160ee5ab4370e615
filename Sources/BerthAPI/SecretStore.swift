import BerthCore
import Foundation

/// The secrets of a state folder: `secrets.json`, mode 0600, in the folder (mode 0700).
/// Only the server writes it (through the admin API, one change at a time); each write
/// replaces the file whole, so a reader sees the old or the new secrets, never half.
public struct SecretStore: Sendable {
    public let path: String

    public init(state: StateDirectory) {
        path = state.secretsPath
    }

    struct Entry: Codable {
        var value: String
        var updatedAt: Date
        /// Random, new on every put: what a class fingerprint sees of the secret.
        var version: String

        enum CodingKeys: String, CodingKey {
            case value, updatedAt = "updated_at", version
        }
    }

    /// Names and when each was set, sorted by name.
    public func list() throws(BerthError) -> [SecretView] {
        try read().map { SecretView(name: $0.key, updatedAt: $0.value.updatedAt) }.sorted { $0.name < $1.name }
    }

    /// Every value, with a version that changes whenever a secret does.
    public func values() throws(BerthError) -> SecretValues {
        let entries = try read()
        guard !entries.isEmpty else { return SecretValues() }
        let version = entries.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value.version)" }.joined(separator: ",")
        return SecretValues(values: entries.mapValues(\.value), version: version)
    }

    /// Sets (or replaces) a secret.
    @discardableResult
    public func put(_ name: String, value: String, now: Date = Date()) throws(BerthError) -> SecretView {
        try SecretName.validate(name)
        try SecretName.validate(value: value)
        var entries = try read()
        entries[name] = Entry(value: value, updatedAt: now, version: Hex.random(bytes: 8))
        try save(entries)
        return SecretView(name: name, updatedAt: now)
    }

    /// Removes a secret; one that does not exist is an error.
    @discardableResult
    public func delete(_ name: String) throws(BerthError) -> SecretView {
        var entries = try read()
        guard let removed = entries.removeValue(forKey: name) else {
            throw BerthError(.notFound, "no secret \(name); `berth secret list` shows them")
        }
        try save(entries)
        return SecretView(name: name, updatedAt: removed.updatedAt)
    }

    private func read() throws(BerthError) -> [String: Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        do {
            return try AdminJSON.decoder.decode([String: Entry].self, from: data)
        } catch {
            // Never the decoder's text: it may quote the file.
            throw BerthError(.internal, "\(path) is not a secrets file Berth can read; restore it from a backup or remove it and put the secrets again")
        }
    }

    /// Writes a new file created with mode 0600 (no moment with wider permissions), then
    /// renames it over the old one; the folder is narrowed to 0700.
    private func save(_ entries: [String: Entry]) throws(BerthError) {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BerthError(.invalidInput, "cannot create the state folder \(folder): \(error.localizedDescription)")
        }
        chmod(folder, 0o700)
        let data: Data
        do { data = try AdminJSON.encoder.encode(entries) } catch { throw BerthError(.internal, "cannot encode the secrets") }
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BerthError(.invalidInput, "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { buffer in write(fd, buffer.baseAddress, buffer.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw BerthError(.invalidInput, "cannot write the secrets to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
