import ArgumentParser
import BerthAPI
import BerthCore
import Foundation

struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "The running server's secrets: environment variables of every container, and env.secrets of the Worker.",
        discussion: """
            Secrets live in the server's state folder (secrets.json, mode 0600) and are never \
            printed by Berth. A change deploys the current content again (source "secret"), so \
            running instances roll over as for a deploy. A name is either a var (vars, env_vars) \
            or a secret, never both.
            """,
        subcommands: [SecretPutCommand.self, SecretListCommand.self, SecretDeleteCommand.self]
    )
}

struct SecretPutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a secret; its value is read from standard input.",
        discussion: "One trailing newline is dropped, so `echo \"$VALUE\" | berth secret put NAME` stores $VALUE. An empty value is an error."
    )

    @OptionGroup var change: SecretChangeOptions

    func run() async throws {
        try await change.run(done: "stored") { name, admin throws(BerthError) in
            if isatty(STDIN_FILENO) == 1 { printError("Enter the value of \(name), then Ctrl-D:") }
            let value = try Self.readValue(FileHandle.standardInput)
            try SecretName.validate(value: value)
            return try await admin.post("/api/secrets", SecretPutRequest(name: name, value: value))
        }
    }

    /// Standard input up to one byte past the limit, without one trailing newline.
    static func readValue(_ input: FileHandle) throws(BerthError) -> String {
        var data = Data()
        while data.count <= SecretName.maxValueBytes {
            let chunk = input.readData(ofLength: SecretName.maxValueBytes + 1 - data.count)
            if chunk.isEmpty { break }
            data.append(chunk)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw BerthError(.invalidInput, "the secret's value is not UTF-8 text") }
        if text.hasSuffix("\r\n") { return String(text.dropLast(2)) }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}

struct SecretListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the secrets' names and when each was set (never their values).")

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        do {
            let views: [SecretView] = try await selection.client().get("/api/secrets")
            if json { return print(try jsonText(views)) }
            if views.isEmpty { return print("No secrets. Add one with `berth secret put NAME` (the value on standard input).") }
            var table = Table(header: ["NAME", "UPDATED"])
            table.rows = views.map { [$0.name, formatDate($0.updatedAt)] }
            print(table.render())
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct SecretDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a secret.")

    @OptionGroup var change: SecretChangeOptions

    func run() async throws {
        try await change.run(done: "deleted") { name, admin throws(BerthError) in
            try await admin.delete("/api/secrets/" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name))
        }
    }
}

/// What `put` and `delete` share: the name (checked before anything is sent), the server,
/// and how the change is reported.
struct SecretChangeOptions: ParsableArguments {
    @Argument(help: "The secret's name: letters, digits and '_' (an environment variable's name).")
    var name: String

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run(done: String, _ send: (String, AdminClient) async throws(BerthError) -> SecretChange) async throws {
        do {
            try SecretName.validate(name)
            let change = try await send(name, try selection.client())
            if json { return print(try jsonText(change)) }
            printLine("Secret \(name) \(done)" + (change.deployment.map { "; deployment \($0) carries the change to the containers" } ?? ""))
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}
