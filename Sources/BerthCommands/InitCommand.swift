import ArgumentParser
import BerthCore
import Foundation

/// What serves a new project's requests before they reach a container.
enum WorkerKind: String, CaseIterable, ExpressibleByArgument {
    /// Zero-code routes in `wrangler.jsonc` (`berth.routes`).
    case routes
    /// A Worker package in Swift, besides the routes project.
    case swift
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start a project: wrangler.jsonc, a Dockerfile and a small container server, ready for berth dev.",
        discussion: """
            Writes the counterpart of Cloudflare's containers template into FOLDER (made when \
            missing): wrangler.jsonc (the class MyContainer, its binding MY_CONTAINER, its \
            migration, and zero-code routes under "berth"), a FROM scratch Dockerfile, \
            container/server.c (a static HTTP server on port 8080), README.md, .gitignore and \
            .dockerignore, then builds the server with the C compiler (CC, else cc, gcc or \
            clang). It never replaces a file: when one it would write is there, it writes \
            nothing and names it.
            """
    )

    @Argument(help: "The project folder (made when missing).", completion: .directory)
    var folder: String = "."

    @Option(help: "What routes requests to containers: routes (zero-code routes in wrangler.jsonc) or swift (a Worker in Swift).")
    var worker: WorkerKind = .routes

    @Option(help: "The app's name (default: the folder's name, lowercased, other characters than a-z, 0-9 and - made -).")
    var name: String?

    func validate() throws {
        if folder.isEmpty { throw ValidationError("the folder must not be empty; give . for the current folder") }
        if let name, !ProjectName.isValid(name) {
            throw ValidationError("--name \"\(name)\" is not a name Berth can use: lowercase letters, digits and -, with no - at either end")
        }
    }

    func run() throws {
        do throws(BerthError) {
            let app = name ?? ProjectName.derived(fromFolder: folder)
            var files = InitTemplates.routesFiles(app: app)
            if worker == .swift { files += try swiftWorkerFiles(app: app) }
            let project = ProjectFiles(folder: folder, files: files)
            let conflicts = project.conflicts(others: [InitTemplates.serverBinary])
            guard conflicts.isEmpty else {
                throw BerthError(
                    .conflict,
                    "berth init writes nothing over what is there, and these are in the way: \(conflicts.joined(separator: ", ")); move them away, or pick another folder"
                )
            }
            for path in try project.write() { printLine("created \(path)") }
            try buildServer(project)
            printNextSteps(app: app)
        } catch {
            throw fail(error)
        }
    }

    /// Builds the container's server, or says how to when there is no compiler.
    private func buildServer(_ project: ProjectFiles) throws(BerthError) {
        guard let compiler = CCompiler.find() else {
            printError("warning: " + CCompiler.missing(folder: folder))
            return
        }
        try compiler.buildServer(in: folder)
        printLine("built \(project.shown(InitTemplates.serverBinary)) (\(InitTemplates.buildCommand(compiler: compiler.command)))")
    }

    private func printNextSteps(app: String) {
        let target = folder == "." ? "" : " " + ShellWord.quoted(folder)
        let steps = [
            ("berth dev\(target)", "build the image and serve \(app) on http://127.0.0.1:8787 until Ctrl-C"),
            ("curl http://127.0.0.1:8787/container/1", "a container starts for /container/1 and answers"),
            ("berth deploy\(target)", "deploy it to a running server (berth serve\(target))"),
        ]
        let width = steps.map(\.0.count).max() ?? 0
        printLine("")
        printLine("Next steps:")
        for (command, meaning) in steps {
            printLine("  " + command.padding(toLength: width, withPad: " ", startingAt: 0) + "   # " + meaning)
        }
    }
}
