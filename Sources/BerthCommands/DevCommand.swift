import ArgumentParser
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import DockerEngine
import Foundation
import Logging

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Build a project's images, deploy them to a server of its own, and serve until Ctrl-C.",
        discussion: """
            `berth serve` plus `berth deploy` of the folder: loads the configuration, builds every \
            container image through the engine (cached layers), and serves the Worker's routes and \
            the admin API. Each Durable Object starts its container on its first request and stops \
            it after sleepAfter of idleness. r + Enter rebuilds and redeploys. On Ctrl-C or \
            SIGTERM, requests in flight finish, then every container is stopped (SIGTERM, grace, \
            SIGKILL) and removed.
            """
    )

    @Argument(help: "The project folder.", completion: .directory)
    var folder: String = "."

    @OptionGroup var listen: ListenOptions

    func run() async throws {
        let report = ConfigLoader.load(folder: folder)
        for diagnostic in report.diagnostics { printError(diagnostic.description) }
        guard let config = report.config else {
            printError("the configuration has errors; fix them and run again")
            throw ExitStatus.failure
        }
        let logger = Logger(label: "berth")
        let options = listen.options(folder: folder, settings: config.berth)
        var server = ProjectServer(config: config, host: options.host, port: options.port, logger: logger)
        server.adminHost = options.adminHost
        server.adminPort = options.adminPort
        server.stateDirectory = options.state
        server.publicMetrics = options.publicMetrics
        if isatty(0) == 1 {
            server.rebuilds = Self.rebuildRequests()
            printLine("Press r and Enter to rebuild the images.")
        }
        try await runServer(options: options) {
            try await DockerClient.with(logger: logger) { client in
                try await server.run(engine: DockerRuntime(client: client, logger: logger), say: printLine)
            }
        }
    }
}

extension DevCommand {
    /// "r" + Enter on the terminal, as a stream; reading happens on a thread of its own.
    static func rebuildRequests() -> AsyncStream<Void> {
        AsyncStream { continuation in
            let thread = Thread {
                while let line = readLine() {
                    if line.trimmingCharacters(in: .whitespaces).lowercased() == "r" { continuation.yield() }
                }
                continuation.finish()
            }
            thread.start()
        }
    }
}
