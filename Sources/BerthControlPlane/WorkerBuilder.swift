import BerthAPI
import BerthConfig
import BerthCore
import Crypto
import Foundation

/// Builds a project's Worker package with the Swift toolchain: `swift build` (debug for
/// `berth dev`, release for `berth deploy`) in a scratch folder kept between builds, its
/// output streamed; then asks the executable for its Container classes (`--berth-describe`)
/// and stores it by the SHA-256 of its content.
public struct WorkerBuilder: Sendable {
    /// SwiftPM's build folder (cached between builds; tests share one).
    public var scratchPath: String
    /// The `swift` driver: `BERTH_SWIFT`, else the first `swift` on `PATH`.
    public var swift: String?

    public init(scratchPath: String, swift: String? = WorkerBuilder.findSwift()) {
        self.scratchPath = scratchPath
        self.swift = swift
    }

    /// The Worker package of a project: where wrangler's `main` points (a folder with a
    /// `Package.swift`, or that file), else the project folder when it has a `Package.swift`;
    /// nil when the project has none (its routes serve).
    public static func packageFolder(_ config: ProjectConfig) -> String? {
        let fm = FileManager.default
        if let main = config.main {
            let path = main.hasPrefix("/") ? main : (config.folder as NSString).appendingPathComponent(main)
            let folder = (path as NSString).lastPathComponent == "Package.swift" ? (path as NSString).deletingLastPathComponent : path
            var isFolder: ObjCBool = false
            if fm.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
               fm.fileExists(atPath: (folder as NSString).appendingPathComponent("Package.swift")) {
                return (folder as NSString).standardizingPath
            }
        }
        let here = (config.folder as NSString).appendingPathComponent("Package.swift")
        return fm.fileExists(atPath: here) ? (config.folder as NSString).standardizingPath : nil
    }

    /// Whether to build in release: `BERTH_WORKER_CONFIGURATION` (`debug` or `release`) when
    /// set, else `release` (deploy's default; dev builds in debug).
    public static func release(default release: Bool) -> Bool {
        switch ProcessInfo.processInfo.environment["BERTH_WORKER_CONFIGURATION"] {
        case "debug": false
        case "release": true
        default: release
        }
    }

