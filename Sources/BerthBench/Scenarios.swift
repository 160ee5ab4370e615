import AsyncHTTPClient
import BerthCore
import BerthRuntime
import DockerEngine
import Foundation

extension Harness {
    // MARK: Warm proxy

    /// The same warm container (the class's singleton object) directly, through nginx,
    /// through Berth's zero-code routes and through a Swift Worker, in alternating rounds of
    /// wrk, so that drift of the machine cancels in the ratios: small responses under `proxy.`,
    /// 1 MiB streamed responses under `proxy_1mib.`. `direct` and `nginx` reach the container
    /// where Berth does, at its own address; the full run adds both through its published
    /// port (`direct_published`, `nginx_published`), where the engine's userland proxy sits.
    func warmProxy(small: Bool = true, large: Bool = true, into results: inout Results) async throws {
        _ = try await get(gateway + "/singleton")
        let port = try await publishedPort(object: "cf-singleton-container")
        let address = try await containerAddress(object: "cf-singleton-container")
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let nginx = try Nginx.start(upstream: "\(address):8080", workers: workers)
        defer { nginx.stop() }
        let bases = [
            ("direct", "http://\(address):8080"),
            ("nginx", "http://127.0.0.1:\(nginx.port)"),
            ("berth", gateway),
            ("worker", workerGateway),
            ("worker_process", workerProcessGateway),
        ]
        let seconds = quick ? 3 : 8
        if small {
            var published: Nginx?
            defer { published?.stop() }
            var smallBases = bases
            if !quick {
                published = try Nginx.start(upstream: "127.0.0.1:\(port)", workers: workers)
                smallBases += [("direct_published", "http://127.0.0.1:\(port)"), ("nginx_published", "http://127.0.0.1:\(published!.port)")]
            }
            try proxyRounds(smallBases, path: "/singleton", key: "proxy", connections: 32, seconds: seconds, into: &results)
            if !quick { results.set("proxy.ratio_vs_nginx_published", results.values["proxy.berth_rps"]! / results.values["proxy.nginx_published_rps"]!) }
        }
        if large {
            try proxyRounds(bases, path: "/singleton/bytes/1048576", key: "proxy_1mib", connections: 8, seconds: seconds, into: &results)
        }
    }

    func proxyRounds(
        _ bases: [(String, String)], path: String, key: String, connections: Int, seconds: Int, into results: inout Results
    ) throws {
        let rounds = quick ? 2 : 5
        var rps: [String: [Double]] = [:]
        var p50: [String: [Double]] = [:]
        var p99: [String: [Double]] = [:]
        for round in 0..<rounds {
            // Rotate the order each round.
            for (name, base) in bases.rotated(by: round) {
                let run = try Wrk.run(url: base + path, seconds: seconds, connections: connections)
                rps[name, default: []].append(run.requestsPerSecond)
                p50[name, default: []].append(run.p50Milliseconds)
                p99[name, default: []].append(run.p99Milliseconds)
                FileHandle.standardError.write(Data("\(key) round \(round + 1)/\(rounds) \(name): \(Int(run.requestsPerSecond)) req/s, p99 \(run.p99Milliseconds) ms\n".utf8))
            }
        }
        for (name, _) in bases {
            results.set("\(key).\(name)_rps", rps[name]!.median)
            results.set("\(key).\(name)_p50_ms", p50[name]!.median)
            results.set("\(key).\(name)_p99_ms", p99[name]!.median)
        }
        results.set("\(key).ratio_vs_nginx", rps["berth"]!.median / rps["nginx"]!.median)
        results.set("\(key).ratio_vs_direct", rps["berth"]!.median / rps["direct"]!.median)
        if let worker = rps["worker"] { results.set("\(key).worker_ratio_vs_nginx", worker.median / rps["nginx"]!.median) }
        if let process = rps["worker_process"], let worker = rps["worker"] {
            // The Worker in its own process against the same Worker in the server's process.
            results.set("\(key).worker_process_ratio_vs_in_process", process.median / worker.median)
        }
    }

