import ArgumentParser
import BerthCore

/// The `berth` command line.
public struct BerthCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Run Cloudflare Containers projects on your own machine.",
        discussion: """
            Berth serves the Cloudflare Containers programming model locally: a Worker routes each \
            request to a Durable Object, which starts its own container on demand, proxies to it, \
            and stops it when idle. A project's wrangler.jsonc and Dockerfile work unchanged.

            Exit codes: 0 success, 1 failure (the message says why), 64 wrong usage, \
            3 the container engine or the Berth server cannot be reached, 4 the server refused the \
            admin token.
            """,
        version: BerthVersion.current,
        subcommands: [
            InitCommand.self, DevCommand.self, ServeCommand.self, DeployCommand.self, ContainersCommand.self, TailCommand.self,
            DeploymentsCommand.self, RollbackCommand.self, ConfigCommand.self, EngineCommand.self,
            SecretCommand.self,
            BackupCommand.self,
        ]
    )

    public init() {}
}

public enum BerthVersion {
    public static let current = "0.1.0"
}

extension BerthCommand {
    /// Parses the process arguments and runs the chosen command asynchronously.
    public static func runMain(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            // Servers log as their flags say; other commands only warnings and errors.
            if let configures = command as? any ConfiguresLogging {
                configures.bootstrapLogging()
            } else {
                LogSettings.bootstrap(format: .text, level: .warning)
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
