@testable import DockerEngine
import BerthCore
import Foundation
import Testing

@Suite(".dockerignore matching")
struct DockerIgnoreTests {
    @Test("patterns as the Docker CLI reads them", arguments: [
        ("*.log", "app.log", true), ("*.log", "dir/app.log", false), ("**/*.log", "dir/sub/app.log", true),
        ("**/*.log", "app.log", true), ("node_modules", "node_modules/x/y.js", true), ("/secret", "secret", true),
        ("dir/*", "dir/a", true), ("dir/*", "dir/a/b", true), ("dir/*", "other/a", false), ("?.txt", "a.txt", true),
        ("?.txt", "ab.txt", false), ("[a-c].md", "b.md", true), ("[!a-c].md", "d.md", true), ("[!a-c].md", "a.md", false),
        ("file.txt", "filextxt", false), ("./build/../out", "out/x", true), ("**", "anything/at/all", true),
    ])
    func patterns(pattern: String, path: String, excluded: Bool) {
        #expect(DockerIgnore(pattern).excludes(path) == excluded)
    }

    @Test("the last matching line wins; exceptions bring files back")
    func exceptions() {
        let ignore = DockerIgnore("""
            # comment
            *.md
            !README.md
            docs
            !docs/keep.txt

            """)
        #expect(ignore.excludes("notes.md"))
        #expect(!ignore.excludes("README.md"))
        #expect(ignore.excludes("docs/a.txt"))
        #expect(!ignore.excludes("docs/keep.txt"))
        #expect(!ignore.excludes("main.go"))
        #expect(ignore.hasExceptions)
    }
}

@Suite("Build context archives")
struct BuildContextTests {
    func makeFolder(_ files: [String: String]) throws -> String {
        let folder = NSTemporaryDirectory() + "berth-context-\(UUID().uuidString)"
        for (name, text) in files {
            let path = (folder as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return folder
    }

    /// Writes the archive to a file and lists it with the system's tar.
    func listWithTar(_ context: BuildContext) async throws -> (names: [String], archive: String) {
        let archive = NSTemporaryDirectory() + "berth-context-\(UUID().uuidString).tar"
        FileManager.default.createFile(atPath: archive, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: archive))
        for try await chunk in context { handle.write(Data(chunk.readableBytesView)) }
        try handle.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "-tf", archive]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "tar could not read the archive")
        let names = String(decoding: output, as: UTF8.self).split(separator: "\n").map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "/")) }
        return (names, archive)
    }

    @Test("the archive holds what .dockerignore lets through, and tar reads it")
    func honoursDockerignore() async throws {
        let longName = String(repeating: "n", count: 120) + ".txt"
        let folder = try makeFolder([
            "Dockerfile": "FROM scratch\nCOPY . /ctx\n", ".dockerignore": "secret.txt\nlogs\nDockerfile\n*.tmp\n!keep.tmp\n",
            "secret.txt": "s", "app.txt": "a", "logs/1.log": "l", "keep.tmp": "k", "drop.tmp": "d", "sub/\(longName)": "long",
        ])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = try BuildContext(directory: folder)
        #expect(context.dockerfilePath == "Dockerfile")
        let (names, archive) = try await listWithTar(context)
        defer { try? FileManager.default.removeItem(atPath: archive) }
        #expect(Set(names) == Set([".dockerignore", "Dockerfile", "app.txt", "keep.tmp", "sub", "sub/\(longName)"]))
    }

    @Test("file contents survive the trip, across chunk boundaries")
    func contents() async throws {
        let big = String(repeating: "0123456789abcdef", count: 40_000)  // 640 KB, several chunks
        let folder = try makeFolder(["Dockerfile": "FROM scratch\n", "big.txt": big, "small.txt": "hi\n"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (_, archive) = try await listWithTar(try BuildContext(directory: folder))
        defer { try? FileManager.default.removeItem(atPath: archive) }
        let out = NSTemporaryDirectory() + "berth-extract-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "-xf", archive, "-C", out]
        try process.run()
        process.waitUntilExit()
        #expect(try String(contentsOfFile: out + "/big.txt", encoding: .utf8) == big)
        #expect(try String(contentsOfFile: out + "/small.txt", encoding: .utf8) == "hi\n")
    }

    @Test("a Dockerfile outside the context is added under a generated name")
    func outsideDockerfile() async throws {
        let folder = try makeFolder(["ctx/app.txt": "a", "docker/App.dockerfile": "FROM scratch\n"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = try BuildContext(directory: folder + "/ctx", dockerfile: folder + "/docker/App.dockerfile")
        #expect(context.dockerfilePath.hasPrefix(".berth-dockerfile-"))
        #expect(Set(context.paths) == Set(["app.txt", context.dockerfilePath]))
    }

    @Test("a missing context or Dockerfile is a clear error")
    func missing() throws {
        #expect(throws: BerthError.self) { try BuildContext(directory: "/nonexistent-berth-folder") }
        let folder = try makeFolder(["a.txt": "a"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            _ = try BuildContext(directory: folder)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("Dockerfile"))
        }
    }
}