    // MARK: Cold start

    /// A first request to a new object against the engine's create + start of the same image
    /// until its port answers, alternating, each sample removed before the next.
    func coldStart(into results: inout Results) async throws {
        let samples = quick ? 10 : 25
        var berth: [Double] = []
        var engine: [Double] = []
        for index in 0..<samples {
            let name = "/container/cold-\(index)"
            let (status, elapsed) = try await get(gateway + name)
            guard status == 200 else { throw BerthError(.internal, "cold start \(index) answered \(status)") }
            berth.append(elapsed.milliseconds)
            let (engineElapsed, id) = try await engineStart()
            engine.append(engineElapsed.milliseconds)
            try? await client.removeContainer(id, force: true)
            let objectID = ObjectID.fromName(name, className: "Web", app: app).hex
            for container in try await client.listContainers(labels: ["\(BerthLabel.object)=\(objectID)"]) {
                try? await client.removeContainer(container.id, force: true)
            }
        }
        results.set("cold.berth_p50_ms", berth.median)
        results.set("cold.berth_p95_ms", berth.percentile(0.95))
        results.set("cold.engine_p50_ms", engine.median)
        results.set("cold.engine_p95_ms", engine.percentile(0.95))
        results.set("cold.ratio", berth.median / engine.median)
    }

    // MARK: Stampede

    /// 1,000 concurrent requests to one cold object: how many containers the engine created
    /// for it, how many requests got a 2xx, and their p99.
    func stampede(into results: inout Results) async throws {
        let count = quick ? 300 : 1000
        let url = gateway + "/container/stampede"
        let outcomes = await withTaskGroup(of: (UInt, Double).self) { group in
            for _ in 0..<count {
                group.addTask {
                    guard let (status, elapsed) = try? await self.get(url) else { return (0, .nan) }
                    return (status, elapsed.milliseconds)
                }
            }
            var outcomes: [(UInt, Double)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let objectID = ObjectID.fromName("/container/stampede", className: "Web", app: app).hex
        let created = try await client.listContainers(all: true, labels: ["\(BerthLabel.object)=\(objectID)"]).count
        results.set("stampede.requests", Double(count))
        results.set("stampede.starts", Double(created))
        results.set("stampede.ok", Double(outcomes.filter { (200..<300).contains($0.0) }.count))
        results.set("stampede.p99_ms", outcomes.map(\.1).filter { !$0.isNaN }.percentile(0.99))
    }

    // MARK: Fan-out

    /// 100 new objects at once until all answered, against 100 concurrent engine starts.
    func fanOut(into results: inout Results) async throws {
        let count = quick ? 30 : 100
        let berthStarted = ContinuousClock.now
        let statuses = await withTaskGroup(of: UInt.self) { group in
            for index in 0..<count {
                group.addTask { (try? await self.get(self.gateway + "/container/fan-\(index)"))?.0 ?? 0 }
            }
            var statuses: [UInt] = []
            for await status in group { statuses.append(status) }
            return statuses
        }
        let berth = berthStarted.duration(to: .now).milliseconds
        let engineStarted = ContinuousClock.now
        let ids = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<count { group.addTask { try? await self.engineStart().1 } }
            var ids: [String] = []
            for await id in group { if let id { ids.append(id) } }
            return ids
        }
        let engine = engineStarted.duration(to: .now).milliseconds
        for id in ids { try? await client.removeContainer(id, force: true) }
        results.set("fanout.objects", Double(count))
        results.set("fanout.berth_ok", Double(statuses.filter { $0 == 200 }.count))
        results.set("fanout.berth_ms", berth)
        results.set("fanout.engine_ms", engine)
        results.set("fanout.ratio", berth / engine)
    }
}

extension Array {
    func rotated(by amount: Int) -> [Element] {
        guard !isEmpty else { return self }
        let shift = amount % count
        return Array(self[shift...] + self[..<shift])
    }
}
