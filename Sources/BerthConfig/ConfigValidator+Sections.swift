import BerthCore
import Foundation

extension ConfigValidator {
    // MARK: Sections

    mutating func readVars(_ node: ConfigNode) -> [String: String] {
        guard let members = object(node, "vars") else { return [:] }
        var vars: [String: String] = [:]
        for member in members {
            switch member.value.value {
            case .string(let text): vars[member.key] = text
            default: vars[member.key] = JSONText.render(member.value)
            }
        }
        return vars
    }

    /// The storage backend each class ends up with after all migrations, and where that was said.
    struct ClassStorage {
        var storage: DurableObjectBinding.Storage
        var position: SourcePosition
        var path: String
    }

    /// Each class's storage after every migration, and the classes the migrations deleted
    /// (whose objects' storage a deployment removes).
    mutating func readMigrations(_ node: ConfigNode) -> (storage: [String: ClassStorage], deleted: [String]) {
        var result: [String: ClassStorage] = [:]
        var deleted: Set<String> = []
        guard let migrations = array(node, "migrations") else { return (result, []) }
        var tags: Set<String> = []
        for (i, migration) in migrations.enumerated() {
            let path = "migrations[\(i)]"
            guard object(migration, path, known: [
                "tag", "new_classes", "new_sqlite_classes", "renamed_classes", "deleted_classes", "transferred_classes",
            ]) != nil else { continue }
            if let tagNode = migration["tag"] {
                if let tag = string(tagNode, join(path, "tag")), !tags.insert(tag).inserted {
                    error(tagNode, join(path, "tag"), "the tag \"\(tag)\" is used by an earlier migration; each migration needs its own tag")
                }
            } else {
                error(migration, path, "a migration needs a \"tag\", e.g. \"v1\"")
            }
            for (key, storage) in [("new_sqlite_classes", DurableObjectBinding.Storage.sqlite), ("new_classes", .keyValue)] {
                guard let listNode = migration[key], let list = array(listNode, join(path, key)) else { continue }
                for (j, item) in list.enumerated() {
                    let itemPath = "\(join(path, key))[\(j)]"
                    guard let className = string(item, itemPath) else { continue }
                    result[className] = ClassStorage(storage: storage, position: item.position, path: itemPath)
                    deleted.remove(className)
                }
            }
            if let listNode = migration["renamed_classes"], let list = array(listNode, join(path, "renamed_classes")) {
                for (j, item) in list.enumerated() {
                    let itemPath = "\(join(path, "renamed_classes"))[\(j)]"
                    guard object(item, itemPath, known: ["from", "to"]) != nil,
                        let fromNode = item["from"], let toNode = item["to"],
                        let from = string(fromNode, join(itemPath, "from")), let to = string(toNode, join(itemPath, "to"))
                    else {
                        if item["from"] == nil || item["to"] == nil {
                            error(item, itemPath, "a renamed class needs both \"from\" and \"to\"")
                        }
                        continue
                    }
                    if let previous = result.removeValue(forKey: from) { result[to] = previous }
                }
            }
            if let listNode = migration["deleted_classes"], let list = array(listNode, join(path, "deleted_classes")) {
                for (j, item) in list.enumerated() {
                    if let className = string(item, "\(join(path, "deleted_classes"))[\(j)]") {
                        result.removeValue(forKey: className)
                        deleted.insert(className)
                    }
                }
            }
        }
        return (result, deleted.sorted())
    }

