import ArgumentParser
import BerthConfig
import BerthCore
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect a project's configuration.",
        subcommands: [ConfigCheck.self]
    )
}

struct ConfigCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate wrangler.jsonc (or .json, .toml, berth.jsonc) and print it with defaults filled in.",
        discussion: """
            Applies the rules wrangler applies to containers and prints every problem as \
            FILE:LINE:COLUMN: KEY: MESSAGE. Exits 1 when there is an error; warnings alone do not fail.
            """
    )

    @Argument(help: "The project folder, or a configuration file.", completion: .directory)
    var folder: String = "."

    @Flag(help: "Print a JSON document instead of text.")
    var json = false

    func run() async throws {
        let report = ConfigLoader.load(folder: folder)
        if json {
            print(try jsonText(ConfigCheckOutput(report)))
        } else {
            for diagnostic in report.diagnostics { printError(diagnostic.description) }
            if let config = report.config { print(ConfigSummary.render(config)) }
        }
        if report.config == nil {
            if !json {
                let count = report.errors.count
                printError("\(count) error\(count == 1 ? "" : "s"); the configuration was not loaded")
            }
            throw ExitStatus.failure
        }
    }
}

/// The `--json` document of `berth config check`.
struct ConfigCheckOutput: Encodable {
    var ok: Bool
    var config: ProjectConfig?
    var errors: [ConfigDiagnostic]
    var warnings: [ConfigDiagnostic]

    init(_ report: ConfigReport) {
        ok = report.config != nil
        config = report.config
        errors = report.errors
        warnings = report.warnings
    }
}

/// The resolved configuration as text for people.
enum ConfigSummary {
    static func render(_ config: ProjectConfig) -> String {
        var lines = ["\(config.file): OK", "", "Worker  \(config.name)"]
        if let main = config.main { lines.append("  main                \(main)") }
        if let date = config.compatibilityDate { lines.append("  compatibility_date  \(date)") }
        for (key, value) in config.vars.sorted(by: { $0.key < $1.key }) {
            lines.append("  vars.\(key) = \(value)")
        }
        lines.append("")
        lines.append("Durable Object bindings")
        if config.durableObjects.isEmpty { lines.append("  (none)") }
        for binding in config.durableObjects {
            var line = "  \(binding.name) -> \(binding.className) (storage: \(binding.storage.rawValue))"
            if let script = binding.scriptName { line += " in Worker \(script)" }
            lines.append(line)
        }
        lines.append("")
        lines.append("Containers")
        if config.containers.isEmpty { lines.append("  (none)") }
        for container in config.containers {
            lines.append("  \(container.name)")
            lines.append("    class_name                   \(container.className)")
            lines.append("    bindings                     \(container.bindings.joined(separator: ", "))")
            switch container.image {
            case .dockerfile(let path, let context):
                lines.append("    image                        Dockerfile \(relative(path, to: config.folder))")
                lines.append("    image_build_context          \(relative(context, to: config.folder))")
            case .reference(let reference):
                lines.append("    image                        \(reference)")
            }
            for (key, value) in container.imageVars.sorted(by: { $0.key < $1.key }) {
                lines.append("    image_vars.\(key) = \(value)")
            }
            lines.append("    max_instances                \(container.maxInstances)")
            let type = container.instanceType
            lines.append("    instance_type                \(type.name) (\(formatCPU(type.vcpu)) vCPU, \(type.memoryMiB) MiB memory, \(type.diskMB) MB disk)")
            lines.append("    rollout_step_percentage      \(container.rolloutStepPercentage.map(String.init).joined(separator: ", "))")
            lines.append("    rollout_active_grace_period  \(container.rolloutActiveGracePeriod)s")
        }
        let berth = config.berth
        for (className, properties) in berth.classes.sorted(by: { $0.key < $1.key }) {
            lines.append("")
            lines.append("Class \(className)")
            lines.append("  default_port \(properties.defaultPort.map(String.init) ?? "(first EXPOSEd port)")")
            if !properties.requiredPorts.isEmpty {
                lines.append("  required_ports \(properties.requiredPorts.map(String.init).joined(separator: ", "))")
            }
            lines.append("  sleep_after \(DurationText.format(properties.sleepAfter))")
            for (key, value) in properties.envVars.sorted(by: { $0.key < $1.key }) { lines.append("  env_vars.\(key) = \(value)") }
            if let entrypoint = properties.entrypoint { lines.append("  entrypoint \(entrypoint.joined(separator: " "))") }
            lines.append("  enable_internet \(properties.enableInternet)")
            lines.append("  ping_endpoint \(properties.pingEndpoint)")
        }
        lines.append("")
        lines.append("Routes")
        if berth.routes.isEmpty {
            lines.append(config.containers.count == 1
                ? "  (none declared: the template's /container, /lb, /singleton and /error)"
                : "  (none declared)")
        }
        for route in berth.routes {
            lines.append("  \(route.prefix) -> \(route.binding), object by \(route.object)")
        }
        lines.append("")
        lines.append("Berth")
        lines.append("  gateway               \(Self.listener(berth.ip, berth.port, tls: berth.tls.gateway, folder: config.folder))")
        lines.append("  admin                 \(Self.listener(berth.adminIP, berth.adminPort, tls: berth.tls.admin, folder: config.folder))")
        lines.append("  state_dir             \(berth.stateDir)")
        lines.append("  instance_get_timeout  \(DurationText.format(berth.instanceGetTimeout))")
        lines.append("  port_ready_timeout    \(DurationText.format(berth.portReadyTimeout))")
        lines.append("  stop_grace_period     \(DurationText.format(berth.stopGracePeriod))")
        return lines.joined(separator: "\n")
    }

    static func relative(_ path: String, to folder: String) -> String {
        if path == folder { return "." }
        return path.hasPrefix(folder + "/") ? "./" + path.dropFirst(folder.count + 1) : path
    }

    /// `https://127.0.0.1:8443 (TLS: tls/a.crt, tls/b.crt)`, or `127.0.0.1:8787` without TLS.
    static func listener(_ host: String, _ port: Int, tls: [TLSCertificateFiles], folder: String) -> String {
        guard !tls.isEmpty else { return hostPort(host, port) }
        return "https://\(hostPort(host, port)) (TLS: \(tls.map { relative($0.cert, to: folder) }.joined(separator: ", ")))"
    }

    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func formatCPU(_ value: Double) -> String {
        let fractions: [Double: String] = [1.0 / 16: "1/16", 0.25: "1/4", 0.5: "1/2"]
        if let text = fractions[value] { return text }
        return value == value.rounded() ? String(Int(value)) : String(value)
    }
}
