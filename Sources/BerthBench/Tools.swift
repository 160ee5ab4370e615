import BerthCore
import BerthTestSupport
import Foundation

/// One run of `wrk` (Debian's) against a loopback URL, bounded in time.
struct Wrk {
    var requestsPerSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double

    static func run(url: String, seconds: Int, connections: Int, threads: Int = 2) throws -> Wrk {
        let output = try Tool.output("wrk", ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", url])
        func value(after prefix: String) -> String? {
            output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }
                .map { $0.trimmingCharacters(in: .whitespaces).dropFirst(prefix.count).trimmingCharacters(in: .whitespaces) }
        }
        guard let rps = value(after: "Requests/sec:").flatMap(Double.init), let p50 = value(after: "50%").flatMap(Self.milliseconds),
              let p99 = value(after: "99%").flatMap(Self.milliseconds)
        else { throw BerthError(.internal, "wrk printed something unexpected:\n\(output)") }
        if output.contains("Non-2xx") { throw BerthError(.internal, "wrk saw non-2xx answers from \(url):\n\(output)") }
        return Wrk(requestsPerSecond: rps, p50Milliseconds: p50, p99Milliseconds: p99)
    }

    /// `812.00us`, `1.20ms`, `2.00s` → milliseconds.
    static func milliseconds(_ text: String) -> Double? {
        for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return nil
    }
}

/// nginx (Debian's nginx-light) as a reverse proxy with upstream keepalive, on a free port;
/// with `tls`, terminating TLS with that certificate and key (HTTP/1.1 and HTTP/2 by ALPN,
/// session tickets off as Berth has none); with `webSocket`, passing a client's `Upgrade` on
/// (nginx's documented WebSocket proxying: `Upgrade` and `Connection: upgrade` set for an upgrade,
/// `Connection` cleared otherwise, so that other requests keep the upstream keep-alive), with
/// an hour of read and send timeouts for the upgraded connections.
struct Nginx {
    let process: Process
    let port: Int
    let folder: String

    static func start(upstream: String, workers: Int, tls: (cert: String, key: String)? = nil, webSocket: Bool = false) throws -> Nginx {
        let folder = NSTemporaryDirectory() + "berth-bench-nginx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/logs", withIntermediateDirectories: true)
        let port = try LoopbackPort.free()
        let upgrade = webSocket ? "map $http_upgrade $connection_upgrade { default upgrade; '' ''; }" : ""
        let connection = webSocket
            ? "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; proxy_read_timeout 3600s; proxy_send_timeout 3600s;"
            : #"proxy_set_header Connection "";"#
        try """
            worker_processes \(workers);
            pid \(folder)/nginx.pid;
            error_log \(folder)/logs/error.log error;
            events { worker_connections 4096; }
            http {
              access_log off;
              \(upgrade)
              upstream container { server \(upstream); keepalive 256; }
              server {
                listen 127.0.0.1:\(port)\(tls == nil ? "" : " ssl http2");
                \(tls.map { "ssl_certificate \($0.cert); ssl_certificate_key \($0.key); ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets off;" } ?? "")
                location / {
                  proxy_pass http://container;
                  proxy_http_version 1.1;
                  \(connection)
                  proxy_set_header Host $host;
                  proxy_set_header X-Forwarded-For $remote_addr;
                  proxy_buffering off;
                  # Streams in pieces as large as Berth's reads (64 KiB), not the 4 KiB default.
                  proxy_buffer_size 64k;
                  proxy_buffers 8 64k;
                  proxy_busy_buffers_size 128k;
                }
              }
            }
            """.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", folder, "-c", folder + "/nginx.conf", "-g", "daemon off;"]
        try process.run()
        // Wait until it listens; say why when it does not.
        for _ in 0..<100 {
            let url = "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)/"
            if (try? Tool.output("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", url])) == "200" {
                return Nginx(process: process, port: port, folder: folder)
            }
            if !process.isRunning { break }
            usleep(50_000)
        }
        if process.isRunning { process.terminate() }
        let log = (try? String(contentsOfFile: folder + "/logs/error.log", encoding: .utf8)) ?? ""
        throw BerthError(.internal, "nginx did not answer on port \(port): \(log)")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

enum Tool {
    static func output(_ name: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