    mutating func readDurableObjects(_ node: ConfigNode, storage: [String: ClassStorage]) -> [DurableObjectBinding] {
        guard object(node, "durable_objects", known: ["bindings"]) != nil else { return [] }
        guard let bindingsNode = node["bindings"], let items = array(bindingsNode, "durable_objects.bindings") else { return [] }
        var bindings: [DurableObjectBinding] = []
        var names: [String: String] = [:]
        for (i, item) in items.enumerated() {
            let path = "durable_objects.bindings[\(i)]"
            guard object(item, path, known: ["name", "class_name", "script_name", "environment"]) != nil else { continue }
            guard let nameNode = item["name"] else {
                error(item, path, "a binding needs a \"name\" (how the Worker reaches it in env, e.g. \"MY_CONTAINER\")")
                continue
            }
            guard let classNode = item["class_name"] else {
                error(item, path, "a binding needs a \"class_name\" (the Durable Object class, e.g. \"MyContainer\")")
                continue
            }
            guard let name = string(nameNode, join(path, "name")), let className = string(classNode, join(path, "class_name")) else {
                continue
            }
            if let first = names[name] {
                error(nameNode, join(path, "name"), "the binding name \"\(name)\" is already used by \(first); binding names must be unique")
                continue
            }
            names[name] = path
            let scriptName = item["script_name"].flatMap { string($0, join(path, "script_name")) }
            bindings.append(DurableObjectBinding(
                name: name, className: className, scriptName: scriptName, storage: storage[className]?.storage ?? .undeclared
            ))
        }
        return bindings
    }

    mutating func readBerth(_ node: ConfigNode) -> BerthSettings {
        var settings = BerthSettings()
        guard object(node, "berth", known: Self.berthKeys) != nil else { return settings }
        if let n = node["port"], let v = integer(n, "berth.port", range: 0...65535) { settings.port = v }
        if let n = node["admin_port"], let v = integer(n, "berth.admin_port", range: 0...65535) { settings.adminPort = v }
        if let n = node["ip"], let v = address(n, "berth.ip") { settings.ip = v }
        if let n = node["admin_ip"], let v = address(n, "berth.admin_ip") {
            settings.adminIP = v
            if !Self.isLoopback(v) {
                warning(at: n.position, "berth.admin_ip", "the admin API and dashboard will be reachable from other machines at \(v); keep the admin token secret")
            }
        }
        if let n = node["state_dir"], let v = string(n, "berth.state_dir") { settings.stateDir = v }
        if let n = node["instance_get_timeout"], let v = duration(n, "berth.instance_get_timeout") { settings.instanceGetTimeout = v }
        if let n = node["port_ready_timeout"], let v = duration(n, "berth.port_ready_timeout") { settings.portReadyTimeout = v }
        if let n = node["stop_grace_period"], let v = duration(n, "berth.stop_grace_period") { settings.stopGracePeriod = v }
        if let n = node["max_concurrent_starts"], let v = integer(n, "berth.max_concurrent_starts", range: 1...1024) { settings.maxConcurrentStarts = v }
        if let n = node["limits"] { settings.limits = readLimits(n) }
        if let n = node["retention"] { settings.retention = readRetention(n) }
        if let n = node["tls"] { settings.tls = readTLS(n) }
        if let n = node["websockets"] { settings.websockets = readWebSockets(n) }
        return settings
    }

    /// `berth.websockets`: counts, an idle timeout (`"off"` or a duration) and a message size.
    mutating func readWebSockets(_ node: ConfigNode) -> WebSocketSettings {
        var settings = WebSocketSettings()
        guard object(node, "berth.websockets", known: Self.webSocketKeys) != nil else { return settings }
        if let n = node["max_per_object"], let v = integer(n, "berth.websockets.max_per_object", range: 1...1_000_000) { settings.maxPerObject = v }
        if let n = node["max_per_class"], let v = integer(n, "berth.websockets.max_per_class", range: 1...10_000_000) { settings.maxPerClass = v }
        if let n = node["max_message_bytes"], let v = integer(n, "berth.websockets.max_message_bytes", range: 125...(1 << 30)) {
            settings.maxMessageBytes = v
        }
        if let n = node["idle_timeout"] {
            if case .string("off") = n.value {
                settings.idleTimeout = nil
            } else if let v = duration(n, "berth.websockets.idle_timeout") {
                if v > .zero { settings.idleTimeout = v } else { error(n, "berth.websockets.idle_timeout", "must be longer than 0s, or \"off\"") }
            }
        }
        return settings
    }

    /// `berth.tls`: per listener one `{ cert, key }` or a list of them; each file must exist
    /// and be readable, relative to the project folder.
    mutating func readTLS(_ node: ConfigNode) -> TLSSettings {
        var tls = TLSSettings()
        guard object(node, "berth.tls", known: TLSSettings.listenerKeys) != nil else { return tls }
        if let n = node["gateway"] { tls.gateway = readCertificates(n, "berth.tls.gateway") }
        if let n = node["admin"] { tls.admin = readCertificates(n, "berth.tls.admin") }
        return tls
    }

