// The types a Worker and a Container class use, so that `import Berth` is enough.
@_exported import struct BerthCore.BerthError
@_exported import struct BerthCore.ObjectID
@_exported import enum BerthCore.ContainerStatus
@_exported import enum BerthCore.StopReason
@_exported import struct BerthCore.StartOptions
@_exported import enum BerthCore.WebSocketActivity
@_exported import enum BerthCore.WebSocketMessage
@_exported import protocol BerthCore.ContainerHooks
@_exported import struct BerthCore.ContainerProperties
@_exported import struct HTTPTypes.HTTPFields
@_exported import struct HTTPTypes.HTTPRequest
@_exported import struct HTTPTypes.HTTPResponse
@_exported import struct HTTPTypes.HTTPField
