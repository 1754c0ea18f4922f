import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetOutboxStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetOutboxStatusResponse(_message.Message):
    __slots__ = ("pending", "oldest_pending_at", "sent", "last_sent_at")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_AT_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    LAST_SENT_AT_FIELD_NUMBER: _ClassVar[int]
    pending: int
    oldest_pending_at: _timestamp_pb2.Timestamp
    sent: int
    last_sent_at: _timestamp_pb2.Timestamp
    def __init__(self, pending: _Optional[int] = ..., oldest_pending_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sent: _Optional[int] = ..., last_sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
