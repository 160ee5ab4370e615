import BerthConfig
import Foundation
import Testing

@Suite("Wrangler's container rules")
struct ContainerRulesTests {
    @Test("a misspelt class_name names the bound classes and suggests the right one")
    func misspeltClass() throws {
        let text = seedConfiguration.replacingOccurrences(of: #""class_name": "MyContainer",\#n"image""#, with: #""class_name": "MyContainr",\#n"image""#)
        #expect(text != seedConfiguration)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: #""MyContainr""#, in: text, path: "containers[0].class_name",
                         mentions: [#""MyContainr" is not a Durable Object class bound in this Worker (bindings: MyContainer)"#, #"did you mean "MyContainer"?"#])
        #expect(error.description.hasPrefix("wrangler.jsonc:") == false || error.file.hasSuffix("wrangler.jsonc"))
        #expect(error.file.hasSuffix("/wrangler.jsonc"))
    }

    @Test("new_classes instead of new_sqlite_classes is an error at the migration entry")
    func keyValueClass() throws {
        let text = seedConfiguration.replacingOccurrences(of: "new_sqlite_classes", with: "new_classes")
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: #""MyContainer""#, in: text, occurrence: 3, path: "migrations[0].new_classes[0]",
                         mentions: ["new_classes", "SQLite", "new_sqlite_classes"])
    }

    @Test("deleted_classes: the classes a later migration did not make again are the deployment's to purge")
    func deletedClasses() throws {
        let text = """
            {
              "name": "app",
              "containers": [{ "class_name": "MyContainer", "image": "./Dockerfile" }],
              "durable_objects": { "bindings": [{ "name": "MY_CONTAINER", "class_name": "MyContainer" }] },
              "migrations": [
                { "tag": "v1", "new_sqlite_classes": ["MyContainer", "Old", "Back"] },
                { "tag": "v2", "deleted_classes": ["Old", "Back"] },
                { "tag": "v3", "new_sqlite_classes": ["Back"] }
              ]
            }
            """
        let config = try #require(try load(text).config)
        #expect(config.deletedClasses == ["Old"])
        #expect(try #require(try load(seedConfiguration).config).deletedClasses == nil)
    }

    @Test("a class that no migration creates is an error that shows the migration to add")
    func undeclaredClass() throws {
        let text = """
            {
              "containers": [{ "class_name": "MyContainer", "image": "./Dockerfile" }],
              "durable_objects": { "bindings": [{ "name": "MY_CONTAINER", "class_name": "MyContainer" }] }
            }
            """
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: #""MyContainer""#, in: text, path: "containers[0].class_name", mentions: ["new_sqlite_classes"])
    }

    @Test("a class bound with script_name belongs to another Worker")
    func remoteClass() throws {
        let text = seedConfiguration.replacingOccurrences(of: #""class_name": "MyContainer"\#n}"#, with: #""class_name": "MyContainer", "script_name": "other"\#n}"#)
        #expect(text != seedConfiguration)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: #""MyContainer""#, in: text, path: "containers[0].class_name", mentions: ["script_name", "another Worker"])
    }

    @Test("one container per class, and unique names")
    func duplicates() throws {
        let text = config(container: """
            { "name": "a", "class_name": "MyContainer", "image": "./Dockerfile" },
                { "name": "a", "class_name": "MyContainer", "image": "./Dockerfile" }
            """)
        let report = try load(text)
        #expect(report.config == nil)
        let paths = report.errors.map(\.path)
        #expect(paths == ["containers[1].name", "containers[1].class_name"] || paths == ["containers[1].class_name", "containers[1].name"])
        let classError = try #require(report.errors.first { $0.path == "containers[1].class_name" })
        expectDiagnostic(classError, at: #""MyContainer""#, in: text, occurrence: 2, path: "containers[1].class_name", mentions: ["only one container", "containers[0]"])
        let nameError = try #require(report.errors.first { $0.path == "containers[1].name" })
        expectDiagnostic(nameError, at: #""a""#, in: text, occurrence: 2, path: "containers[1].name", mentions: ["unique"])
    }

    @Test("max_instances must be a whole number of at least 0", arguments: [
        ("-1", "at least 0"), ("2.5", "whole number"), ("\"10\"", "whole number"),
    ])
    func maxInstancesInvalid(value: String, words: String) throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "max_instances": \#(value) }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: value, in: text, path: "containers[0].max_instances", mentions: [words])
    }

    @Test("max_instances 0 is allowed")
    func maxInstancesZero() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "max_instances": 0 }"#)
        #expect(try load(text).get().containers[0].maxInstances == 0)
    }

    @Test("every instance_type preset resolves to Cloudflare's sizes", arguments: InstanceType.presets)
    func presets(preset: InstanceType) throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "instance_type": "\#(preset.name)" }"#)
        #expect(try load(text).get().containers[0].instanceType == preset)
    }

    @Test("legacy instance type names still work, with a warning")
    func legacyPreset() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "instance_type": "dev" }"#)
        let report = try load(text)
        #expect(try report.get().containers[0].instanceType.name == "lite")
        #expect(report.warnings.count == 1)
        #expect(report.warnings.first?.path == "containers[0].instance_type")
    }

    @Test("an unknown preset lists the valid ones")
    func unknownPreset() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "instance_type": "huge" }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: #""huge""#, in: text, path: "containers[0].instance_type", mentions: ["lite", "standard-4"])
    }

    @Test("a custom instance type within the bounds")
    func customInstanceType() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "instance_type": { "vcpu": 2, "memory_mib": 8192, "disk_mb": 16000 } }"#)
        #expect(try load(text).get().containers[0].instanceType == InstanceType(name: "custom", vcpu: 2, memoryMiB: 8192, diskMB: 16000))
    }

    @Test("custom instance type bounds", arguments: [
        (#"{ "vcpu": 0.5, "memory_mib": 4096, "disk_mb": 4000 }"#, "0.5", "vcpu", "between 1 and 4"),
        (#"{ "vcpu": 8, "memory_mib": 12288, "disk_mb": 4000 }"#, "8", "vcpu", "between 1 and 4"),
        (#"{ "vcpu": 2, "memory_mib": 4096, "disk_mb": 4000 }"#, "4096", "memory_mib", "3 GiB per vCPU"),
        (#"{ "vcpu": 1, "memory_mib": 16384, "disk_mb": 4000 }"#, "16384", "memory_mib", "12288"),
        (#"{ "vcpu": 1, "memory_mib": 4096, "disk_mb": 9000 }"#, "9000", "disk_mb", "2 GB per GiB"),
        (#"{ "vcpu": 4, "memory_mib": 12288, "disk_mb": 21000 }"#, "21000", "disk_mb", "20 GB"),
    ])
    func customBounds(type: String, needle: String, key: String, words: String) throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "instance_type": \#(type) }"#)
        let error = try onlyError(try load(text))
        // The error points at the value, just after ": ".
        let keyValue = position(of: "\(key)\": \(needle)", in: text)
        #expect(error.line == keyValue.line)
        #expect(error.column == keyValue.column + key.count + 3, "\(error)")
        #expect(error.path == "containers[0].instance_type.\(key)")
        #expect(error.message.contains(words), "\(error.message)")
    }

    @Test("rollout_step_percentage: a single step expands, a list is kept", arguments: [
        ("25", [25, 50, 75, 100]), ("100", [100]), ("5", Array(stride(from: 5, through: 100, by: 5))),
        ("[10, 100]", [10, 100]), ("[1, 50, 100]", [1, 50, 100]),
    ])
    func rolloutValid(value: String, steps: [Int]) throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "rollout_step_percentage": \#(value) }"#)
        #expect(try load(text).get().containers[0].rolloutStepPercentage == steps)
    }

    @Test("rollout_step_percentage: invalid forms", arguments: [
        ("30", "30", "", "one of 5, 10, 20, 25, 50, 100"),
        ("[50, 20, 100]", "20", "[1]", "must go up"),
        ("[10, 50]", "50", "[1]", "must be 100"),
        ("[]", "[]", "", "must not be empty"),
        ("[0, 100]", "0", "[0]", "between 1 and 100"),
    ])
    func rolloutInvalid(value: String, needle: String, suffix: String, words: String) throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "rollout_step_percentage": \#(value) }"#)
        let error = try onlyError(try load(text))
        let valueStart = position(of: value, in: text)
        let needleOffset = value.range(of: needle).map { value.distance(from: value.startIndex, to: $0.lowerBound) } ?? 0
        #expect(error.line == valueStart.line)
        #expect(error.column == valueStart.column + needleOffset, "\(error)")
        #expect(error.path == "containers[0].rollout_step_percentage\(suffix)")
        #expect(error.message.contains(words), "\(error.message)")
    }

    @Test("rollout_active_grace_period must be a whole number of seconds")
    func gracePeriod() throws {
        let ok = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "rollout_active_grace_period": 30 }"#)
        #expect(try load(ok).get().containers[0].rolloutActiveGracePeriod == 30)
        let bad = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "rollout_active_grace_period": -5 }"#)
        let error = try onlyError(try load(bad))
        #expect(error.path == "containers[0].rollout_active_grace_period")
    }

    @Test("a container needs class_name and image")
    func requiredKeys() throws {
        let text = config(container: #"{ "name": "x" }"#)
        let report = try load(text)
        #expect(report.config == nil)
        #expect(report.errors.count == 2)
        #expect(report.errors.allSatisfy { $0.path == "containers[0]" })
        #expect(report.errors.contains { $0.message.contains("class_name") })
        #expect(report.errors.contains { $0.message.contains("image") })
    }

    @Test("unknown keys are warnings, not errors, with a spelling hint")
    func unknownKeys() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile", "max_instance": 3 }"#, extra: #", "whatever": 1"#)
        let report = try load(text)
        #expect(report.config != nil)
        #expect(report.errors.isEmpty)
        let paths = report.warnings.map(\.path)
        #expect(paths == ["containers[0].max_instance", "whatever"])
        #expect(report.warnings[0].message.contains(#"did you mean "max_instances"?"#))
        expectDiagnostic(report.warnings[0], at: #""max_instance""#, in: text, path: "containers[0].max_instance")
        #expect(report.warnings[0].description.contains(": warning: containers[0].max_instance: "))
    }

    @Test("Cloudflare-only keys load without a warning")
    func wranglerKeysAccepted() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#,
                          extra: #", "main": "src/index.ts", "compatibility_date": "2025-04-03", "observability": { "enabled": true }, "vars": { "A": "b", "N": 3 }"#)
        let report = try load(text)
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
        let config = try report.get()
        #expect(config.main == "src/index.ts")
        #expect(config.compatibilityDate == "2025-04-03")
        #expect(config.vars == ["A": "b", "N": "3"])
    }
}
