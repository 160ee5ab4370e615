import BerthConfig
import BerthCore
import Foundation

/// How running instances move to a new deployment.
public enum RolloutMode: String, Sendable, Codable, CaseIterable {
    /// Every instance that runs something else is replaced at once.
    case immediate
    /// In the steps of `rollout_step_percentage`, each step's replacements healthy before
    /// the next begins.
    case gradual
    /// Running instances keep their version until they stop; new instances use the new one.
    case none
}

/// A version of the project: its configuration and the image of each container. Immutable
/// once registered; a rollback registers a new deployment with an older one's content.
public struct Deployment: Sendable, Codable, Equatable {
    public var id: String
    public var createdAt: Date
    public var config: ProjectConfig
    /// The image of each container, by container name.
    public var images: [String: BuiltImage]
    public var rollout: RolloutMode
    /// `deploy`, `dev`, `rollback` or `secret` (a secret changed).
    public var source: String
    /// The deployment whose content a rollback (or a secret change) repeated.
    public var rollbackOf: String?
    /// The Swift Worker's build, when the project has a Worker package (else the routes serve).
    public var worker: WorkerBuild?

    public init(
        id: String = Deployment.newID(), createdAt: Date = Date(), config: ProjectConfig, images: [String: BuiltImage],
        rollout: RolloutMode, source: String, rollbackOf: String? = nil, worker: WorkerBuild? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.config = config
        self.images = images
        self.rollout = rollout
        self.source = source
        self.rollbackOf = rollbackOf
        self.worker = worker
    }

    enum CodingKeys: String, CodingKey {
        case id, config, images, rollout, source, worker
        case createdAt = "created_at", rollbackOf = "rollback_of"
    }

    /// 10 lowercase hex characters: short enough for a table, usable as an image tag.
    public static func newID() -> String {
        Hex.random(bytes: 5)
    }

    /// Whether `text` can be a deployment id (and so an image tag).
    public static func isValidID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d }
    }
}

/// Where a deployment's rollout stands.
public enum RolloutState: String, Sendable, Codable, CaseIterable {
    case pending
    case inProgress = "in_progress"
    case done
    /// Mode `none`: running instances keep their version.
    case skipped
    /// A newer deployment took over.
    case superseded
    case failed

    /// Whether the rollout will not change any more.
    public var isFinished: Bool {
        switch self {
        case .pending, .inProgress: false
        case .done, .skipped, .superseded, .failed: true
        }
    }
}

/// How far a deployment's rollout has come.
public struct RolloutProgress: Sendable, Codable, Equatable {
    public var state: RolloutState
    /// Instances that ran another version when the rollout began.
    public var total: Int
    /// Instances replaced so far.
    public var replaced: Int
    /// Steps done and planned, as cumulative percentages (`[10, 100]`).
    public var step: Int
    public var steps: [Int]
    public var message: String?

    public init(state: RolloutState, total: Int = 0, replaced: Int = 0, step: Int = 0, steps: [Int] = [], message: String? = nil) {
        self.state = state
        self.total = total
        self.replaced = replaced
        self.step = step
        self.steps = steps
        self.message = message
    }

    /// Whether the rollout will not change any more.
    public var isFinished: Bool { state.isFinished }
}

