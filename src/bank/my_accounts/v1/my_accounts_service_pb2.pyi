import datetime

from bank.my_accounts.v1 import my_accounts_pb2 as _my_accounts_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListMyAccountsRequest(_message.Message):
    __slots__ = ("account_number", "min_sequence")
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    account_number: str
    min_sequence: int
    def __init__(self, account_number: _Optional[str] = ..., min_sequence: _Optional[int] = ...) -> None: ...

class ListMyAccountsResponse(_message.Message):
    __slots__ = ("accounts", "stale", "view_as_of", "min_sequence_reached")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    VIEW_AS_OF_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_REACHED_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[_my_accounts_pb2.MyAccount]
    stale: bool
    view_as_of: _timestamp_pb2.Timestamp
    min_sequence_reached: bool
    def __init__(self, accounts: _Optional[_Iterable[_Union[_my_accounts_pb2.MyAccount, _Mapping]]] = ..., stale: _Optional[bool] = ..., view_as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_sequence_reached: _Optional[bool] = ...) -> None: ...

class GetAccountsSnapshotRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetAccountsSnapshotResponse(_message.Message):
    __slots__ = ("accounts", "stale")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[_my_accounts_pb2.MyAccount]
    stale: bool
    def __init__(self, accounts: _Optional[_Iterable[_Union[_my_accounts_pb2.MyAccount, _Mapping]]] = ..., stale: _Optional[bool] = ...) -> None: ...

class ListViewedAccountsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListViewedAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[ViewedAccount]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[ViewedAccount, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ViewedAccount(_message.Message):
    __slots__ = ("account_number", "customer_id", "balance", "sequence", "closed", "as_of")
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    account_number: str
    customer_id: str
    balance: int
    sequence: int
    closed: bool
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, account_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., balance: _Optional[int] = ..., sequence: _Optional[int] = ..., closed: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
