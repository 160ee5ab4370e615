import BerthCore
import Foundation

/// Turns a parsed configuration tree into a ``ProjectConfig``, applying every rule wrangler
/// applies to containers and collecting errors and warnings with their positions.
struct ConfigValidator {
    let file: String
    let folder: String
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(file: String, folder: String) {
        self.file = file
        self.folder = folder
    }

    /// Top-level keys of a Wrangler configuration. Berth reads a few of them; the others are
    /// accepted silently so that a Cloudflare project loads unchanged.
    static let wranglerKeys: Set<String> = [
        "$schema", "name", "main", "compatibility_date", "compatibility_flags", "account_id", "workers_dev",
        "preview_urls", "route", "routes", "vars", "durable_objects", "migrations", "containers", "env",
        "kv_namespaces", "r2_buckets", "d1_databases", "queues", "services", "vectorize", "hyperdrive", "ai",
        "browser", "analytics_engine_datasets", "dispatch_namespaces", "mtls_certificates", "send_email",
        "tail_consumers", "workflows", "assets", "site", "build", "dev", "observability", "placement",
        "limits", "triggers", "logpush", "minify", "keep_vars", "no_bundle", "node_compat", "rules",
        "upload_source_maps", "usage_model", "version_metadata", "unsafe", "wasm_modules", "text_blobs",
        "data_blobs", "secrets_store_secrets", "pipelines", "images", "alias", "define", "jsx_factory",
        "jsx_fragment", "find_additional_modules", "base_dir", "preserve_file_names", "tsconfig",
        "legacy_env", "logfwdr", "first_party_worker", "zone_id", "unsafe_hello_world", "ratelimits",
        "streaming_tail_consumers", "secrets", "worker_loaders", "vpc_services",
    ]

    static let containerKeys: Set<String> = [
        "name", "class_name", "image", "image_build_context", "image_vars", "max_instances", "instance_type",
        "rollout_step_percentage", "rollout_active_grace_period", "rollout_kind", "scheduling_policy",
        "constraints", "affinities", "observability", "configuration", "durable_objects", "wrangler_ssh",
        "authorized_keys", "trusted_user_ca_keys",
    ]

    static let berthKeys: Set<String> = [
        "port", "ip", "admin_port", "admin_ip", "state_dir", "instance_get_timeout", "port_ready_timeout",
        "stop_grace_period", "classes", "routes", "limits",
        "max_concurrent_starts",
        "retention",
        "tls",
        "websockets",
    ]

    static let limitKeys = Set(LimitSettings.documented.map(\.key))
    static let retentionKeys = Set(RetentionSettings.documented.map(\.key))
    static let webSocketKeys = Set(WebSocketSettings.documented.map(\.key))

    static let rolloutSteps = [5, 10, 20, 25, 50, 100]

    // MARK: Entry

    mutating func validate(_ root: ConfigNode) -> ProjectConfig? {
        guard case .object(let members) = root.value else {
            error(root, "", "the configuration must be an object ({ … }), found \(root.kindDescription)")
            return nil
        }
        for member in members where !Self.wranglerKeys.contains(member.key) && member.key != "berth" {
            warning(at: member.keyPosition, member.key, "unknown key; Berth and wrangler ignore it (check the spelling)")
        }

        let folderName = URL(fileURLWithPath: folder).lastPathComponent
        let name = root["name"].flatMap { string($0, "name") } ?? folderName
        let main = root["main"].flatMap { string($0, "main") }
        let compatibilityDate = root["compatibility_date"].flatMap { string($0, "compatibility_date") }
        let vars = root["vars"].map { readVars($0) } ?? [:]
        let (storage, deletedClasses) = root["migrations"].map { readMigrations($0) } ?? ([:], [])
        let bindings = root["durable_objects"].map { readDurableObjects($0, storage: storage) } ?? []
        let containers = root["containers"].map { readContainers($0, worker: name, bindings: bindings, storage: storage) } ?? []
        var berth = root["berth"].map { readBerth($0) } ?? BerthSettings()
        if let node = root["berth"]?["classes"] { berth.classes = readClasses(node, containers: containers) }
        if let node = root["berth"]?["routes"] { berth.routes = readRoutes(node, bindings: bindings, containers: containers) }

        guard !diagnostics.contains(where: { $0.severity == .error }) else { return nil }
        return ProjectConfig(
            file: file, folder: folder, name: name, main: main, compatibilityDate: compatibilityDate, vars: vars,
            durableObjects: bindings, containers: containers, berth: berth, deletedClasses: deletedClasses.isEmpty ? nil : deletedClasses
        )
    }

