import BerthCore
import Foundation

/// Where the SDK a Worker package builds on is: `BERTH_SDK`, else `share/berth/sdk` beside
/// the installed `berth` (`make install`), else `berth-sdk` beside a build folder's `berth`
/// (`make sdk`).
public enum BerthSDK {
    public static func locate() throws(BerthError) -> String {
        var tried: [String] = []
        if let given = ProcessInfo.processInfo.environment["BERTH_SDK"], !given.isEmpty {
            guard isSDK(given) else {
                throw BerthError(.notFound, "BERTH_SDK is \(given), and the Berth SDK a Swift Worker builds on is not there (no Sources/BerthWorker); unset it to use the one beside berth, or point it at PREFIX/share/berth/sdk")
            }
            return (given as NSString).standardizingPath
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let bin = (executable as NSString).deletingLastPathComponent
        for candidate in [bin + "/../share/berth/sdk", bin + "/../berth-sdk", bin + "/../../berth-sdk"] {
            let path = (candidate as NSString).standardizingPath
            if isSDK(path) { return path }
            tried.append(path)
        }
        throw BerthError(
            .notFound,
            "the Berth SDK a Swift Worker builds on is not installed beside this berth (looked in \(tried.joined(separator: ", "))); `make install` puts it in PREFIX/share/berth/sdk, `make sdk` in .build/berth-sdk, or set BERTH_SDK"
        )
    }

    public static func isSDK(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("Sources/BerthWorker/WorkerProcess.swift"))
    }
}
