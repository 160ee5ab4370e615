import BerthCore

/// Told of every request sent to an object, once its response head is known (or it failed):
/// metrics and the dashboard's history listen here. Called on the request's own task, on
/// the hot path: keep it to a few counter updates.
public protocol RequestObserver: Sendable {
    /// - Parameters:
    ///   - status: the status the client gets (the container's, or Berth's error status).
    ///   - duration: from the request reaching the object to the response head.
    ///   - failure: why Berth answered instead of the container, if it did.
    func request(className: String, status: Int, duration: Duration, failure: BerthError.Code?)
}
