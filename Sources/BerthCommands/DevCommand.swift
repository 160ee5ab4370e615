import ArgumentParser
import BerthConfig
import BerthCore
import BerthServer
import DockerEngine
import Foundation
import Logging

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Build a project's images and serve it locally until Ctrl-C.",
        discussion: """
            Loads the configuration, builds every container image through the engine (cached \
            layers), and serves the Worker's routes. Each Durable Object starts its container on \
            its first request and stops it after sleepAfter of idleness. On Ctrl-C or SIGTERM, \
            requests in flight finish, then every container is stopped (SIGTERM, grace, SIGKILL) \
            and removed.
            """
    )

    @Argument(help: "The project folder.", completion: .directory)
    var folder: String = "."

    @Option(help: "Gateway port (default: berth.port, else 8787; 0 picks a free one).")
    var port: Int?

    @Option(help: "Gateway address (default: berth.ip, else 127.0.0.1).")
    var ip: String?

    func run() async throws {
        let report = ConfigLoader.load(folder: folder)
        for diagnostic in report.diagnostics { printError(diagnostic.description) }
        guard let config = report.config else {
            printError("the configuration has errors; fix them and run again")
            throw ExitStatus.failure
        }
        let logger = Logger(label: "berth")
        var server = ProjectServer(config: config, host: ip ?? config.berth.ip, port: port ?? config.berth.port, logger: logger)
        if isatty(0) == 1 {
            server.rebuilds = Self.rebuildRequests()
            printLine("Press r and Enter to rebuild the images.")
        }
        do {
            try await DockerClient.with(logger: logger) { client in
                try await server.run(client: client, say: printLine)
            }
        } catch let error as BerthError {
            throw fail(error)
        } catch {
            let text = "\(error)"
            if text.contains("Address already in use") {
                printError("error: cannot listen on \(server.host):\(server.port): the address is in use; stop what uses it, or pick another port with --port")
            } else {
                printError("error: \(text)")
            }
            throw ExitStatus.failure
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
