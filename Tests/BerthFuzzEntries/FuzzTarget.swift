/// The fuzz targets, one function each from any bytes: the libFuzzer executables in `fuzz/`
/// call these, and `make test` replays the checked-in corpus through the same functions
/// (Tests/BerthFuzzTests). A target returns for every input; a broken invariant stops the
/// process (`precondition`), which libFuzzer reports as a crash.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `wrangler.jsonc` text, parsed and validated by the config loader.
    case jsonc
    /// `wrangler.toml` text, parsed and validated by the config loader.
    case toml
    /// Zero-code routes and a request head: the warm path's routing and the Worker's must agree.
    case routes
    /// Raw client bytes (and the container's answers) through the gateway's client pipeline.
    case gateway
    /// Bytes from both ends of a relayed WebSocket, and Berth's stops.
    case websocket

    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .jsonc: ConfigFuzzing.run(bytes, file: "wrangler.jsonc")
        case .toml: ConfigFuzzing.run(bytes, file: "wrangler.toml")
        case .routes: RouteFuzzing.run(bytes)
        case .gateway: GatewayFuzzing.run(bytes)
        case .websocket: WebSocketFuzzing.run(bytes)
        }
    }

    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }

    /// The entry point libFuzzer calls (`LLVMFuzzerTestOneInput`).
    public func run(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
        return 0
    }
}

/// Splits `bytes` at every occurrence of `separator`.
func split(_ bytes: UnsafeRawBufferPointer, at separator: [UInt8]) -> [ArraySlice<UInt8>] {
    let all = Array(bytes)
    var parts: [ArraySlice<UInt8>] = []
    var start = 0
    var i = 0
    while i + separator.count <= all.count {
        if all[i..<i + separator.count].elementsEqual(separator) {
            parts.append(all[start..<i])
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    parts.append(all[start...])
    return parts
}
