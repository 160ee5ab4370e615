import BerthCore
import Foundation

extension ConfigValidator {
    static let classKeys: Set<String> = [
        "default_port", "required_ports", "sleep_after", "env_vars", "entrypoint", "enable_internet", "ping_endpoint", "labels",
        "crash_backoff",
        "pids_limit",
        "no_new_privileges",
        "cap_add",
        "read_only_root",
        "logs",
        "websocket_activity",
    ]

    /// `berth.classes`: Container class properties by class name.
    mutating func readClasses(_ node: ConfigNode, containers: [ContainerConfig]) -> [String: ClassSettings] {
        guard let members = object(node, "berth.classes") else { return [:] }
        var result: [String: ClassSettings] = [:]
        let known = Set(containers.map(\.className))
        for member in members {
            let path = "berth.classes.\(member.key)"
            guard known.contains(member.key) else {
                let hint = TextSimilarity.closest(member.key, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
                error(at: member.keyPosition, path, "no container has class_name \"\(member.key)\" (classes: \(known.sorted().joined(separator: ", ")))\(hint)")
                continue
            }
            guard object(member.value, path, known: Self.classKeys) != nil else { continue }
            var settings = ClassSettings()
            let node = member.value
            if let n = node["default_port"], let v = integer(n, join(path, "default_port"), range: 1...65535) { settings.defaultPort = v }
            if let n = node["required_ports"], let items = array(n, join(path, "required_ports")) {
                settings.requiredPorts = items.enumerated().compactMap { integer($1, "\(join(path, "required_ports"))[\($0)]", range: 1...65535) }
            }
            if let n = node["sleep_after"], let v = duration(n, join(path, "sleep_after")) { settings.sleepAfter = v }
            if let n = node["env_vars"] { settings.envVars = stringMap(n, join(path, "env_vars")) }
            if let n = node["labels"] { settings.labels = stringMap(n, join(path, "labels")) }
            if let n = node["entrypoint"], let items = array(n, join(path, "entrypoint")) {
                settings.entrypoint = items.enumerated().compactMap { string($1, "\(join(path, "entrypoint"))[\($0)]") }
            }
            if let n = node["enable_internet"] {
                if case .bool(let value) = n.value { settings.enableInternet = value } else {
                    error(n, join(path, "enable_internet"), "must be true or false, found \(n.shortDescription)")
                }
            }
            if let n = node["ping_endpoint"], let v = string(n, join(path, "ping_endpoint")) { settings.pingEndpoint = v }
            if let n = node["crash_backoff"] { settings.crashBackoff = readCrashBackoff(n, join(path, "crash_backoff")) }
            if let n = node["websocket_activity"], let v = string(n, join(path, "websocket_activity")) {
                if let activity = WebSocketActivity(rawValue: v) { settings.webSocketActivity = activity } else {
                    error(n, join(path, "websocket_activity"), "must be \"open\" (an open WebSocket keeps the object awake) or \"frames\" (only frames do), found \"\(v)\"")
                }
            }
            settings.isolation = readIsolation(node, path)
            result[member.key] = settings
        }
        return result
    }

    /// `crash_backoff`: `{ "initial": "1s", "max": "60s" }`, either key optional.
    mutating func readCrashBackoff(_ node: ConfigNode, _ path: String) -> CrashBackoff {
        var backoff = CrashBackoff()
        guard object(node, path, known: ["initial", "max"]) != nil else { return backoff }
        if let n = node["initial"], let v = duration(n, join(path, "initial")) {
            if v > .zero { backoff.initial = v } else { error(n, join(path, "initial"), "must be longer than 0s") }
        }
        // An initial wait longer than the default max, with no max given, is kept as it is.
        backoff.max = Swift.max(backoff.max, backoff.initial)
        if let n = node["max"], let v = duration(n, join(path, "max")) {
            if v >= backoff.initial {
                backoff.max = v
            } else {
                error(n, join(path, "max"), "must be at least initial (\(DurationText.format(backoff.initial)))")
            }
        }
        return backoff
    }

    /// `logs`: `{ "max_size": "10m", "max_files": 3 }`, either key optional.
    mutating func readLogs(_ node: ConfigNode, _ path: String) -> ContainerLogs {
        var logs = ContainerLogs()
        guard object(node, path, known: ["max_size", "max_files"]) != nil else { return logs }
        if let n = node["max_size"] {
            let sizePath = join(path, "max_size")
            var size: Int64?
            switch n.value {
            case .string(let text):
                size = ContainerLogs.parseSize(text)
                if size == nil { error(n, sizePath, "must be a size such as \"10m\", \"512k\" or \"1g\" (units of 1,024 bytes), found \(n.shortDescription)") }
            default:
                size = integer(n, sizePath, range: 0...Int.max).map(Int64.init)
            }
            if let size {
                if ContainerLogs.sizeRange.contains(size) { logs.maxSizeBytes = size } else {
                    error(n, sizePath, "must be between 1k and 10g, found \(n.shortDescription)")
                }
            }
        }
        if let n = node["max_files"], let v = integer(n, join(path, "max_files"), range: 1...100) { logs.maxFiles = v }
        return logs
    }

    /// `pids_limit`, `no_new_privileges`, `cap_add`, `read_only_root` and `logs` of one class.
    mutating func readIsolation(_ node: ConfigNode, _ path: String) -> ContainerIsolation {
        var isolation = ContainerIsolation()
        if let n = node["pids_limit"], let v = integer(n, join(path, "pids_limit"), range: 0...4_194_304) { isolation.pidsLimit = v }
        if let n = node["no_new_privileges"], let v = bool(n, join(path, "no_new_privileges")) { isolation.noNewPrivileges = v }
        if let n = node["read_only_root"], let v = bool(n, join(path, "read_only_root")) { isolation.readOnlyRoot = v }
        if let n = node["logs"] { isolation.logs = readLogs(n, join(path, "logs")) }
        if let n = node["cap_add"], let items = array(n, join(path, "cap_add")) {
            isolation.capAdd = items.enumerated().compactMap { i, item in
                let itemPath = "\(join(path, "cap_add"))[\(i)]"
                guard let text = string(item, itemPath) else { return nil }
                guard let name = ContainerIsolation.capabilityName(text) else {
                    let hint = TextSimilarity.closest(text.uppercased(), in: ContainerIsolation.capabilities).map { "; did you mean \"\($0)\"?" } ?? ""
                    error(item, itemPath, "\"\(text)\" is not a Linux capability (e.g. NET_BIND_SERVICE, see capabilities(7))\(hint)")
                    return nil
                }
                return name
            }
        }
        return isolation
    }

    mutating func bool(_ node: ConfigNode, _ path: String) -> Bool? {
        guard case .bool(let value) = node.value else {
            error(node, path, "must be true or false, found \(node.shortDescription)")
            return nil
        }
        return value
    }

    mutating func stringMap(_ node: ConfigNode, _ path: String) -> [String: String] {
        guard let members = object(node, path) else { return [:] }
        var result: [String: String] = [:]
        for member in members {
            if let value = string(member.value, "\(path).\(member.key)", nonEmpty: false) { result[member.key] = value }
        }
        return result
    }

    /// `berth.routes`: zero-code routes to container objects.
    mutating func readRoutes(_ node: ConfigNode, bindings: [DurableObjectBinding], containers: [ContainerConfig]) -> [RouteConfig] {
        guard let items = array(node, "berth.routes") else { return [] }
        let containerClasses = Set(containers.map(\.className))
        let usable = bindings.filter { $0.scriptName == nil && containerClasses.contains($0.className) }.map(\.name)
        var routes: [RouteConfig] = []
        for (i, item) in items.enumerated() {
            let path = "berth.routes[\(i)]"
            guard object(item, path, known: ["prefix", "binding", "object"]) != nil else { continue }
            guard let prefixNode = item["prefix"], let bindingNode = item["binding"] else {
                error(item, path, "a route needs \"prefix\" (e.g. \"/container\") and \"binding\" (e.g. \"MY_CONTAINER\")")
                continue
            }
            guard let prefix = string(prefixNode, join(path, "prefix")), let binding = string(bindingNode, join(path, "binding")) else { continue }
            guard prefix.hasPrefix("/") else {
                error(prefixNode, join(path, "prefix"), "must start with /, e.g. \"/container\"")
                continue
            }
            guard usable.contains(binding) else {
                let hint = TextSimilarity.closest(binding, in: usable).map { "; did you mean \"\($0)\"?" } ?? ""
                error(bindingNode, join(path, "binding"), "\"\(binding)\" is not a Durable Object binding of a container class (bindings: \(usable.sorted().joined(separator: ", ")))\(hint)")
                continue
            }
            var selector = ObjectSelector.path
            if let objectNode = item["object"], let text = string(objectNode, join(path, "object")) {
                guard let parsed = ObjectSelector(text) else {
                    error(objectNode, join(path, "object"), "\"\(text)\" is not an object selector; use path, rest, header:NAME, cookie:NAME, query:NAME, random:N, singleton or name:NAME")
                    continue
                }
                selector = parsed
            }
            routes.append(RouteConfig(prefix: prefix, binding: binding, object: selector))
        }
        return routes
    }
}
