import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOMER_STATUS_UNSPECIFIED: _ClassVar[CustomerStatus]
    CUSTOMER_STATUS_NORMAL: _ClassVar[CustomerStatus]
    CUSTOMER_STATUS_SUSPENDED: _ClassVar[CustomerStatus]
    CUSTOMER_STATUS_TERMINATED: _ClassVar[CustomerStatus]
CUSTOMER_STATUS_UNSPECIFIED: CustomerStatus
CUSTOMER_STATUS_NORMAL: CustomerStatus
CUSTOMER_STATUS_SUSPENDED: CustomerStatus
CUSTOMER_STATUS_TERMINATED: CustomerStatus

class Customer(_message.Message):
    __slots__ = ("customer_id", "name", "status", "version", "registered_at", "updated_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    status: CustomerStatus
    version: int
    registered_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[CustomerStatus, str]] = ..., version: _Optional[int] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
