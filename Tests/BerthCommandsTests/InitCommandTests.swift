import BerthConfig
import Foundation
import Testing

@testable import BerthCommands

/// `berth init` into temporary folders (no engine needed): the files, the configuration they
/// make, the name, and that nothing is ever written over.
@Suite("berth init")
struct InitCommandTests {
    /// A fresh, empty parent folder for one test, removed by `remove()`.
    struct Scratch {
        let root = NSTemporaryDirectory() + "berth-init-\(UUID().uuidString.prefix(8))"
        init() throws { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Runs `berth init FOLDER ARGUMENTS` for a FOLDER in a fresh scratch folder, hands both
    /// to `check`, and removes the scratch folder.
    func initApp(_ arguments: [String] = [], environment: [String: String] = [:], _ check: (_ folder: String, _ run: BerthRun) throws -> Void) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.root + "/app"
        try check(folder, try BerthRun.run(["init", folder] + arguments, environment: environment))
    }

    static let projectFiles = ["wrangler.jsonc", "Dockerfile", "container/server.c", "README.md", ".gitignore", ".dockerignore"]

    @Test("writes the project, prints each file and the next steps; the configuration loads with no diagnostics; the server is built")
    func writesProject() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.root + "/My Project_2"
        let run = try BerthRun.run(["init", folder])
        #expect(run.status == 0, "\(run.stderr)")
        for file in Self.projectFiles {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file) is missing")
            #expect(run.stdout.contains("created \(folder)/\(file)\n"), "\(run.stdout)")
        }
        #expect(run.stdout.contains("berth dev '\(folder)'"), "\(run.stdout)")
        #expect(run.stdout.contains("curl http://127.0.0.1:8787/container/1"), "\(run.stdout)")
        #expect(run.stdout.contains("berth deploy '\(folder)'"), "\(run.stdout)")

