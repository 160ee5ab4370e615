import ArgumentParser
import BerthAPI
import BerthCore
import Foundation

struct DeploymentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments",
        abstract: "The deployments of the running server.",
        subcommands: [DeploymentsListCommand.self]
    )
}

struct DeploymentsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List deployments, newest first; * marks the one serving.")

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        do {
            let views: [DeploymentView] = try await selection.client().get("/api/deployments")
            if json { return print(try jsonText(views)) }
            var table = Table(header: ["ID", "CREATED", "SOURCE", "ROLLOUT", "STATUS", "IMAGES"])
            for view in views {
                let status = view.progress.state.rawValue + (view.progress.total > 0 ? " (\(view.progress.replaced)/\(view.progress.total))" : "")
                table.rows.append([
                    (view.current ? "* " : "  ") + view.id, formatDate(view.createdAt),
                    view.source + (view.rollbackOf.map { " of \($0)" } ?? ""), view.rollout.rawValue, status,
                    view.images.sorted { $0.key < $1.key }.map(\.value).joined(separator: ", "),
                ])
            }
            print(table.render())
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Deploy an earlier deployment's configuration and images again.",
        discussion: "Without DEPLOYMENT, the newest deployment whose content differs from the current one. The rollback is a new deployment; running instances roll over as for a deploy."
    )

    @Argument(help: "The deployment to return to (an id or a unique prefix).")
    var deployment: String?

    @Option(name: .customLong("containers-rollout"), help: "immediate, gradual or none (default: the target deployment's).")
    var rollout: RolloutMode?

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print the new deployment as JSON.")
    var json = false

    struct Body: Encodable {
        var deployment: String?
        var rollout: RolloutMode?
    }

    func run() async throws {
        do {
            let admin = try selection.client()
            let view: DeploymentView = try await admin.post("/api/rollback", Body(deployment: deployment, rollout: rollout))
            let final = json ? view : try await followRollout(view, admin: admin, say: printLine)
            if json { return print(try jsonText(final)) }
            printLine("Rolled back: deployment \(final.id) serves the content of \(final.rollbackOf ?? "?")")
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

/// `2026-11-29 05:20:21` in local time: what people read in a table.
func formatDate(_ date: Date?) -> String {
    guard let date else { return "-" }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: date)
}
