import Foundation

/// The Worker package `berth init --worker swift` writes: the containers template's Worker in
/// Swift, on the SDK installed beside `berth`.
extension InitTemplates {
    /// The package: one executable, `worker`, whose code is worker/main.swift.
    static func workerPackage(sdk: String) -> String {
        #"""
        // swift-tools-version: 6.1
        // The Worker of this project, in Swift: `berth dev` builds it (debug) and runs it as a
        // process of its own, `berth deploy` builds it in release and ships it with the images.
        // It depends on the Berth SDK installed beside berth, with no network: the one beside
        // the berth that builds it (which says so in BERTH_SDK), else the one beside the berth
        // that made the project (\#(sdk)).
        import PackageDescription

        let sdk = Context.environment["BERTH_SDK"].flatMap { $0.isEmpty ? nil : $0 } ?? "\#(sdk)"

        let package = Package(
            name: "worker",
            platforms: [.macOS(.v15)],
            dependencies: [.package(path: sdk)],
            targets: [
                .executableTarget(
                    name: "worker",
                    dependencies: [.product(name: "BerthWorker", package: String(sdk.split(separator: "/").last ?? "sdk").lowercased())],
                    path: "worker"
                )
            ],
            swiftLanguageModes: [.v6]
        )

        """#
    }

    /// The Worker: Cloudflare's template's routes, and its `MyContainer` class.
    static let workerMain = #"""
        // The Worker: every request to this project comes here first (`fetch`), and goes on to
        // a container through a Durable Object's stub. Edit it, then `berth dev` again (or r +
        // Enter in a running `berth dev`).
        import BerthWorker

        /// The container class: its settings, and hooks that run as its container starts and stops.
        struct MyContainer: Container {
            static let defaultPort: Int? = 8080
            static let sleepAfter: Duration = .seconds(120)
            static let envVars = ["MESSAGE": "I was passed in via the container class!"]
            let context: ContainerContext
            init(context: ContainerContext) { self.context = context }
            func onStart() async { context.log("Container successfully started") }
            func onStop(exitCode: Int, reason: StopReason) async { context.log("Container successfully shut down") }
            func onError(_ error: BerthError) async { context.log("Container error: \(error)") }
        }

        struct HelloWorker: Worker {
            func fetch(_ request: Request, env: Env) async throws -> Response {
                let path = request.pathname
                // /container/<id>: a container for each path.
                if path.hasPrefix("/container") {
                    let id = env["MY_CONTAINER"].idFromName(path)
                    return await env["MY_CONTAINER"].get(id).fetch(request)
                }
                // /lb: one of three containers, at random.
                if path.hasPrefix("/lb") { return await getRandom(env["MY_CONTAINER"], 3).fetch(request) }
                // /singleton: one container for every request.
                if path.hasPrefix("/singleton") { return await getContainer(env["MY_CONTAINER"]).fetch(request) }
                return .text("Call /container/<id> for a container of its own, /lb for one of three, /singleton for one shared.\n")
            }
        }

        try await WorkerProcess.run(HelloWorker(), containers: [MyContainer.self])

        """#
}
