import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MyAccount(_message.Message):
    __slots__ = ("account_number", "product_code", "balance", "sequence", "as_of")
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CODE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    account_number: str
    product_code: str
    balance: int
    sequence: int
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, account_number: _Optional[str] = ..., product_code: _Optional[str] = ..., balance: _Optional[int] = ..., sequence: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
