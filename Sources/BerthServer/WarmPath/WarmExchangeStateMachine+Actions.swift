extension WarmExchangeStateMachine {
    /// What becomes of the container's connection when the exchange finishes.
    enum Release: Equatable {
        /// Back to the pool; `resumeReads` first if they were paused.
        case giveBack(resumeReads: Bool)
        case close
        /// There is none (it failed).
        case none
    }

    /// How the exchange finishes.
    struct Finish: Equatable {
        var upstream: Release
        /// The client's connection closes after this exchange.
        var closeClient: Bool
    }

    /// What the shell does after an event; at most one per event, so nothing is allocated.
    enum Action: Equatable {
        /// Nothing (the event changed no more than the state, or came too late to matter).
        case none
        /// Write `100 Continue` first if asked; then take a pooled connection or open one.
        case connect(sendContinue: Bool)
        /// Open a new connection after a pooled one failed before answering; the request's
        /// end is sent again after its head if `replayEnd`.
        case reconnect(replayEnd: Bool)
        /// Write the request head and the parts that waited; set the container's reads to
        /// `upstreamReads`; read the client again.
        case sendRequest(upstreamReads: Bool)
        /// A connection that came after the exchange ended: close it.
        case closeUpstream
        /// Keep the request part until the connection is ready.
        case bufferRequestPart
        /// Write the request part to the container (an end is flushed).
        case forwardRequestPart
        /// Write the request's end, then finish as `Finish` says.
        case forwardRequestEnd(then: Finish)
        /// Send the response head; `Connection` tells the client whether it closes.
        case sendResponseHead(closeClient: Bool)
        case forwardResponseBody
        /// Send the response's end and release the lease; then finish, if given.
        case sendResponseEnd(then: Finish?)
        /// Answer the client with Berth's error instead of the container's response, release
        /// the lease, read the client again; then finish, if given.
        case sendFailure(closeClient: Bool, then: Finish?)
        /// Finish as `Finish` says (the request part that completed it is dropped).
        case finish(Finish)
        /// The response broke after it began: release the lease, close the container's
        /// connection if any and the client's (a cut response is never passed off as a whole one).
        case abortClient
        /// The request broke off before any response: close the container's connection,
        /// answer the client with Berth's 400 and close its connection, release the lease.
        case refuseRequest
        /// The client went away: release the lease, close the container's connection if any.
        case abandon
        /// Turn the container's reads on or off.
        case setUpstreamReads(Bool)
        /// The container can take more: read the client again if reading was held back.
        case resumeClientReads
    }
}