    /// The build folder: `BERTH_WORKER_BUILD_PATH` when set, else `fallback`.
    public static func scratchPath(fallback: String) -> String {
        ProcessInfo.processInfo.environment["BERTH_WORKER_BUILD_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }

    public static func findSwift() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let given = environment["BERTH_SWIFT"], !given.isEmpty { return given }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/swift"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Builds the package in `folder` and stores its executable in `store` (a folder):
    /// the deployment's record of it.
    public func build(_ folder: String, release: Bool, store: String, say: (String) -> Void) throws(BerthError) -> WorkerBuild {
        guard let swift else {
            throw BerthError(.buildFailed, "the project has a Worker package (\(folder)/Package.swift), and building it needs the Swift toolchain: put swift on PATH or set BERTH_SWIFT")
        }
        let configuration = release ? "release" : "debug"
        let common = ["--package-path", folder, "--scratch-path", scratchPath]
        // The SDK's packages come from beside it (its deps/ folder), never from a network; the
        // SDK itself is the one beside this berth (a project made by a berth installed
        // elsewhere, or since moved, still builds).
        var environment = ["SWIFTCI_USE_LOCAL_DEPS": "1"]
        // Without an SDK beside this berth, the package's own fallback path is the last hope;
        // a failed build then says why.
        var sdkProblem = ""
        do { environment["BERTH_SDK"] = try BerthSDK.locate() } catch { sdkProblem = "\n(" + error.message + ")" }
        let product: String
        do {
            product = try executableProduct(folder, swift: swift, common: common, environment: environment)
        } catch {
            throw BerthError(error.code, error.message + sdkProblem)
        }
        say("[worker] building \(product) (\(configuration)) in \(folder)")
        var tail: [String] = []
        let status = try ChildProcess.run(swift, ["build", "-c", configuration, "--product", product] + common, environment: environment) { line in
            say("[worker] " + line)
            tail.append(line)
            if tail.count > 40 { tail.removeFirst() }
        }
        guard status == 0 else {
            throw BerthError(.buildFailed, "building the Worker package \(folder) failed (swift build exited with \(status)); its last lines:\n" + tail.suffix(15).joined(separator: "\n") + sdkProblem)
        }
        let binPath = try output(swift, ["build", "-c", configuration, "--show-bin-path"] + common, environment: environment)
        let executable = (binPath.trimmingCharacters(in: .whitespacesAndNewlines) as NSString).appendingPathComponent(product)
        let described = try ChildProcess.run(executable, ["--berth-describe"])
        guard described.status == 0,
              let containers = try? JSONDecoder().decode(Described.self, from: Data(described.output)).containers
        else {
            throw BerthError(.buildFailed, "the Worker \(executable) did not describe itself (is its main `WorkerProcess.run(...)`?): \(String(decoding: described.errors, as: UTF8.self).prefix(500))")
        }
        let digest = try Self.store(executable, in: store)
        let size = (try? FileManager.default.attributesOfItem(atPath: executable)[.size] as? Int) ?? 0
        say("[worker] built \(product): \(digest.prefix(12)), \(size / 1024) KiB, classes: \(containers.keys.sorted().joined(separator: ", "))")
        return WorkerBuild(sha256: digest, product: product, configuration: configuration, sizeBytes: size, containers: containers)
    }

    private struct Described: Decodable {
        var containers: [String: ContainerProperties]
    }

    /// The package's one executable product.
    private func executableProduct(_ folder: String, swift: String, common: [String], environment: [String: String]) throws(BerthError) -> String {
        let text = try output(swift, ["package"] + common + ["dump-package"], environment: environment)
        guard let data = text.data(using: .utf8),
              let manifest = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let products = manifest["products"] as? [[String: Any]], let targets = manifest["targets"] as? [[String: Any]]
        else { throw BerthError(.buildFailed, "cannot read the Worker package's manifest \(folder)/Package.swift") }
        // Declared executable products, else the executable targets (SwiftPM makes a product of each).
        var executables = products.compactMap { product -> String? in
            guard let type = product["type"] as? [String: Any], type.keys.contains("executable") else { return nil }
            return product["name"] as? String
        }
        if executables.isEmpty {
            executables = targets.compactMap { target in target["type"] as? String == "executable" ? target["name"] as? String : nil }
        }
        guard executables.count == 1, let name = executables.first else {
            throw BerthError(.buildFailed, "the Worker package \(folder) must have exactly one executable product; it has \(executables.isEmpty ? "none" : executables.joined(separator: ", "))")
        }
        return name
    }

    private func output(_ program: String, _ arguments: [String], environment: [String: String]) throws(BerthError) -> String {
        var lines: [String] = []
        let status = try ChildProcess.run(program, arguments, environment: environment) { lines.append($0) }
        guard status == 0 else {
            throw BerthError(.buildFailed, "\(([program] + arguments).joined(separator: " ")) failed (\(status)): \(lines.suffix(10).joined(separator: "\n"))")
        }
        // SwiftPM writes progress lines before the answer; the answer is the JSON or path at the end.
        if let start = lines.firstIndex(where: { $0.hasPrefix("{") }) { return lines[start...].joined(separator: "\n") }
        return lines.last ?? ""
    }

    /// Copies `executable` into `folder` under the SHA-256 of its content (once); the digest.
    public static func store(_ executable: String, in folder: String) throws(BerthError) -> String {
        guard let data = FileManager.default.contents(atPath: executable) else {
            throw BerthError(.notFound, "the Worker executable \(executable) cannot be read")
        }
        return try store(data: data, in: folder)
    }

    /// Stores an executable's bytes under their SHA-256 (once); the digest.
    public static func store(data: Data, in folder: String) throws(BerthError) -> String {
        let digest = Hex.encode(SHA256.hash(data: data))
        let path = (folder as NSString).appendingPathComponent(digest)
        let fm = FileManager.default
        if fm.isExecutableFile(atPath: path) { return digest }
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let partial = path + ".partial-\(getpid())"
            guard fm.createFile(atPath: partial, contents: data, attributes: [.posixPermissions: 0o755]) else {
                throw BerthError(.internal, "cannot write \(partial)")
            }
            if rename(partial, path) != 0 { throw BerthError(.internal, "cannot move the Worker into \(path): \(String(cString: strerror(errno)))") }
        } catch {
            throw BerthError.wrap(error, "cannot store the Worker executable in \(folder)")
        }
        return digest
    }
}
