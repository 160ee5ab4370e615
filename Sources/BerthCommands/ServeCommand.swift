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

/// Where the server listens; `serve` and `dev` take the same flags.
struct ListenOptions: ParsableArguments {
    @Option(help: "Gateway port (default: berth.port, else 8787; 0 picks a free one).")
    var port: Int?

    @Option(help: "Gateway address (default: berth.ip, else 127.0.0.1).")
    var ip: String?

    @Option(name: .customLong("admin-port"), help: "Admin API port (default: berth.admin_port, else 8788; 0 picks a free one).")
    var adminPort: Int?

    @Option(name: .customLong("admin-ip"), help: "Admin API address (default: berth.admin_ip, else 127.0.0.1).")
    var adminIP: String?

    @Option(name: .customLong("state-dir"), help: "The state folder (default: berth.state_dir, else .berth in the project folder).")
    var stateDir: String?

    @Flag(name: .customLong("public-metrics"), help: "Serve /metrics on the admin port without the token, for a Prometheus scraper.")
    var publicMetrics = false

    @OptionGroup var log: LogSettings

    func options(folder: String, settings: BerthSettings) -> ServerOptions {
        var options = ServerOptions(state: StateDirectory(folder: folder, stateDir: stateDir ?? settings.stateDir))
        options.host = ip ?? settings.ip
        options.port = port ?? settings.port
        options.adminHost = adminIP ?? settings.adminIP
        options.adminPort = adminPort ?? settings.adminPort
        options.publicMetrics = publicMetrics
        options.limits = settings.limits
        options.tls = settings.tls
        return options
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Berth platform: the gateway, the admin API, and the deployments made with `berth deploy`.",
        discussion: """
            State lives in the project's .berth/ folder: state.sqlite (deployments, instances, \
            events), admin-token (mode 0600, generated on first start; every admin route needs it \
            as a bearer token) and server.json (where the server listens, for the CLI). On start, \
            the last deployment serves again and running containers of this server are adopted by \
            their objects; orphans and stopped leftovers are removed. On SIGTERM or Ctrl-C the \
            gateway drains and containers keep running, so that the next start adopts them; \
            --stop-containers stops them instead. With berth.tls.gateway or berth.tls.admin in the \
            configuration that listener speaks HTTPS (HTTP/2 and HTTP/1.1), its certificate files read \
            again whenever they change.
            """
    )

    @Argument(help: "The project folder (its configuration is optional; its berth.* settings are defaults).", completion: .directory)
    var folder: String = "."

    @OptionGroup var listen: ListenOptions

    @Flag(name: .customLong("stop-containers"), help: "Stop and remove every container on shutdown.")
    var stopContainers = false

    func run() async throws {
        let report = ConfigLoader.load(folder: folder)
        let settings = report.config?.berth ?? BerthSettings()
        if report.config == nil, !report.errors.isEmpty, ConfigLoader.fileNames.contains(where: { FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent($0)) }) {
            for diagnostic in report.diagnostics { printError(diagnostic.description) }
            printError("the configuration has errors; fix them and run again")
            throw ExitStatus.failure
        }
        var options = listen.options(folder: folder, settings: settings)
        options.stopContainersOnExit = stopContainers
        let logger = Logger(label: "berth")
        let server = PlatformServer(options: options, logger: logger)
        try await runServer(options: options) {
            try await DockerClient.with(logger: logger) { client in
                try await server.run(engine: DockerRuntime(client: client, logger: logger), say: printLine)
            }
        }
    }
}

/// Runs a server, turning its failures into one line and an exit code.
func runServer(options: ServerOptions, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as BerthError {
        throw fail(error)
    } catch {
        let text = "\(error)"
        if text.contains("Address already in use") {
            // Say which listener could not bind: the one whose address is still taken.
            let busy = [(options.host, options.port, "--port"), (options.adminHost, options.adminPort, "--admin-port")]
                .first { !canBind(host: $0.0, port: $0.1) }
            if let (host, port, flag) = busy {
                printError("error: cannot listen on \(host):\(port): the address is in use; stop what uses it, or pick another port with \(flag)")
            } else {
                printError("error: cannot listen on \(options.host):\(options.port) or \(options.adminHost):\(options.adminPort): the address is in use; pick other ports with --port and --admin-port")
            }
        } else {
            printError("error: \(text)")
        }
        throw ExitStatus.failure
    }
}

/// Whether a TCP listener could bind `host:port` now (IPv4 and IPv6 literals, `localhost`).
func canBind(host: String, port: Int) -> Bool {
    guard port != 0 else { return true }
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE
    var result: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else { return true }
    defer { freeaddrinfo(result) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
    guard fd >= 0 else { return true }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    return bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
}
