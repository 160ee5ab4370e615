import Foundation
import Testing

/// Runs the built `berth` executable and captures what it prints.
struct BerthRun {
    var status: Int32
    var stdout: String
    var stderr: String

    static var executable: URL {
        // The test bundle sits beside the products of the same build.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while url.path != "/" && !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("berth").path) {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("berth")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> BerthRun {
        try run(program: executable.path, arguments, environment: environment)
    }

    /// Runs any program to its end (in `folder`, when given) and captures what it prints.
    static func run(program: String, _ arguments: [String], in folder: String? = nil, environment: [String: String] = [:]) throws -> BerthRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return BerthRun(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The getting-started document's configuration, verbatim, beside a Dockerfile.
let seedFolder = repositoryRoot.appendingPathComponent("Tests/Fixtures/seed").path

/// The example project shipped with the repository.
let exampleFolder = repositoryRoot.appendingPathComponent("examples/hello").path

/// A copy of the seed project whose wrangler.jsonc is changed by `edit`.
func seedCopy(_ edit: (String) -> String) throws -> String {
    let folder = NSTemporaryDirectory() + "berth-cli-\(UUID().uuidString)"
    try FileManager.default.copyItem(atPath: seedFolder, toPath: folder)
    let file = folder + "/wrangler.jsonc"
    let original = try String(contentsOfFile: file, encoding: .utf8)
    let edited = edit(original)
    #expect(edited != original, "the edit changed nothing")
    try edited.write(toFile: file, atomically: true, encoding: .utf8)
    return folder
}

@Suite("berth config check")
struct ConfigCheckCommandTests {
    @Test("the seed's configuration passes and prints the resolved configuration")
    func seedPasses() throws {
        let run = try BerthRun.run(["config", "check", seedFolder])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout.contains("wrangler.jsonc: OK"))
        #expect(run.stdout.contains("hello-containers"))
        #expect(run.stdout.contains("max_instances                10"))
        #expect(run.stdout.contains("instance_type                lite (1/16 vCPU, 256 MiB memory, 2000 MB disk)"))
        #expect(run.stdout.contains("MY_CONTAINER -> MyContainer (storage: sqlite)"))
    }

    @Test("--json gives the resolved configuration with defaults")
    func json() throws {
        let run = try BerthRun.run(["config", "check", seedFolder, "--json"])
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == true)
        let config = try #require(object["config"] as? [String: Any])
        let container = try #require((config["containers"] as? [[String: Any]])?.first)
        #expect(container["name"] as? String == "hello-containers")
        #expect(container["max_instances"] as? Int == 10)
        #expect(container["rollout_step_percentage"] as? [Int] == [10, 100])
        #expect((container["instance_type"] as? [String: Any])?["memory_mib"] as? Int == 256)
        #expect((container["image"] as? [String: Any])?["kind"] as? String == "dockerfile")
        #expect((config["berth"] as? [String: Any])?["port_ready_timeout"] as? String == "20s")
    }

    @Test("the example project passes, with its class properties")
    func examplePasses() throws {
        let run = try BerthRun.run(["config", "check", exampleFolder])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout.contains("sleep_after 10s"))
        #expect(run.stdout.contains("MESSAGE"))
    }

    @Test("a misspelt class_name exits 1 with wrangler.jsonc:LINE:COL and the key")
    func misspelt() throws {
        let folder = try seedCopy { $0.replacingOccurrences(of: #""class_name": "MyContainer",\#n"image""#, with: #""class_name": "MyContainr",\#n"image""#) }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try BerthRun.run(["config", "check", folder])
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("\(folder)/wrangler.jsonc:6:15: containers[0].class_name: \"MyContainr\" is not a Durable Object class bound in this Worker (bindings: MyContainer)"), "\(run.stderr)")
        #expect(run.stderr.contains("1 error"))
    }

    @Test("new_classes instead of new_sqlite_classes exits 1 naming the key")
    func newClasses() throws {
        let folder = try seedCopy { $0.replacingOccurrences(of: "new_sqlite_classes", with: "new_classes") }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try BerthRun.run(["config", "check", folder])
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(folder)/wrangler.jsonc:22:1: migrations[0].new_classes[0]: "), "\(run.stderr)")
        #expect(run.stderr.contains("new_sqlite_classes"))
    }

    @Test("errors in --json mode are a document too, with exit 1")
    func jsonErrors() throws {
        let folder = try seedCopy { $0.replacingOccurrences(of: #""max_instances": 10"#, with: #""max_instances": -1"#) }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try BerthRun.run(["config", "check", folder, "--json"])
        #expect(run.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        let error = try #require((object["errors"] as? [[String: Any]])?.first)
        #expect(error["path"] as? String == "containers[0].max_instances")
        #expect(error["line"] as? Int == 4)
        #expect(error["column"] as? Int == 18)
    }

    @Test("a folder without a configuration exits 1 and says what to create")
    func noConfig() throws {
        let run = try BerthRun.run(["config", "check", NSTemporaryDirectory()])
        #expect(run.status == 1)
        #expect(run.stderr.contains("create wrangler.jsonc"))
    }
}

@Suite("berth basics")
struct BerthBasicsTests {
    @Test("--help lists the commands")
    func help() throws {
        let run = try BerthRun.run(["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("config"))
        #expect(run.stdout.contains("engine"))
        #expect(run.stdout.contains("Exit codes"))
    }

    @Test("an unknown command is a usage error (exit 64)")
    func usage() throws {
        let run = try BerthRun.run(["frobnicate"])
        #expect(run.status == 64)
    }

    @Test("an unreachable engine exits 3 with a message that says what to do")
    func noEngine() throws {
        let run = try BerthRun.run(["engine", "info"], environment: ["DOCKER_HOST": "unix:///tmp/berth-no-engine.sock"])
        #expect(run.status == 3)
        #expect(run.stderr.contains("cannot reach the Docker engine"))
        #expect(run.stderr.contains("make engine"))
    }
}
