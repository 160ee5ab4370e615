import BerthConfig
import Foundation

/// Config text through ``ConfigLoader/load(text:file:folder:)``: the parser of the file's
/// format, then the validator, in a project folder that holds a Dockerfile.
enum ConfigFuzzing {
    /// Tests/Fixtures/seed: a Dockerfile beside the getting-started `wrangler.jsonc`.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/seed").path

    static func run(_ bytes: UnsafeRawBufferPointer, file: String) {
        // The loader refuses files that are not UTF-8 before it parses anything.
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        let report = ConfigLoader.load(text: text, file: file, folder: folder)
        precondition((report.config == nil) == !report.errors.isEmpty, "a configuration is refused exactly when an error says why")
        let lines = text.utf8.count { $0 == UInt8(ascii: "\n") } + 1
        for diagnostic in report.diagnostics {
            precondition((1...lines).contains(diagnostic.line) && diagnostic.column >= 1, "\(diagnostic) points outside the file")
            precondition(diagnostic.file == file)
        }
        // A deployment keeps its configuration as JSON and reads it back after a restart.
        if let config = report.config {
            let restored = try? JSONDecoder().decode(ProjectConfig.self, from: JSONEncoder().encode(config))
            precondition(restored == config, "the configuration does not survive being stored: \(config)")
        }
    }
}
