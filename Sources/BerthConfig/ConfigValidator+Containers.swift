import BerthCore
import Foundation

extension ConfigValidator {
    mutating func readContainers(
        _ node: ConfigNode, worker: String, bindings: [DurableObjectBinding], storage: [String: ClassStorage]
    ) -> [ContainerConfig] {
        guard let items = array(node, "containers") else { return [] }
        var containers: [ContainerConfig] = []
        var classes: [String: String] = [:]
        var names: [String: String] = [:]
        for (i, item) in items.enumerated() {
            let path = "containers[\(i)]"
            guard object(item, path, known: Self.containerKeys) != nil else { continue }
            var ok = true

            var className = ""
            if let classNode = item["class_name"] {
                if let value = string(classNode, join(path, "class_name")) {
                    className = value
                    ok = checkClass(value, node: classNode, path: path, bindings: bindings, storage: storage) && ok
                    if let first = classes[value] {
                        error(classNode, join(path, "class_name"), "the class \"\(value)\" already has a container (\(first)); a class can have only one container")
                        ok = false
                    }
                    classes[value] = classes[value] ?? path
                } else {
                    ok = false
                }
            } else {
                error(item, path, "a container needs a \"class_name\": the Durable Object class that manages it")
                ok = false
            }

            var name = "\(worker)-\(className)"
            if let nameNode = item["name"] {
                if let value = string(nameNode, join(path, "name")) { name = value } else { ok = false }
            }
            if let first = names[name] {
                error(item["name"] ?? item, item["name"] == nil ? path : join(path, "name"),
                      "the container name \"\(name)\" is already used by \(first); container names must be unique")
                ok = false
            }
            names[name] = names[name] ?? path

            var image: ContainerImage?
            if let imageNode = item["image"] {
                image = readImage(imageNode, buildContext: item["image_build_context"], path: path)
            } else {
                error(item, path, "a container needs an \"image\": a Dockerfile, a folder holding one, or an image reference")
            }
            if image == nil { ok = false }

            var imageVars: [String: String] = [:]
            if let varsNode = item["image_vars"], let members = object(varsNode, join(path, "image_vars")) {
                for member in members {
                    if let value = string(member.value, "\(join(path, "image_vars")).\(member.key)", nonEmpty: false) {
                        imageVars[member.key] = value
                    } else {
                        ok = false
                    }
                }
            }

            var maxInstances = 20
            if let maxNode = item["max_instances"] {
                if let value = integer(maxNode, join(path, "max_instances"), range: 0...Int.max) { maxInstances = value } else { ok = false }
            }

            var instanceType = InstanceType.default
            if let typeNode = item["instance_type"] {
                if let value = readInstanceType(typeNode, join(path, "instance_type")) { instanceType = value } else { ok = false }
            }

            var steps = [10, 100]
            if let stepsNode = item["rollout_step_percentage"] {
                if let value = readRolloutSteps(stepsNode, join(path, "rollout_step_percentage")) { steps = value } else { ok = false }
            }

            var grace = 0
            if let graceNode = item["rollout_active_grace_period"] {
                if let value = integer(graceNode, join(path, "rollout_active_grace_period"), range: 0...Int.max) {
                    grace = value
                } else {
                    ok = false
                }
            }

            guard ok, let image else { continue }
            containers.append(ContainerConfig(
                name: name, className: className,
                bindings: bindings.filter { $0.className == className && $0.scriptName == nil }.map(\.name),
                image: image, imageVars: imageVars, maxInstances: maxInstances, instanceType: instanceType,
                rolloutStepPercentage: steps, rolloutActiveGracePeriod: grace
            ))
        }
        return containers
    }

