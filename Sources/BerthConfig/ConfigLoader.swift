import BerthCore
import Foundation

/// The outcome of loading a project's configuration: the resolved config when there is no
/// error, and every error and warning found.
public struct ConfigReport: Sendable {
    public var config: ProjectConfig?
    public var diagnostics: [ConfigDiagnostic]

    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .warning } }

    /// The configuration, or a ``BerthError`` (`invalid_config`) listing every error.
    public func get() throws(BerthError) -> ProjectConfig {
        if let config { return config }
        let lines = errors.map(\.description).joined(separator: "\n")
        throw BerthError(.invalidConfig, lines.isEmpty ? "the configuration could not be loaded" : lines)
    }
}

/// Finds and loads a project's configuration file.
public enum ConfigLoader {
    /// The files Berth looks for, in order of preference. `berth.*` lets a project keep
    /// Berth's own copy beside a Cloudflare one.
    public static let fileNames = ["berth.jsonc", "berth.json", "wrangler.json", "wrangler.jsonc", "wrangler.toml"]

    /// Loads the configuration of the project in `folder`.
    ///
    /// - Parameter folder: the folder as the user typed it; messages name files relative to it.
    public static func load(folder: String) -> ConfigReport {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            return failure(file: folder, "no such folder; give the folder that holds wrangler.jsonc")
        }
        guard isDirectory.boolValue else { return load(file: folder) }
        let present = fileNames.filter { fm.fileExists(atPath: (folder as NSString).appendingPathComponent($0)) }
        guard let chosen = present.first else {
            return failure(file: folder, "no configuration file here; create wrangler.jsonc (or \(fileNames.filter { $0 != "wrangler.jsonc" }.joined(separator: ", ")))")
        }
        var report = load(file: (folder as NSString).appendingPathComponent(chosen))
        for ignored in present.dropFirst() {
            report.diagnostics.append(ConfigDiagnostic(
                .warning, file: display(folder, ignored), at: SourcePosition(line: 1, column: 1), path: "",
                message: "ignored: \(chosen) is used instead"
            ))
        }
        return report
    }

    /// Loads one configuration file; its format follows its extension.
    public static func load(file path: String) -> ConfigReport {
        let shown = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        guard let data = FileManager.default.contents(atPath: path) else {
            return failure(file: shown, "cannot read the file (does it exist, and may Berth read it?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return failure(file: shown, "the file is not UTF-8 text")
        }
        let folder = ((path as NSString).deletingLastPathComponent as NSString).isAbsolutePath
            ? (path as NSString).deletingLastPathComponent
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent((path as NSString).deletingLastPathComponent)
        return load(text: text, file: shown, folder: (folder as NSString).standardizingPath)
    }

    /// Parses and validates configuration text. `file` names it in messages; `folder` is
    /// where relative paths (the image, the build context) are resolved.
    public static func load(text: String, file: String, folder: String) -> ConfigReport {
        var diagnostics: [ConfigDiagnostic] = []
        let root: ConfigNode
        do {
            if file.hasSuffix(".toml") {
                root = try TOMLParser.parse(text)
            } else {
                let result = try JSONCParser.parse(text)
                root = result.root
                for duplicate in result.duplicateKeys {
                    diagnostics.append(ConfigDiagnostic(
                        .warning, file: file, at: duplicate.position, path: duplicate.key,
                        message: "this key appears more than once in the same object; the last one wins"
                    ))
                }
            }
        } catch {
            return ConfigReport(config: nil, diagnostics: [ConfigDiagnostic(
                .error, file: file, at: error.position, path: "", message: "syntax error: \(error.message)"
            )])
        }
        var validator = ConfigValidator(file: file, folder: folder)
        let config = validator.validate(root)
        diagnostics += validator.diagnostics
        diagnostics.sort { ($0.line, $0.column) < ($1.line, $1.column) }
        return ConfigReport(config: config, diagnostics: diagnostics)
    }

    static func display(_ folder: String, _ name: String) -> String {
        folder == "." || folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name)
    }

    static func failure(file: String, _ message: String) -> ConfigReport {
        ConfigReport(config: nil, diagnostics: [ConfigDiagnostic(
            .error, file: file, at: SourcePosition(line: 1, column: 1), path: "", message: message
        )])
    }
}
