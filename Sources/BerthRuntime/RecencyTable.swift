/// Values by key, in the order they were last used: a map from key to slot and a list through
/// the slots from the most to the least recently used, so that a use moves a value to the
/// front and the least recently used is found at the back, both in constant time.
///
/// A value type with no lock of its own: its owner keeps it behind one (a shard of a class's
/// objects). Freed slots are reused; the storage shrinks when most of it is free.
struct RecencyTable<Key: Hashable, Value> {
    typealias Instant = ContinuousClock.Instant

    private struct Slot {
        var key: Key?
        var value: Value?
        /// When the value was last used.
        var used: Instant
        /// The next more recently used slot (-1: none, this is the newest).
        var newer: Int32 = -1
        /// The next less recently used slot (-1: none, this is the oldest).
        var older: Int32 = -1
    }

    private var index: [Key: Int32] = [:]
    private var slots: [Slot] = []
    private var free: [Int32] = []
    private var newest: Int32 = -1
    private var oldest: Int32 = -1

    var count: Int { index.count }

    subscript(key: Key) -> Value? {
        index[key].flatMap { slots[Int($0)].value }
    }

    /// Every value, most recently used first.
    var values: [Value] {
        var result: [Value] = []
        result.reserveCapacity(count)
        var at = newest
        while at >= 0 {
            if let value = slots[Int(at)].value { result.append(value) }
            at = slots[Int(at)].older
        }
        return result
    }

    /// Adds `value` as the most recently used (replacing any value of `key`).
    mutating func insert(_ value: Value, for key: Key, now: Instant) {
        if let at = index[key] {
            slots[Int(at)].value = value
            touch(key, now: now)
            return
        }
        let slot = Slot(key: key, value: value, used: now, newer: -1, older: newest)
        let at: Int32
        if let reused = free.popLast() {
            at = reused
            slots[Int(at)] = slot
        } else {
            at = Int32(slots.count)
            slots.append(slot)
        }
        if newest >= 0 { slots[Int(newest)].newer = at }
        newest = at
        if oldest < 0 { oldest = at }
        index[key] = at
    }

    /// Makes `key` the most recently used, at `now`.
    mutating func touch(_ key: Key, now: Instant) {
        guard let at = index[key] else { return }
        slots[Int(at)].used = now
        guard at != newest else { return }
        unlink(at)
        slots[Int(at)].older = newest
        slots[Int(at)].newer = -1
        if newest >= 0 { slots[Int(newest)].newer = at }
        newest = at
        if oldest < 0 { oldest = at }
    }

    /// Removes `key`; returns its value.
    @discardableResult
    mutating func remove(_ key: Key) -> Value? {
        guard let at = index.removeValue(forKey: key) else { return nil }
        let value = slots[Int(at)].value
        unlink(at)
        slots[Int(at)] = Slot(key: nil, value: nil, used: slots[Int(at)].used)
        free.append(at)
        if index.count < slots.count / 4 && slots.count > 64 { compact() }
        return value
    }

    /// From the least recently used on, while `visit` returns true: each key, value and when
    /// it was last used. `visit` must not change the table; collect what to change.
    func oldestFirst(_ visit: (Key, Value, Instant) -> Bool) {
        var at = oldest
        while at >= 0 {
            let slot = slots[Int(at)]
            if let key = slot.key, let value = slot.value, !visit(key, value, slot.used) { return }
            at = slot.newer
        }
    }

    private mutating func unlink(_ at: Int32) {
        let slot = slots[Int(at)]
        if slot.newer >= 0 { slots[Int(slot.newer)].older = slot.older } else { newest = slot.older }
        if slot.older >= 0 { slots[Int(slot.older)].newer = slot.newer } else { oldest = slot.newer }
    }

    /// Rebuilds the storage for the values left, in the same order, so that a table that once
    /// held many more values gives their memory back.
    private mutating func compact() {
        var kept: [Slot] = []
        kept.reserveCapacity(index.count)
        var at = oldest
        while at >= 0 {
            kept.append(slots[Int(at)])
            at = slots[Int(at)].newer
        }
        var rebuilt = RecencyTable()
        rebuilt.index.reserveCapacity(kept.count)
        for slot in kept {
            guard let key = slot.key, let value = slot.value else { continue }
            rebuilt.insert(value, for: key, now: slot.used)
        }
        self = rebuilt
    }
}