    /// The class must be a SQLite-backed Durable Object bound in this Worker.
    mutating func checkClass(
        _ className: String, node: ConfigNode, path: String, bindings: [DurableObjectBinding], storage: [String: ClassStorage]
    ) -> Bool {
        let keyPath = join(path, "class_name")
        let local = bindings.filter { $0.className == className && $0.scriptName == nil }
        if local.isEmpty {
            if let remote = bindings.first(where: { $0.className == className }) {
                error(node, keyPath, "\"\(className)\" is bound as \(remote.name) with script_name \"\(remote.scriptName ?? "")\", so it belongs to another Worker; a container's class must be defined in this Worker (remove script_name)")
                return false
            }
            let classNames = Array(Set(bindings.filter { $0.scriptName == nil }.map(\.className))).sorted()
            var message = "\"\(className)\" is not a Durable Object class bound in this Worker"
            message += classNames.isEmpty ? " (there are no durable_objects.bindings; add {\"name\": \"MY_CONTAINER\", \"class_name\": \"\(className)\"})" : " (bindings: \(classNames.joined(separator: ", ")))"
            if let suggestion = TextSimilarity.closest(className, in: Set(classNames)) { message += "; did you mean \"\(suggestion)\"?" }
            error(node, keyPath, message)
            return false
        }
        switch storage[className] {
        case nil:
            error(node, keyPath, "\"\(className)\" is not created by any migration; containers need a SQLite-backed Durable Object: add {\"tag\": \"v1\", \"new_sqlite_classes\": [\"\(className)\"]} to \"migrations\"")
            return false
        case let declared? where declared.storage == .keyValue:
            error(at: declared.position, declared.path, "\"\(className)\" is created with new_classes (key-value storage), but \(path) needs a SQLite-backed Durable Object: list it under \"new_sqlite_classes\" instead of \"new_classes\"")
            return false
        default:
            return true
        }
    }

    mutating func readImage(_ node: ConfigNode, buildContext: ConfigNode?, path: String) -> ContainerImage? {
        let imagePath = join(path, "image")
        guard let image = string(node, imagePath) else { return nil }
        let fm = FileManager.default
        let resolved = absolute(image)
        var isDirectory: ObjCBool = false
        var dockerfile: String?
        if fm.fileExists(atPath: resolved, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                let inside = (resolved as NSString).appendingPathComponent("Dockerfile")
                guard fm.fileExists(atPath: inside) else {
                    error(node, imagePath, "the folder \"\(image)\" holds no Dockerfile; point \"image\" at a Dockerfile or a folder that holds one")
                    return nil
                }
                dockerfile = inside
            } else {
                dockerfile = resolved
            }
        } else if Self.looksLikePath(image) {
            error(node, imagePath, "\"\(image)\" does not exist (looked for \(resolved)); point \"image\" at a Dockerfile, a folder holding one, or use an image reference such as \"registry.example:5000/app:1.0\"")
            return nil
        }

        guard let dockerfile else {
            guard Self.isImageReference(image) else {
                error(node, imagePath, "\"\(image)\" is neither a Dockerfile, a folder holding one, nor a valid image reference (lowercase name, optional registry host and :tag)")
                return nil
            }
            if let buildContext {
                warning(at: buildContext.position, join(path, "image_build_context"), "ignored: the image is a registry reference, so nothing is built")
            }
            return .reference(image)
        }

