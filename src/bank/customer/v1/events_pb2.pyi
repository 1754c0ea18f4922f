import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerRegistered(_message.Message):
    __slots__ = ("customer_id", "customer_version", "occurred_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_version: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., customer_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerSuspended(_message.Message):
    __slots__ = ("customer_id", "customer_version", "occurred_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_version: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., customer_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerReinstated(_message.Message):
    __slots__ = ("customer_id", "customer_version", "occurred_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_version: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., customer_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerTerminated(_message.Message):
    __slots__ = ("customer_id", "customer_version", "occurred_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_version: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., customer_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
