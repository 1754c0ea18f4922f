import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BalanceChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BALANCE_CHANGE_KIND_UNSPECIFIED: _ClassVar[BalanceChangeKind]
    BALANCE_CHANGE_KIND_DEPOSIT: _ClassVar[BalanceChangeKind]
    BALANCE_CHANGE_KIND_WITHDRAWAL: _ClassVar[BalanceChangeKind]
    BALANCE_CHANGE_KIND_TRANSFER_OUT: _ClassVar[BalanceChangeKind]
    BALANCE_CHANGE_KIND_TRANSFER_IN: _ClassVar[BalanceChangeKind]
BALANCE_CHANGE_KIND_UNSPECIFIED: BalanceChangeKind
BALANCE_CHANGE_KIND_DEPOSIT: BalanceChangeKind
BALANCE_CHANGE_KIND_WITHDRAWAL: BalanceChangeKind
BALANCE_CHANGE_KIND_TRANSFER_OUT: BalanceChangeKind
BALANCE_CHANGE_KIND_TRANSFER_IN: BalanceChangeKind

class AccountOpened(_message.Message):
    __slots__ = ("account_number", "customer_id", "product_code", "sequence", "occurred_at")
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CODE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    account_number: str
    customer_id: str
    product_code: str
    sequence: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, account_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., product_code: _Optional[str] = ..., sequence: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BalanceChanged(_message.Message):
    __slots__ = ("account_number", "customer_id", "balance", "delta", "sequence", "kind", "correlation_id", "occurred_at")
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    account_number: str
    customer_id: str
    balance: int
    delta: int
    sequence: int
    kind: BalanceChangeKind
    correlation_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, account_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., balance: _Optional[int] = ..., delta: _Optional[int] = ..., sequence: _Optional[int] = ..., kind: _Optional[_Union[BalanceChangeKind, str]] = ..., correlation_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AccountClosed(_message.Message):
    __slots__ = ("account_number", "customer_id", "sequence", "occurred_at")
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    account_number: str
    customer_id: str
    sequence: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, account_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., sequence: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
