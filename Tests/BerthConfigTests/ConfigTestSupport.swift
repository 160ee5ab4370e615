import BerthConfig
import Foundation
import Testing

/// A temporary project folder with a config file and a Dockerfile, removed afterwards.
struct TempProject {
    let folder: String

    init(files: [String: String] = [:], dockerfile: Bool = true) throws {
        folder = NSTemporaryDirectory() + "berth-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if dockerfile { try write("Dockerfile", "FROM scratch\nEXPOSE 8080\n") }
        for (name, text) in files { try write(name, text) }
    }

    func write(_ name: String, _ text: String) throws {
        let path = (folder as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// The configuration of the getting-started document, byte for byte.
let seedConfiguration = """
    {
    "containers": [
    {
    "max_instances": 10,
    "name": "hello-containers",
    "class_name": "MyContainer",
    "image": "./Dockerfile"
    }
    ],
    "durable_objects": {
    "bindings": [
    {
    "name": "MY_CONTAINER",
    "class_name": "MyContainer"
    }
    ]
    },
    "migrations": [
    {
    "tag": "v1",
    "new_sqlite_classes": [
    "MyContainer"
    ]
    }
    ]
    }
    """

/// Loads `text` as `wrangler.jsonc` (or another name) in a fresh project folder.
func load(_ text: String, as name: String = "wrangler.jsonc", extraFiles: [String: String] = [:], dockerfile: Bool = true) throws -> ConfigReport {
    let project = try TempProject(files: extraFiles.merging([name: text]) { $1 }, dockerfile: dockerfile)
    defer { project.remove() }
    return ConfigLoader.load(folder: project.folder)
}

/// A minimal valid configuration with `container` spliced into containers[0].
func config(container: String, extra: String = "") -> String {
    """
    {
      "name": "app",
      "containers": [
        \(container)
      ],
      "durable_objects": { "bindings": [ { "name": "MY_CONTAINER", "class_name": "MyContainer" } ] },
      "migrations": [ { "tag": "v1", "new_sqlite_classes": ["MyContainer"] } ]\(extra)
    }
    """
}

/// The single error of a report, which must have exactly one.
func onlyError(_ report: ConfigReport, sourceLocation: SourceLocation = #_sourceLocation) throws -> ConfigDiagnostic {
    #expect(report.config == nil, sourceLocation: sourceLocation)
    #expect(report.errors.count == 1, "errors: \(report.errors.map(\.description))", sourceLocation: sourceLocation)
    return try #require(report.errors.first, sourceLocation: sourceLocation)
}

/// The 1-based line and column where `needle` first occurs in `text` (`occurrence` counts from 1).
func position(of needle: String, in text: String, occurrence: Int = 1) -> (line: Int, column: Int) {
    var searchStart = text.startIndex
    var found: Range<String.Index>?
    for _ in 0..<occurrence {
        found = text.range(of: needle, range: searchStart..<text.endIndex)
        guard let range = found else { break }
        searchStart = range.upperBound
    }
    guard let range = found else { return (0, 0) }
    let before = text[..<range.lowerBound]
    let line = before.filter { $0 == "\n" }.count + 1
    let lineStart = before.lastIndex(of: "\n").map { before.index(after: $0) } ?? text.startIndex
    return (line, text.unicodeScalars[lineStart..<range.lowerBound].count + 1)
}

/// Checks that a diagnostic sits at `needle` in `text`, names `path`, and mentions `words`.
func expectDiagnostic(
    _ diagnostic: ConfigDiagnostic, at needle: String, in text: String, occurrence: Int = 1, path: String,
    mentions words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
) {
    let expected = position(of: needle, in: text, occurrence: occurrence)
    #expect(diagnostic.line == expected.line, "\(diagnostic)", sourceLocation: sourceLocation)
    #expect(diagnostic.column == expected.column, "\(diagnostic)", sourceLocation: sourceLocation)
    #expect(diagnostic.path == path, "\(diagnostic)", sourceLocation: sourceLocation)
    #expect(diagnostic.description.hasPrefix("\(diagnostic.file):\(expected.line):\(expected.column): "), sourceLocation: sourceLocation)
    for word in words {
        #expect(diagnostic.message.contains(word), "\(diagnostic.message) should mention \(word)", sourceLocation: sourceLocation)
    }
}
