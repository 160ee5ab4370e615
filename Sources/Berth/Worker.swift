public import BerthCore

/// The code that receives every HTTP request: `export default { fetch(request, env) }`.
public protocol Worker: Sendable {
    func fetch(_ request: Request, env: Env) async throws -> Response
}

/// The Worker's bindings: Durable Object namespaces by binding name, `vars`, and the
/// secrets `berth secret put` stored. Printing an `Env` shows secrets' names, never values.
public struct Env: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let namespaces: [String: DurableObjectNamespace]
    public let vars: [String: String]
    /// Secrets by name (`env.secrets["API_KEY"]`); no name is both a var and a secret.
    public let secrets: [String: String]

    public init(namespaces: [String: DurableObjectNamespace], vars: [String: String], secrets: [String: String] = [:]) {
        self.namespaces = namespaces
        self.vars = vars
        self.secrets = secrets
    }

    public var description: String {
        "Env(bindings: \(namespaces.keys.sorted()), vars: \(vars.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }), secrets: \(secrets.keys.sorted()) (values hidden))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["bindings": namespaces.keys.sorted(), "vars": vars, "secrets": secrets.keys.sorted()])
    }

    /// `env.MY_CONTAINER`. A binding that does not exist gives a namespace whose every
    /// request answers 500 with a message naming it and the bindings there are.
    public subscript(binding: String) -> DurableObjectNamespace {
        namespaces[binding] ?? DurableObjectNamespace(link: MissingBinding(binding: binding, known: namespaces.keys.sorted()))
    }
}

/// A Durable Object namespace bound in `env`.
public struct DurableObjectNamespace: Sendable {
    package let link: any ObjectClassLink

    package init(link: any ObjectClassLink) {
        self.link = link
    }

    /// The container class behind the binding.
    public var className: String { link.className }
    /// The same name gives the same id, on every restart and every machine.
    public func idFromName(_ name: String) -> ObjectID { link.idFromName(name) }
    /// Parses an id printed earlier.
    public func idFromString(_ hex: String) throws(BerthError) -> ObjectID { try ObjectID.fromString(hex) }
    public func newUniqueId() -> ObjectID { ObjectID.unique() }
    /// The object's stub; getting it starts nothing.
    public func get(_ id: ObjectID) -> ContainerStub { ContainerStub(link.object(id)) }
    public func getByName(_ name: String) -> ContainerStub { ContainerStub(link.object(named: name)) }
}

/// `getContainer(binding, name)`: the object named `name` (default `cf-singleton-container`).
public func getContainer(_ binding: DurableObjectNamespace, _ name: String = "cf-singleton-container") -> ContainerStub {
    binding.getByName(name)
}

/// `getRandom(binding, n)`: one of `n` objects named `instance-0` … `instance-(n-1)`, at random.
public func getRandom(_ binding: DurableObjectNamespace, _ instances: Int = 3) -> ContainerStub {
    binding.getByName("instance-\(Int.random(in: 0..<max(1, instances)))")
}

/// `switchPort(request, port)`: the request, sent by `fetch` to `port`.
public func switchPort(_ request: Request, _ port: Int) -> Request {
    var request = request
    request.headers[.containerTargetPort] = String(port)
    return request
}
