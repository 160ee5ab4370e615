import BerthCore
import Foundation

/// One Durable Object's storage, as the admin API and the dashboard show it (read-only).
public struct ObjectStorageView: Codable, Sendable, Equatable {
    public var className: String
    public var objectID: String
    public var objectName: String?
    /// Whether the object ever wrote (its database exists).
    public var exists: Bool
    /// The database's size on disk, its write-ahead log included.
    public var sizeBytes: Int
    /// When the platform fires the object's alarm next (its own or its next schedule's).
    public var alarm: Date?
    /// Retries of that alarm so far (after thrown errors).
    public var alarmRetries: Int?
    /// The time the object's own code set (`storage.setAlarm`).
    public var objectAlarm: Date?
    public var schedules: [ScheduleView]
    /// The object's own SQL tables and their row counts.
    public var tables: [TableView]
    /// Its key–value pairs, by key (the first ``keyLimit``).
    public var keys: [KeyView]
    public var keysTruncated: Bool

    public static let keyLimit = 100

    public struct ScheduleView: Codable, Sendable, Equatable {
        public var id: String
        public var callback: String
        public var time: Date
        public var payload: String?
        public init(id: String, callback: String, time: Date, payload: String?) {
            self.id = id
            self.callback = callback
            self.time = time
            self.payload = payload
        }
    }

    public struct TableView: Codable, Sendable, Equatable {
        public var name: String
        public var rows: Int
        public init(name: String, rows: Int) {
            self.name = name
            self.rows = rows
        }
    }

    public struct KeyView: Codable, Sendable, Equatable {
        public var key: String
        /// The value as stored (JSON text); nil when it is not text.
        public var value: String?
        public var bytes: Int
        public init(key: String, value: String?, bytes: Int) {
            self.key = key
            self.value = value
            self.bytes = bytes
        }
    }

    public init(
        className: String, objectID: String, objectName: String?, exists: Bool, sizeBytes: Int, alarm: Date?, alarmRetries: Int?, objectAlarm: Date?,
        schedules: [ScheduleView], tables: [TableView], keys: [KeyView], keysTruncated: Bool
    ) {
        self.className = className
        self.objectID = objectID
        self.objectName = objectName
        self.exists = exists
        self.sizeBytes = sizeBytes
        self.alarm = alarm
        self.alarmRetries = alarmRetries
        self.objectAlarm = objectAlarm
        self.schedules = schedules
        self.tables = tables
        self.keys = keys
        self.keysTruncated = keysTruncated
    }

    enum CodingKeys: String, CodingKey {
        case className = "class_name", objectID = "object_id", objectName = "object_name", exists, sizeBytes = "size_bytes", alarm
        case alarmRetries = "alarm_retries", objectAlarm = "object_alarm", schedules, tables, keys, keysTruncated = "keys_truncated"
    }
}

/// SQL an operator runs on an object's database, opened read-only (`SQLITE_OPEN_READONLY`).
public struct StorageQuery: Codable, Sendable {
    public var query: String
    /// The `?` parameters' values: JSON numbers, strings, booleans or null.
    public var bindings: [StorageCell]?

    public init(query: String, bindings: [StorageCell]? = nil) {
        self.query = query
        self.bindings = bindings
    }
}

/// What a read-only query returned.
public struct StorageQueryResult: Codable, Sendable, Equatable {
    public var columns: [String]
    public var rows: [[StorageCell]]
    public var rowsRead: Int

    public init(columns: [String], rows: [[StorageCell]], rowsRead: Int) {
        self.columns = columns
        self.rows = rows
        self.rowsRead = rowsRead
    }

    enum CodingKeys: String, CodingKey {
        case columns, rows, rowsRead = "rows_read"
    }
}

/// A SQL value as plain JSON: null, a number, a string, or `{"blob": "<base64>"}`.
public struct StorageCell: Codable, Sendable, Equatable {
    public var value: SQLValue

    public init(_ value: SQLValue) {
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { value = .null }
        else if let bool = try? container.decode(Bool.self) { value = .integer(bool ? 1 : 0) }
        else if let integer = try? container.decode(Int64.self) { value = .integer(integer) }
        else if let real = try? container.decode(Double.self) { value = .real(real) }
        else if let text = try? container.decode(String.self) { value = .text(text) }
        else if let blob = try? container.decode([String: String].self), let base64 = blob["blob"], let data = Data(base64Encoded: base64) {
            value = .blob(Array(data))
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a binding is a number, a string, a boolean, null or {\"blob\": \"<base64>\"}")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case .null: try container.encodeNil()
        case .integer(let number): try container.encode(number)
        case .real(let number): try container.encode(number)
        case .text(let text): try container.encode(text)
        case .blob(let bytes): try container.encode(["blob": Data(bytes).base64EncodedString()])
        }
    }
}
