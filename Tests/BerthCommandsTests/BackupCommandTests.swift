import Foundation
import Testing

/// `berth backup FILE` on a project folder (no server needed, and none asked).
@Suite("berth backup")
struct BackupCommandTests {
    @Test("copies the project's state store, refuses to replace FILE without --force, and says when there is no store")
    func backup() throws {
        let folder = NSTemporaryDirectory() + "berth-backup-cli-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder + "/.berth", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The state of a real deployment (Tests/Fixtures/state-v0): 1 deployment, 2 instances, 4 events.
        try FileManager.default.copyItem(
            atPath: repositoryRoot.appendingPathComponent("Tests/Fixtures/state-v0/state.sqlite").path, toPath: folder + "/.berth/state.sqlite"
        )
        let file = folder + "/backup.sqlite"
        let first = try BerthRun.run(["backup", file, "--project", folder])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("to \(file):"), "\(first.stdout)")
        #expect(first.stdout.contains("1 deployment(s), 2 instance(s), 4 event(s); integrity check ok"), "\(first.stdout)")
        let copied = try #require(FileManager.default.contents(atPath: file))
        #expect(copied.prefix(16) == Data("SQLite format 3\0".utf8))
        // No secrets in the project: no secrets file beside the copy.
        #expect(!FileManager.default.fileExists(atPath: file + ".secrets.json"))

        let again = try BerthRun.run(["backup", file, "--project", folder])
        #expect(again.status == 1)
        #expect(again.stderr.contains("\(file) exists already; pass --force to replace it"), "\(again.stderr)")
        #expect(FileManager.default.contents(atPath: file) == copied)
        // With secrets (as `berth secret put` writes them): copied beside it, owner-only.
        let secrets = #"[{"name":"API_KEY","value":"s3cr3t-backup-value","updated_at":"2026-12-02T00:00:00Z"}]"#
        FileManager.default.createFile(atPath: folder + "/.berth/secrets.json", contents: Data(secrets.utf8), attributes: [.posixPermissions: 0o600])
        let forced = try BerthRun.run(["backup", file, "--project", folder, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(FileManager.default.contents(atPath: file + ".secrets.json") == Data(secrets.utf8))
        #expect((try FileManager.default.attributesOfItem(atPath: file + ".secrets.json")[.posixPermissions] as? Int) == 0o600)
        #expect(forced.stdout.contains("\(file).secrets.json") && !forced.stdout.contains("s3cr3t-backup-value"), "\(forced.stdout)")

        let empty = NSTemporaryDirectory() + "berth-backup-none-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let none = try BerthRun.run(["backup", empty + "/out.sqlite", "--project", empty])
        #expect(none.status == 1)
        #expect(none.stderr.contains("there is no state store at \(empty)/.berth/state.sqlite"), "\(none.stderr)")
    }
}
