import BerthCore

/// Runs `body`, throwing a timeout naming `what` if it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws(BerthError) -> T {
    do {
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw BerthError(.timeout, "\(what) took longer than \(DurationText.format(limit))")
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
    } catch let error as BerthError {
        throw error
    } catch {
        throw BerthError(.internal, "\(what) failed: \(error)", cause: error)
    }
}
