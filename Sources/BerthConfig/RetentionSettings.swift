/// `berth.retention`: what Berth keeps of past deployments. After each deploy, deployments
/// beyond the newest `deployments` are removed from the state store and the images Berth
/// built for them from the engine, except the one served, those whose instances still run
/// and images a kept deployment uses.
public struct RetentionSettings: Sendable, Codable, Equatable {
    /// Deployments kept, the served one included; `berth rollback` can go back to these.
    public var deployments: Int = 10

    public init(deployments: Int = 10) {
        self.deployments = deployments
    }

    /// The keys of `berth.retention`, with their defaults as a person writes them.
    public static let documented: [(key: String, value: String)] = [("deployments", String(RetentionSettings().deployments))]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        deployments = try c.decodeIfPresent(Int.self, forKey: .deployments) ?? RetentionSettings().deployments
    }
}