        var context = (dockerfile as NSString).deletingLastPathComponent
        if let buildContext {
            let contextPath = join(path, "image_build_context")
            guard let value = string(buildContext, contextPath) else { return nil }
            let resolvedContext = absolute(value)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: resolvedContext, isDirectory: &isDir), isDir.boolValue else {
                error(buildContext, contextPath, "the build context \"\(value)\" is not a folder (looked for \(resolvedContext))")
                return nil
            }
            context = resolvedContext
        }
        return .dockerfile(path: dockerfile, context: context)
    }

    func absolute(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : (folder as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }

    static func looksLikePath(_ text: String) -> Bool {
        text.hasPrefix("./") || text.hasPrefix("../") || text.hasPrefix("/") || text == "." || text == ".."
            || text.hasSuffix("Dockerfile") || text.lowercased().hasSuffix(".dockerfile")
    }

    /// The grammar of Docker image references: `[host[:port]/]path[:tag][@digest]`.
    static func isImageReference(_ text: String) -> Bool {
        let component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
        let domain = "(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?"
        let pattern = "^(?:\(domain)/)?\(component)(?:/\(component))*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
        guard text.count <= 255, let regex = try? Regex(pattern) else { return false }
        return text.wholeMatch(of: regex) != nil
    }

    mutating func readInstanceType(_ node: ConfigNode, _ path: String) -> InstanceType? {
        let presetNames = InstanceType.presets.map(\.name)
        if case .string(let name) = node.value {
            if let preset = InstanceType.presets.first(where: { $0.name == name }) { return preset }
            if let alias = InstanceType.legacyAliases[name], let preset = InstanceType.presets.first(where: { $0.name == alias }) {
                warning(at: node.position, path, "\"\(name)\" is an older name for \"\(alias)\"; write \"\(alias)\"")
                return preset
            }
            error(node, path, "unknown instance type \"\(name)\"; use one of \(presetNames.joined(separator: ", ")) or {\"vcpu\": 1, \"memory_mib\": 4096, \"disk_mb\": 8000}")
            return nil
        }
        guard object(node, path, known: ["vcpu", "memory_mib", "disk_mb"]) != nil else { return nil }
        var vcpu = 1.0
        if let n = node["vcpu"] {
            guard let value = number(n, join(path, "vcpu")) else { return nil }
            guard (1...4).contains(value) else {
                error(n, join(path, "vcpu"), "must be between 1 and 4 for a custom instance type, found \(value); for less than 1 vCPU use the lite or basic preset")
                return nil
            }
            vcpu = value
        }
        let minimumMemory = Int((3072 * vcpu).rounded(.up))
        var memory = minimumMemory
        if let n = node["memory_mib"] {
            guard let value = integer(n, join(path, "memory_mib"), range: 1...Int.max) else { return nil }
            guard value <= 12288 else {
                error(n, join(path, "memory_mib"), "must be at most 12288 (12 GiB), found \(value)")
                return nil
            }
            guard value >= minimumMemory else {
                error(n, join(path, "memory_mib"), "must be at least 3 GiB per vCPU: \(minimumMemory) for \(Self.format(vcpu)) vCPU, found \(value)")
                return nil
            }
            memory = value
        }
        let maximumDisk = min(20000, memory * 2000 / 1024)
        var disk = maximumDisk
        if let n = node["disk_mb"] {
            guard let value = integer(n, join(path, "disk_mb"), range: 1...Int.max) else { return nil }
            guard value <= maximumDisk else {
                error(n, join(path, "disk_mb"), "must be at most \(maximumDisk) (20 GB, and 2 GB per GiB of memory), found \(value)")
                return nil
            }
            disk = value
        }
        return InstanceType(name: "custom", vcpu: vcpu, memoryMiB: memory, diskMB: disk)
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    mutating func readRolloutSteps(_ node: ConfigNode, _ path: String) -> [Int]? {
        let allowed = Self.rolloutSteps.map(String.init).joined(separator: ", ")
        if case .array(let items) = node.value {
            guard !items.isEmpty else {
                error(node, path, "must not be empty; end the list with 100, e.g. [10, 100]")
                return nil
            }
            var steps: [Int] = []
            for (i, item) in items.enumerated() {
                guard let step = integer(item, "\(path)[\(i)]", range: 1...100) else { return nil }
                if let last = steps.last, step <= last {
                    error(item, "\(path)[\(i)]", "steps must go up: \(step) comes after \(last)")
                    return nil
                }
                steps.append(step)
            }
            guard steps.last == 100 else {
                error(items.last!, "\(path)[\(items.count - 1)]", "the last step must be 100 so that the rollout completes")
                return nil
            }
            return steps
        }
        guard case .integer(let step) = node.value, Self.rolloutSteps.contains(step) else {
            error(node, path, "must be one of \(allowed), or an ascending list of percentages ending in 100; found \(node.shortDescription)")
            return nil
        }
        return Array(stride(from: step, through: 100, by: step))
    }
}
