import ArgumentParser
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import Logging

extension RolloutMode: ExpressibleByArgument {}

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Build a project's images and deploy them to the running Berth server.",
        discussion: """
            Builds every container image through the engine (cached layers: with nothing changed, \
            nothing is rebuilt), tags it berth.local/<app>/<container>:<deployment>, pushes it when \
            --registry is given, and registers the deployment with the server. Routes and Worker \
            settings switch at once and new instances use the new images at once; running \
            instances roll over per --containers-rollout: gradual (in the steps of \
            rollout_step_percentage, default), immediate, or none.
            """
    )

    @Argument(help: "The project folder.", completion: .directory)
    var folder: String = "."

    @Option(name: .customLong("containers-rollout"), help: "How running instances move to the new version: immediate, gradual or none.")
    var rollout: RolloutMode = .gradual

    @Option(help: "Also push the images to this OCI registry (HOST:PORT); credentials from BERTH_REGISTRY_USERNAME and BERTH_REGISTRY_PASSWORD.")
    var registry: String?

    @Option(help: "The admin API's URL (default: from the folder's .berth/server.json).")
    var server: String?

    @Option(help: "The admin token (default: the folder's .berth/admin-token, or BERTH_TOKEN).")
    var token: String?

    @Option(help: "A PEM file of the CA that signed an https server's certificate, trusted besides the system's (default: BERTH_CA).", completion: .file())
    var ca: String?

    @Flag(name: .customLong("no-wait"), help: "Return once the deployment is registered, without following the rollout.")
    var noWait = false

    @Flag(help: "Print the deployment as JSON at the end (progress goes to standard error).")
    var json = false

    func run() async throws {
        let started = ContinuousClock.now
        let report = ConfigLoader.load(folder: folder)
        for diagnostic in report.diagnostics { printError(diagnostic.description) }
        guard let config = report.config else {
            printError("the configuration has errors; fix them and run again")
            throw ExitStatus.failure
        }
        let toStandardError = json
        let say: @Sendable (String) -> Void = { toStandardError ? printError($0) : printLine($0) }
        var selection = ServerSelection()
        selection.server = server
        selection.token = token
        selection.ca = ca
        do {
            let admin = try selection.client(folder: folder)
            let info: ServerInfo = try await admin.get("/api/server")
            let id = Deployment.newID()
            say("Deploying \(config.name) as \(id) to \(info.adminURL)")
            let logger = Logger(label: "berth")
            let registry = self.registry
            let images = try await DockerClient.with(logger: logger) { client -> [String: BuiltImage] in
                let engine = DockerRuntime(client: client, logger: logger)
                let images = try await ImageBuilder(images: engine).buildAll(config, version: id, progress: ImageBuilder.printer(say))
                if let registry {
                    for (name, image) in images.sorted(by: { $0.key < $1.key }) {
                        let pushed = try await ImagePush.push(image.reference, registry: registry, images: engine, say: say)
                        say("[\(name)] pushed \(pushed)")
                    }
                }
                return images
            }
            for (name, image) in images.sorted(by: { $0.key < $1.key }) {
                say("[\(name)] image \(image.reference) (\(image.id.map { String($0.prefix(19)) } ?? "?"))")
            }
            let worker = try await Self.shipWorker(config, admin: admin, say: say)
            let deployment = Deployment(id: id, config: config, images: images, rollout: rollout, source: "deploy", worker: worker)
            var view: DeploymentView = try await admin.post("/api/deployments", deployment)
            say("Deployment \(view.id) is live: routes and new instances use it now")
            if !noWait {
                view = try await followRollout(view, admin: admin, say: say)
            }
            let elapsed = started.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            say(String(format: "Done in %.1f s", seconds))
            if json { print(try jsonText(view)) }
            if view.progress.state == .failed { throw ExitStatus.failure }
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

extension DeployCommand {
    /// Builds the project's Worker package in release (nil when it has none) and uploads the
    /// executable to the server, which keeps it by its SHA-256. The build folder is
    /// `BERTH_WORKER_BUILD_PATH`, else the project's `.berth/worker-build`.
    static func shipWorker(_ config: ProjectConfig, admin: AdminClient, say: @escaping @Sendable (String) -> Void) async throws(BerthError) -> WorkerBuild? {
        guard let folder = WorkerBuilder.packageFolder(config) else { return nil }
        let state = StateDirectory(folder: config.folder, stateDir: config.berth.stateDir)
        let scratch = WorkerBuilder.scratchPath(fallback: state.workerBuildPath)
        let store = NSTemporaryDirectory() + "berth-worker-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: store) }
        let build = try WorkerBuilder(scratchPath: scratch).build(folder, release: WorkerBuilder.release(default: true), store: store, say: say)
        guard let bytes = FileManager.default.contents(atPath: (store as NSString).appendingPathComponent(build.sha256)) else {
            throw BerthError(.internal, "the Worker build \(build.sha256) was not stored")
        }
        let _: [String: String] = try await admin.put("/api/workers/\(build.sha256)", bytes: bytes)
        say("[worker] uploaded \(build.product) (\(bytes.count / 1024) KiB)")
        return build
    }
}

/// Prints a deployment's rollout steps until it finishes (`deploy`, `rollback`).
func followRollout(_ start: DeploymentView, admin: AdminClient, say: @Sendable (String) -> Void) async throws(BerthError) -> DeploymentView {
    var view = start
    var last = ""
    while true {
        let progress = view.progress
        let line: String = switch progress.state {
        case .pending: "rollout: waiting"
        case .skipped: "rollout: none; running instances keep their version until they stop"
        case .done where progress.total == 0: "rollout: no running instance to replace"
        default:
            "rollout \(progress.state.rawValue): step \(progress.step)/\(max(progress.steps.count, 1))"
                + (progress.steps.isEmpty ? "" : " (\(progress.steps.map { "\($0)%" }.joined(separator: ", ")))")
                + ", \(progress.replaced) of \(progress.total) instance(s) replaced"
                + (progress.message.map { ": \($0)" } ?? "")
        }
        if line != last { say(line); last = line }
        if progress.isFinished { return view }
        try? await Task.sleep(for: .milliseconds(200))
        view = try await admin.get("/api/deployments/\(view.id)")
    }
}
