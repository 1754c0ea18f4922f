import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATUS_UNSPECIFIED: _ClassVar[MemberStatus]
    MEMBER_STATUS_NORMAL: _ClassVar[MemberStatus]
    MEMBER_STATUS_LOCKED: _ClassVar[MemberStatus]
    MEMBER_STATUS_TERMINATED: _ClassVar[MemberStatus]

class AccountsSnapshotState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNTS_SNAPSHOT_STATE_UNSPECIFIED: _ClassVar[AccountsSnapshotState]
    ACCOUNTS_SNAPSHOT_STATE_FRESH: _ClassVar[AccountsSnapshotState]
    ACCOUNTS_SNAPSHOT_STATE_STALE: _ClassVar[AccountsSnapshotState]
    ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE: _ClassVar[AccountsSnapshotState]
MEMBER_STATUS_UNSPECIFIED: MemberStatus
MEMBER_STATUS_NORMAL: MemberStatus
MEMBER_STATUS_LOCKED: MemberStatus
MEMBER_STATUS_TERMINATED: MemberStatus
ACCOUNTS_SNAPSHOT_STATE_UNSPECIFIED: AccountsSnapshotState
ACCOUNTS_SNAPSHOT_STATE_FRESH: AccountsSnapshotState
ACCOUNTS_SNAPSHOT_STATE_STALE: AccountsSnapshotState
ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE: AccountsSnapshotState

class BankingMember(_message.Message):
    __slots__ = ("member_id", "customer_id", "banking_id", "status", "locked_until", "enrolled_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    BANKING_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOCKED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    banking_id: str
    status: MemberStatus
    locked_until: _timestamp_pb2.Timestamp
    enrolled_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., banking_id: _Optional[str] = ..., status: _Optional[_Union[MemberStatus, str]] = ..., locked_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enrolled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AccountSnapshot(_message.Message):
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
