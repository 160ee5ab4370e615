import BerthFuzzEntries
import Foundation
import Testing

/// Every checked-in fuzz input, through the same function its libFuzzer target calls: the seed
/// corpus (fuzz/corpus/TARGET) and the inputs of crashes found and fixed (fuzz/regressions/TARGET).
/// A broken invariant stops the test process, as it stops the fuzzer.
@Suite("Fuzz corpus replay")
struct CorpusReplayTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fuzz")

    static func inputs(_ target: FuzzTarget, in kind: String) throws -> [URL] {
        let folder = fuzzFolder.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("the seed corpus and the regression inputs run clean", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let seeds = try Self.inputs(target, in: "corpus")
        #expect(seeds.count >= 5, "fuzz/corpus/\(target.rawValue) holds \(seeds.count) seeds")
        for file in try seeds + Self.inputs(target, in: "regressions") {
            target.run(Array(try Data(contentsOf: file)))
        }
    }
}