        let report = ConfigLoader.load(folder: folder)
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics.map(\.description))")
        let config = try #require(report.config)
        #expect(config.name == "my-project-2")
        let container = try #require(config.containers.first)
        #expect(config.containers.count == 1)
        #expect(container.className == "MyContainer")
        #expect(container.maxInstances == 10)
        #expect(container.bindings == ["MY_CONTAINER"])
        #expect(container.image == .dockerfile(path: folder + "/Dockerfile", context: folder))
        let settings = try #require(config.berth.classes["MyContainer"])
        #expect(settings.sleepAfter == .seconds(120))
        #expect(settings.defaultPort == 8080)
        #expect(settings.envVars["MESSAGE"] == "I was passed in via the container class!")
        #expect(config.berth.routes.map(\.prefix) == ["/container", "/lb", "/singleton"])

        let server = folder + "/server"
        if CCompiler.find() != nil {
            #expect(FileManager.default.isExecutableFile(atPath: server))
            #expect(run.stdout.contains("built \(folder)/server ("), "\(run.stdout)")
        }
        let source = try String(contentsOfFile: folder + "/container/server.c", encoding: .utf8)
        #expect(source.split(separator: "\n", omittingEmptySubsequences: false).count <= 200)
        #expect(source.hasSuffix("}\n"))
    }

    @Test("the app name comes from the folder, or --name")
    func names() throws {
        #expect(ProjectName.derived(fromFolder: "/tmp/My App") == "my-app")
        #expect(ProjectName.derived(fromFolder: "projects/Hello_World.v2/") == "hello-world-v2")
        #expect(ProjectName.derived(fromFolder: "_über-app_") == "ber-app")
        #expect(ProjectName.derived(fromFolder: "/") == "app")
        let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).lastPathComponent
        #expect(ProjectName.derived(fromFolder: ".") == ProjectName.derived(fromFolder: current))
        #expect(ProjectName.isValid("my-app-2"))
        for name in ["", "My-App", "-app", "app-", "my_app", "my app"] { #expect(!ProjectName.isValid(name), "\(name)") }

        let scratch = try Scratch()
        defer { scratch.remove() }
        let named = try BerthRun.run(["init", scratch.root + "/a", "--name", "shop-front"], environment: ["CC": "berth-no-such-compiler"])
        #expect(named.status == 0, "\(named.stderr)")
        #expect(ConfigLoader.load(folder: scratch.root + "/a").config?.name == "shop-front")

        let wrong = try BerthRun.run(["init", scratch.root + "/b", "--name", "Shop Front"])
        #expect(wrong.status == 64)
        #expect(wrong.stderr.contains("--name \"Shop Front\" is not a name Berth can use"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/b"))
    }

    @Test("a file in the way: nothing is written, each one is named, exit 1")
    func refusesToOverwrite() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.root + "/app"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "FROM mine\n".write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
        try "not a folder\n".write(toFile: folder + "/container", atomically: true, encoding: .utf8)
        try "an old binary\n".write(toFile: folder + "/server", atomically: true, encoding: .utf8)

        let run = try BerthRun.run(["init", folder])
        #expect(run.status == 1)
        #expect(run.stderr.contains("error: berth init writes nothing over what is there, and these are in the way: \(folder)/Dockerfile, \(folder)/server, \(folder)/container;"), "\(run.stderr)")
        #expect(run.stdout.isEmpty, "\(run.stdout)")
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(left == ["Dockerfile", "container", "server"])
        #expect(try String(contentsOfFile: folder + "/Dockerfile", encoding: .utf8) == "FROM mine\n")
        #expect(try String(contentsOfFile: folder + "/server", encoding: .utf8) == "an old binary\n")

        // A second init over a first one's project names every file of it.
        let again = scratch.root + "/again"
        #expect(try BerthRun.run(["init", again], environment: ["CC": "berth-no-such-compiler"]).status == 0)
        let second = try BerthRun.run(["init", again])
        #expect(second.status == 1)
        for file in Self.projectFiles { #expect(second.stderr.contains("\(again)/\(file)"), "\(second.stderr)") }
    }

    @Test("without a C compiler the project is still written, and the warning says what to install and how to build")
    func noCompiler() throws {
        try initApp(environment: ["CC": "berth-no-such-compiler"]) { folder, run in
            #expect(run.status == 0, "\(run.stderr)")
            for file in Self.projectFiles { #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file)") }
            #expect(!FileManager.default.fileExists(atPath: folder + "/server"))
            #expect(run.stderr.contains("warning: CC is \"berth-no-such-compiler\", which names no program found on PATH"), "\(run.stderr)")
            #expect(run.stderr.contains("apt-get install gcc"), "\(run.stderr)")
            #expect(run.stderr.contains("cd \(folder) && cc -static -O2 -o server container/server.c"), "\(run.stderr)")
            #expect(run.stdout.contains("Next steps:"), "\(run.stdout)")
        }
    }

    @Test("a compiler that fails: its status, how to build by hand, exit 1; the project stays written")
    func compilerFails() throws {
        try initApp(environment: ["CC": "/bin/false -static"]) { folder, run in
            #expect(run.status == 1)
            #expect(run.stderr.contains("error: the container's server did not build: /bin/false -static exited with status 1"), "\(run.stderr)")
            #expect(run.stderr.contains("cd \(folder) && /bin/false -static -static -O2 -o server container/server.c"), "\(run.stderr)")
            #expect(FileManager.default.fileExists(atPath: folder + "/wrangler.jsonc"))
        }
    }

    @Test("--worker swift adds a Worker package on the SDK BERTH_SDK names; a BERTH_SDK without one is said, and nothing is written")
    func swiftWorker() throws {
        let sdk = try Scratch()
        defer { sdk.remove() }
        try FileManager.default.createDirectory(atPath: sdk.root + "/berth-sdk/Sources/BerthWorker", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: sdk.root + "/berth-sdk/Sources/BerthWorker/WorkerProcess.swift", contents: Data())
        try initApp(["--worker", "swift"], environment: ["BERTH_SDK": sdk.root + "/berth-sdk"]) { folder, run in
            #expect(run.status == 0, "\(run.stderr)")
            let package = try String(contentsOfFile: folder + "/Package.swift", encoding: .utf8)
            // The SDK beside the berth that builds it (BERTH_SDK), else the one that made it.
            #expect(package.contains("Context.environment[\"BERTH_SDK\"]"), "\(package)")
            #expect(package.contains("?? \"\(sdk.root)/berth-sdk\""), "\(package)")
            let main = try String(contentsOfFile: folder + "/worker/main.swift", encoding: .utf8)
            #expect(main.contains("WorkerProcess.run(HelloWorker(), containers: [MyContainer.self])"))
            #expect(run.stdout.contains("created \(folder)/worker/main.swift"), "\(run.stdout)")
            for file in Self.projectFiles { #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file) is missing") }
        }
        try initApp(["--worker", "swift"], environment: ["BERTH_SDK": sdk.root + "/nowhere"]) { folder, run in
            #expect(run.status == 1)
            #expect(run.stderr.contains("BERTH_SDK is \(sdk.root)/nowhere, and the Berth SDK a Swift Worker builds on is not there"), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder))
            let unknown = try BerthRun.run(["init", folder, "--worker", "go"])
            #expect(unknown.status == 64)
        }
    }

    @Test("the README's Swift Worker is the one berth init --worker swift writes")
    func readmeShowsTheTemplate() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        #expect(text.contains("```swift\n" + InitTemplates.workerMain + "```"), "README.md's Worker differs from InitTemplates.workerMain")
    }
}
