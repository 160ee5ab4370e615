import Berth
import BerthCore
@testable import BerthServer
import Testing

@Suite("Which Worker version runs an object's code")
struct ObjectOwnerTests {
    struct Version: Equatable {
        var name: String
        var declares = true
        var busy = false
    }

    func owner(current: Version?, retiring: [Version]) -> String? {
        let object = WireObject(className: "MyContainer", id: ObjectID.fromName("x", className: "MyContainer", app: "a"))
        return WorkerSupervisor.owner(of: object, current: current, retiring: retiring, declares: { $0.declares }, inFlight: { $0.busy })?.name
    }

    @Test("an object stays with a version served before while it has a request of the object in flight, then moves to the current one")
    func moves() {
        #expect(owner(current: Version(name: "new"), retiring: []) == "new")
        #expect(owner(current: Version(name: "new"), retiring: [Version(name: "old")]) == "new", "the old version is done with it")
        #expect(owner(current: Version(name: "new"), retiring: [Version(name: "old", busy: true)]) == "old")
        #expect(owner(current: Version(name: "v3"), retiring: [Version(name: "v1", busy: true), Version(name: "v2", busy: true)]) == "v2")
        #expect(owner(current: Version(name: "new", declares: false), retiring: []) == nil, "no Worker declares the class: the default hooks")
        #expect(owner(current: Version(name: "new"), retiring: [Version(name: "old", declares: false, busy: true)]) == "new")
        #expect(owner(current: nil, retiring: [Version(name: "old", busy: true)]) == "old")
    }
}
