import BerthCore
import Synchronization

/// Whether the endpoints a runtime handed out can still be trusted to be their containers'.
///
/// After the runtime lost sight of the engine (its events stream broke: an engine restart, a
/// socket cut), a container may have gone meanwhile and the engine may give its address to
/// another container, another object's or another project's. Until the runtime has looked
/// at every container it runs again, no new connection is opened to any of its endpoints:
/// the proxies answer 503 with `Retry-After` instead (``refusal``). Connections opened before
/// stay in use: a TCP connection cannot move to another container.
public final class EngineSight: Sendable {
    private let rechecking = Atomic(false)

    public init() {}

    /// A sight that is never lost: runtimes without an engine to lose (the in-memory driver).
    public static let always = EngineSight()

    /// Whether new connections may be opened to the runtime's endpoints.
    public var trusted: Bool { !rechecking.load(ordering: .acquiring) }

    /// The engine is back in sight, its containers not looked at again yet.
    public func distrust() { rechecking.store(true, ordering: .releasing) }

    /// Every container was looked at again: the endpoints that remain are their containers'.
    public func trust() { rechecking.store(false, ordering: .releasing) }

    /// What a request gets while the endpoints are not trusted.
    public static let refusal: BerthError = {
        var error = BerthError(
            .engineUnavailable,
            "Berth lost sight of the container engine and is checking that each container is still there before it opens new connections to them; try again in a moment"
        )
        error.retryAfterSeconds = 1
        return error
    }()
}