    // MARK: Diagnostics

    mutating func error(_ node: ConfigNode, _ path: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(.error, file: file, at: node.position, path: path, message: message))
    }

    mutating func error(at position: SourcePosition, _ path: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(.error, file: file, at: position, path: path, message: message))
    }

    mutating func warning(at position: SourcePosition, _ path: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(.warning, file: file, at: position, path: path, message: message))
    }

    // MARK: Typed readers

    mutating func object(_ node: ConfigNode, _ path: String, known: Set<String>? = nil) -> [ConfigNode.Member]? {
        guard case .object(let members) = node.value else {
            error(node, path, "must be an object ({ … }), found \(node.kindDescription) \(node.shortDescription)")
            return nil
        }
        if let known {
            for member in members where !known.contains(member.key) {
                let hint = TextSimilarity.closest(member.key, in: known).map { "; did you mean \"\($0)\"?" } ?? "; it is ignored"
                warning(at: member.keyPosition, join(path, member.key), "unknown key\(hint)")
            }
        }
        return members
    }

    mutating func array(_ node: ConfigNode, _ path: String) -> [ConfigNode]? {
        guard case .array(let items) = node.value else {
            error(node, path, "must be an array ([ … ]), found \(node.kindDescription) \(node.shortDescription)")
            return nil
        }
        return items
    }

    mutating func string(_ node: ConfigNode, _ path: String, nonEmpty: Bool = true) -> String? {
        guard case .string(let text) = node.value else {
            error(node, path, "must be a string, found \(node.kindDescription) \(node.shortDescription)")
            return nil
        }
        if nonEmpty && text.trimmingWhitespace().isEmpty {
            error(node, path, "must not be empty")
            return nil
        }
        return text
    }

    mutating func integer(_ node: ConfigNode, _ path: String, range: ClosedRange<Int>) -> Int? {
        let value: Int
        switch node.value {
        case .integer(let i): value = i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: value = Int(d)
        case .double(let d):
            error(node, path, "must be a whole number, found \(d)")
            return nil
        default:
            error(node, path, "must be a whole number, found \(node.kindDescription) \(node.shortDescription)")
            return nil
        }
        guard range.contains(value) else {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            error(node, path, "must be \(bound), found \(value)")
            return nil
        }
        return value
    }

    mutating func number(_ node: ConfigNode, _ path: String) -> Double? {
        switch node.value {
        case .integer(let i): return Double(i)
        case .double(let d): return d
        default:
            error(node, path, "must be a number, found \(node.kindDescription) \(node.shortDescription)")
            return nil
        }
    }

    mutating func duration(_ node: ConfigNode, _ path: String) -> Duration? {
        switch node.value {
        case .integer(let seconds) where seconds >= 0: return .seconds(seconds)
        case .double(let seconds) where seconds >= 0: return .milliseconds(Int64(seconds * 1000))
        case .string(let text):
            if let value = DurationText.parse(text) { return value }
        default: break
        }
        error(node, path, "must be a duration: seconds as a number, or a string like \"500ms\", \"30s\", \"10m\", \"1h\"; found \(node.shortDescription)")
        return nil
    }

    func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }
}