    mutating func readCertificates(_ node: ConfigNode, _ path: String) -> [TLSCertificateFiles] {
        let items: [(ConfigNode, String)]
        if case .array(let list) = node.value {
            if list.isEmpty { error(node, path, "needs at least one { \"cert\": FILE, \"key\": FILE }") }
            items = list.enumerated().map { ($1, "\(path)[\($0)]") }
        } else {
            items = [(node, path)]
        }
        var result: [TLSCertificateFiles] = []
        for (item, itemPath) in items {
            guard object(item, itemPath, known: TLSSettings.certificateKeys) != nil else { continue }
            guard let certNode = item["cert"], let keyNode = item["key"] else {
                error(item, itemPath, "needs both \"cert\" (the PEM certificate chain) and \"key\" (its PEM private key)")
                continue
            }
            guard let cert = tlsFile(certNode, join(itemPath, "cert")), let key = tlsFile(keyNode, join(itemPath, "key")) else { continue }
            let source = "\(file):\(item.position.line):\(item.position.column): \(itemPath)"
            result.append(TLSCertificateFiles(cert: cert, key: key, source: source))
        }
        return result
    }

    /// A PEM file's absolute path, or an error when it cannot be read.
    mutating func tlsFile(_ node: ConfigNode, _ path: String) -> String? {
        guard let name = string(node, path) else { return nil }
        let full = name.hasPrefix("/") ? name : URL(fileURLWithPath: folder).appendingPathComponent(name).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else {
            error(node, path, "\(full) does not exist or is not a file")
            return nil
        }
        guard FileManager.default.isReadableFile(atPath: full) else {
            error(node, path, "\(full) cannot be read by this user")
            return nil
        }
        return full
    }

    mutating func readRetention(_ node: ConfigNode) -> RetentionSettings {
        var retention = RetentionSettings()
        guard object(node, "berth.retention", known: Self.retentionKeys) != nil else { return retention }
        if let n = node["deployments"], let v = integer(n, "berth.retention.deployments", range: 1...10_000) { retention.deployments = v }
        return retention
    }

    mutating func readLimits(_ node: ConfigNode) -> LimitSettings {
        var limits = LimitSettings()
        guard object(node, "berth.limits", known: Self.limitKeys) != nil else { return limits }
        func timeout(_ key: String, _ apply: (inout LimitSettings, Duration) -> Void) {
            guard let n = node[key], let v = duration(n, "berth.limits.\(key)") else { return }
            guard v > .zero else {
                error(n, "berth.limits.\(key)", "must be longer than 0s")
                return
            }
            apply(&limits, v)
        }
        timeout("header_timeout") { $0.headerTimeout = $1 }
        timeout("body_idle_timeout") { $0.bodyIdleTimeout = $1 }
        timeout("keepalive_timeout") { $0.keepaliveTimeout = $1 }
        timeout("response_timeout") { $0.responseTimeout = $1 }
        timeout("send_timeout") { $0.sendTimeout = $1 }
        timeout("object_idle_forget") { $0.objectIdleForget = $1 }
        if let n = node["max_header_bytes"], let v = integer(n, "berth.limits.max_header_bytes", range: 1024...(16 << 20)) { limits.maxHeaderBytes = v }
        if let n = node["max_connections"], let v = integer(n, "berth.limits.max_connections", range: 1...1_000_000) { limits.maxConnections = v }
        if let n = node["max_objects"], let v = integer(n, "berth.limits.max_objects", range: 1...100_000_000) { limits.maxObjects = v }
        return limits
    }

    mutating func address(_ node: ConfigNode, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        guard Self.isIPAddress(text) else {
            error(node, path, "\"\(text)\" is not an IP address; use e.g. \"127.0.0.1\", \"0.0.0.0\" or \"::1\"")
            return nil
        }
        return text
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    static func isLoopback(_ text: String) -> Bool {
        text.hasPrefix("127.") || text == "::1" || text == "localhost"
    }
}
