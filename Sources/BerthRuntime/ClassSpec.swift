import BerthConfig
import BerthCore
import Crypto
import Foundation
import Synchronization

/// What the current deployment says about one container class: how its new instances run,
/// how many may run, and whether it serves at all.
public struct ClassSpec: Sendable {
    public var settings: ContainerSettings
    public var maxInstances: Int
    /// The deployment new instances belong to (their `berth.deployment` label and VERSION).
    public var deploymentID: String
    /// The engine's id of the image, when known: tags change with every deployment, the
    /// content may not.
    public var imageID: String?
    /// Set when the class was deleted: requests get this message instead of a container.
    public var disabledReason: String?

    public init(settings: ContainerSettings, maxInstances: Int, deploymentID: String, imageID: String? = nil) {
        self.settings = settings
        self.maxInstances = maxInstances
        self.deploymentID = deploymentID
        self.imageID = imageID
    }

    /// Equal for two specs whose instances would run the same thing: same image content,
    /// environment, entrypoint, ports, network, limits and isolation. A rollout replaces only instances
    /// whose fingerprint differs from the current one.
    public var fingerprint: String {
        let s = settings
        var parts: [String] = [
            "image=\(imageID ?? s.image)",
            "entrypoint=\(s.entrypoint?.joined(separator: "\u{1}") ?? "-")",
            "internet=\(s.enableInternet)",
            "ports=\(s.defaultPort.map(String.init) ?? "-")|\(s.requiredPorts)|\(s.exposedPorts)",
            "ping=\(s.pingEndpoint)",
            "type=\(s.instanceType.memoryMiB)|\(s.instanceType.vcpu)",
            "isolation=\(s.isolation.pidsLimit)|\(s.isolation.noNewPrivileges)|\(s.isolation.capAdd)|\(s.isolation.readOnlyRoot)",
        ]
        parts += s.envVars.sorted { $0.key < $1.key }.map { "env:\($0.key)=\($0.value)" }
        if !s.secretsVersion.isEmpty { parts.append("secrets=\(s.secretsVersion)") }
        // Only when set: the default keeps the fingerprints of deployments made before the key.
        if s.isolation.logs != ContainerLogs() { parts.append("logs=\(s.isolation.logs.maxSizeBytes)|\(s.isolation.logs.maxFiles)") }
        parts += s.labels.sorted { $0.key < $1.key }.map { "label:\($0.key)=\($0.value)" }
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\n").utf8))
        return Hex.encode(digest.prefix(8))
    }
}

/// The spec shared by a class and its controllers; replaced whole by a deployment.
final class SpecBox: Sendable {
    private let storage: Mutex<(spec: ClassSpec, settings: SettingsBox)>
    init(_ spec: ClassSpec) { storage = Mutex((spec, SettingsBox(spec.settings))) }
    var value: ClassSpec {
        get { storage.withLock { $0.spec } }
        set { storage.withLock { $0 = (newValue, SettingsBox(newValue.settings)) } }
    }
    /// The spec and its settings in one box that every controller starting from this spec
    /// shares (a controller keeps a reference, not a copy of its own).
    var current: (spec: ClassSpec, settings: SettingsBox) { storage.withLock { $0 } }
}

/// Settings shared by reference.
final class SettingsBox: Sendable {
    let value: ContainerSettings
    init(_ value: ContainerSettings) { self.value = value }
}
