import BerthConfig
import Foundation
import Testing

@Suite("The image of a container")
struct ImageRulesTests {
    func image(_ value: String, extra: String = "", files: [String: String] = [:], dockerfile: Bool = true) throws -> (ConfigReport, String) {
        let text = config(container: #"{ "class_name": "MyContainer", "image": \#(value)\#(extra) }"#)
        return (try load(text, extraFiles: files, dockerfile: dockerfile), text)
    }

    @Test("a folder holding a Dockerfile builds with the folder as context")
    func folder() throws {
        let (report, _) = try image(#""./app""#, files: ["app/Dockerfile": "FROM scratch\n"])
        let config = try report.get()
        guard case .dockerfile(let path, let context) = config.containers[0].image else {
            Issue.record("not a Dockerfile image")
            return
        }
        #expect(path == config.folder + "/app/Dockerfile")
        #expect(context == config.folder + "/app")
    }

    @Test("image_build_context overrides the Dockerfile's folder")
    func buildContext() throws {
        let (report, _) = try image(#""./docker/App.dockerfile""#, extra: #", "image_build_context": ".", "image_vars": { "VERSION": "1.2" }"#,
                                    files: ["docker/App.dockerfile": "FROM scratch\n"])
        let config = try report.get()
        #expect(config.containers[0].image == .dockerfile(path: config.folder + "/docker/App.dockerfile", context: config.folder))
        #expect(config.containers[0].imageVars == ["VERSION": "1.2"])
    }

    @Test("image references are used as they are", arguments: [
        "registry.example.com/team/app:1.0", "localhost:5000/app", "app:latest", "docker.io/library/busybox",
        "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ])
    func reference(value: String) throws {
        let (report, _) = try image("\"\(value)\"")
        #expect(try report.get().containers[0].image == .reference(value))
    }

    @Test("a missing Dockerfile path is an error naming where Berth looked")
    func missingPath() throws {
        let (report, text) = try image(#""./missing/Dockerfile""#)
        let error = try onlyError(report)
        expectDiagnostic(error, at: #""./missing/Dockerfile""#, in: text, path: "containers[0].image", mentions: ["does not exist", "/missing/Dockerfile"])
    }

    @Test("a folder without a Dockerfile is an error")
    func folderWithoutDockerfile() throws {
        let (report, text) = try image(#""./empty""#, files: ["empty/readme.txt": "x"])
        let error = try onlyError(report)
        expectDiagnostic(error, at: #""./empty""#, in: text, path: "containers[0].image", mentions: ["holds no Dockerfile"])
    }

    @Test("something that is neither a path nor a reference is an error", arguments: ["Not A Reference!", "UPPER/case"])
    func invalidReference(value: String) throws {
        let (report, text) = try image("\"\(value)\"")
        let error = try onlyError(report)
        expectDiagnostic(error, at: "\"\(value)\"", in: text, path: "containers[0].image", mentions: ["image reference"])
    }

    @Test("image_build_context must be a folder")
    func badContext() throws {
        let (report, text) = try image(#""./Dockerfile""#, extra: #", "image_build_context": "./nope""#)
        let error = try onlyError(report)
        expectDiagnostic(error, at: #""./nope""#, in: text, path: "containers[0].image_build_context", mentions: ["not a folder"])
    }

    @Test("image_build_context with a registry image is ignored with a warning")
    func contextWithReference() throws {
        let (report, _) = try image(#""app:1""#, extra: #", "image_build_context": ".""#)
        #expect(report.config != nil)
        #expect(report.warnings.map(\.path) == ["containers[0].image_build_context"])
    }

    @Test("image_vars values must be strings")
    func imageVarsTypes() throws {
        let (report, text) = try image(#""./Dockerfile""#, extra: #", "image_vars": { "A": "x", "B": 2 }"#)
        let error = try onlyError(report)
        expectDiagnostic(error, at: "2 }", in: text, path: "containers[0].image_vars.B", mentions: ["string"])
    }
}

@Suite("Berth's own settings")
struct BerthSettingsTests {
    @Test("settings under \"berth\" are read and validated")
    func valid() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#,
                          extra: #", "berth": { "port": 9000, "admin_port": 0, "ip": "0.0.0.0", "state_dir": "state", "instance_get_timeout": "30s", "port_ready_timeout": 45, "stop_grace_period": "1m30s" }"#)
        let report = try load(text)
        let berth = try report.get().berth
        #expect(berth.port == 9000)
        #expect(berth.adminPort == 0)
        #expect(berth.ip == "0.0.0.0")
        #expect(berth.stateDir == "state")
        #expect(berth.instanceGetTimeout == .seconds(30))
        #expect(berth.portReadyTimeout == .seconds(45))
        #expect(berth.stopGracePeriod == .seconds(90))
        #expect(report.warnings.isEmpty)
    }

    @Test("invalid settings point at the value", arguments: [
        (#""port": 70000"#, "70000", "berth.port", "between 0 and 65535"),
        (#""ip": "localhost:80""#, #""localhost:80""#, "berth.ip", "not an IP address"),
        (#""stop_grace_period": "soon""#, #""soon""#, "berth.stop_grace_period", "duration"),
        (#""state_dir": 3"#, "3", "berth.state_dir", "string"),
    ])
    func invalid(setting: String, needle: String, path: String, words: String) throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#, extra: #", "berth": { \#(setting) }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: needle, in: text, path: path, mentions: [words])
    }

    @Test("an admin address beyond loopback is a warning; unknown berth keys too")
    func warnings() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#, extra: #", "berth": { "admin_ip": "0.0.0.0", "prot": 1 }"#)
        let report = try load(text)
        #expect(report.config != nil)
        #expect(report.warnings.map(\.path).sorted() == ["berth.admin_ip", "berth.prot"])
        #expect(report.warnings.contains { $0.message.contains(#"did you mean "port"?"#) })
    }
}

@Suite("Finding the configuration file")
struct ConfigFileTests {
    @Test("berth.jsonc wins over wrangler.jsonc, which is then reported as ignored")
    func precedence() throws {
        let project = try TempProject(files: [
            "wrangler.jsonc": seedConfiguration,
            "berth.jsonc": seedConfiguration.replacingOccurrences(of: #""max_instances": 10"#, with: #""max_instances": 3"#),
        ])
        defer { project.remove() }
        let report = ConfigLoader.load(folder: project.folder)
        #expect(try report.get().containers[0].maxInstances == 3)
        #expect(report.warnings.count == 1)
        #expect(report.warnings.first?.file.hasSuffix("wrangler.jsonc") == true)
    }

    @Test("a folder without a configuration says which files it looked for")
    func missing() throws {
        let project = try TempProject()
        defer { project.remove() }
        let report = ConfigLoader.load(folder: project.folder)
        let error = try onlyError(report)
        #expect(error.message.contains("wrangler.jsonc"))
        #expect(error.message.contains("wrangler.toml"))
    }

    @Test("messages name the file as the user gave the folder")
    func displayPath() throws {
        let project = try TempProject(files: ["wrangler.jsonc": "{ \"containers\": 5 }"])
        defer { project.remove() }
        let previous = FileManager.default.currentDirectoryPath
        let report = ConfigLoader.load(folder: project.folder)
        #expect(report.errors.first?.file == project.folder + "/wrangler.jsonc")
        #expect(report.errors.first?.description == "\(project.folder)/wrangler.jsonc:1:17: containers: must be an array ([ … ]), found an integer 5")
        _ = previous
    }
}
