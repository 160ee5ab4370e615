// The types a Worker and a Container class use, so that `import Berth` is enough.
@_exported import struct BerthCore.BerthError
@_exported import struct BerthRuntime.ObjectID
@_exported import enum BerthRuntime.ContainerStatus
@_exported import enum BerthRuntime.StopReason
@_exported import struct BerthRuntime.StartOptions
@_exported import enum BerthConfig.WebSocketActivity
@_exported import enum BerthRuntime.WebSocketMessage
@_exported import protocol BerthRuntime.ContainerHooks
@_exported import struct HTTPTypes.HTTPFields
@_exported import struct HTTPTypes.HTTPRequest
@_exported import struct HTTPTypes.HTTPResponse
@_exported import struct HTTPTypes.HTTPField
