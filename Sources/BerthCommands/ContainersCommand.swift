import ArgumentParser
import BerthAPI
import BerthCore
import Foundation

struct ContainersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "containers",
        abstract: "Container classes and their instances on the running server, and images.",
        subcommands: [
            ContainersListCommand.self, ContainersInfoCommand.self, ContainersInstancesCommand.self, ContainersDeleteCommand.self,
            ContainersBuildCommand.self, ContainersPushCommand.self, ImagesCommand.self,
        ]
    )
}

struct ContainersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List container classes: ID, NAME, STATE, LIVE INSTANCES, LAST MODIFIED.",
        discussion: "STATE is degraded if an instance failed, provisioning if one is starting, active if one runs, else ready."
    )

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        do {
            let views: [ContainerView] = try await selection.client().get("/api/containers")
            if json { return print(try jsonText(views)) }
            var table = Table(header: ["ID", "NAME", "STATE", "LIVE INSTANCES", "LAST MODIFIED"])
            for view in views {
                table.rows.append([String(view.id.prefix(12)), view.name, view.state.rawValue, "\(view.liveInstances)", formatDate(view.lastModified)])
            }
            print(table.render())
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct ContainersInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show one container class.")

    @Argument(help: "Its ID (or a prefix of at least 4 characters), its name or its class name.")
    var container: String

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        do {
            let view: ContainerView = try await selection.client().get("/api/containers/\(pathComponent(container))")
            if json { return print(try jsonText(view)) }
            let rows: [(String, String)] = [
                ("ID", view.id), ("NAME", view.name), ("CLASS", view.className), ("STATE", view.state.rawValue),
                ("LIVE INSTANCES", "\(view.liveInstances) of max \(view.maxInstances)"), ("FAILED INSTANCES", "\(view.failedInstances)"),
                ("IMAGE", view.image), ("VERSION", view.deploymentID), ("BINDINGS", view.bindings.joined(separator: ", ")),
                ("INSTANCE TYPE", view.instanceType), ("SLEEP AFTER", view.sleepAfter),
                ("DEFAULT PORT", view.defaultPort.map(String.init) ?? "-"), ("LAST MODIFIED", formatDate(view.lastModified)),
            ] + (view.disabled.map { [("DELETED", $0)] } ?? [])
            let width = rows.map(\.0.count).max() ?? 0
            for (key, value) in rows { print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct ContainersInstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instances",
        abstract: "List a container class's instances: INSTANCE, NAME, STATE, LOCATION, VERSION, CREATED."
    )

    @Argument(help: "Its ID (or a prefix), its name or its class name.")
    var container: String

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        do {
            let views: [InstanceView] = try await selection.client().get("/api/containers/\(pathComponent(container))/instances")
            if json { return print(try jsonText(views)) }
            var table = Table(header: ["INSTANCE", "NAME", "STATE", "LOCATION", "VERSION", "CREATED"])
            for view in views {
                table.rows.append([view.instance, view.name, view.state, view.location, view.version, formatDate(view.created)])
            }
            print(table.render())
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct ContainersDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Stop and remove every instance of a container class; its requests then fail until the next deploy."
    )

    @Argument(help: "Its ID (or a prefix), its name or its class name.")
    var container: String

    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Also remove every object's storage (its SQLite database) and alarm. Without it they stay, and the next deploy of the class finds them again; with it, nothing brings them back.")
    var purge = false

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        do {
            let admin = try selection.client()
            let view: ContainerView = try await admin.get("/api/containers/\(pathComponent(container))")
            let question = purge
                ? "Delete container \(view.name), stop its \(view.liveInstances) live instance(s), and remove the storage and alarms of every \(view.className) object for good?"
                : "Delete container \(view.name) and stop its \(view.liveInstances) live instance(s)? (Its objects' storage stays.)"
            if !yes, try !confirm(question) {
                return printLine("Not deleted.")
            }
            let result: [String: String] = try await admin.delete("/api/containers/\(pathComponent(container))" + (purge ? "?purge=true" : ""))
            if json { return print(try jsonText(result)) }
            printLine("Deleted \(view.name): \(result["stopped_instances"] ?? "0") instance(s) stopped and removed")
            if purge {
                printLine("Removed the storage of \(result["purged_objects"] ?? "0") object(s) and \(result["purged_alarms"] ?? "0") alarm(s) of class \(view.className)")
            } else {
                printLine("The storage of its objects stays (berth containers delete --purge removes it)")
            }
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

/// Asks a yes/no question on the terminal (default no); without a terminal, says to pass -y.
func confirm(_ question: String) throws(BerthError) -> Bool {
    guard isatty(0) == 1 else {
        throw BerthError(.invalidInput, "this asks for confirmation and there is no terminal to ask on; pass -y to go ahead without asking")
    }
    FileHandle.standardOutput.write(Data("\(question) [y/N] ".utf8))
    return readLine().map { ["y", "yes"].contains($0.lowercased()) } ?? false
}

/// A path segment with everything but unreserved characters percent-encoded.
func pathComponent(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? text
}
