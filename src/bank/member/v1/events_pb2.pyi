import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoginFailureReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOGIN_FAILURE_REASON_UNSPECIFIED: _ClassVar[LoginFailureReason]
    LOGIN_FAILURE_REASON_UNKNOWN_BANKING_ID: _ClassVar[LoginFailureReason]
    LOGIN_FAILURE_REASON_WRONG_PASSWORD: _ClassVar[LoginFailureReason]
    LOGIN_FAILURE_REASON_LOCKED: _ClassVar[LoginFailureReason]
    LOGIN_FAILURE_REASON_TERMINATED: _ClassVar[LoginFailureReason]
    LOGIN_FAILURE_REASON_CUSTOMER_NOT_NORMAL: _ClassVar[LoginFailureReason]
    LOGIN_FAILURE_REASON_MALFORMED: _ClassVar[LoginFailureReason]

class RevocationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVOCATION_REASON_UNSPECIFIED: _ClassVar[RevocationReason]
    REVOCATION_REASON_LOGOUT: _ClassVar[RevocationReason]
    REVOCATION_REASON_PASSWORD_CHANGED: _ClassVar[RevocationReason]
    REVOCATION_REASON_REFRESH_TOKEN_REUSED: _ClassVar[RevocationReason]
    REVOCATION_REASON_MEMBER_TERMINATED: _ClassVar[RevocationReason]
LOGIN_FAILURE_REASON_UNSPECIFIED: LoginFailureReason
LOGIN_FAILURE_REASON_UNKNOWN_BANKING_ID: LoginFailureReason
LOGIN_FAILURE_REASON_WRONG_PASSWORD: LoginFailureReason
LOGIN_FAILURE_REASON_LOCKED: LoginFailureReason
LOGIN_FAILURE_REASON_TERMINATED: LoginFailureReason
LOGIN_FAILURE_REASON_CUSTOMER_NOT_NORMAL: LoginFailureReason
LOGIN_FAILURE_REASON_MALFORMED: LoginFailureReason
REVOCATION_REASON_UNSPECIFIED: RevocationReason
REVOCATION_REASON_LOGOUT: RevocationReason
REVOCATION_REASON_PASSWORD_CHANGED: RevocationReason
REVOCATION_REASON_REFRESH_TOKEN_REUSED: RevocationReason
REVOCATION_REASON_MEMBER_TERMINATED: RevocationReason

class MemberEnrolled(_message.Message):
    __slots__ = ("member_id", "customer_id", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LoginSucceeded(_message.Message):
    __slots__ = ("member_id", "customer_id", "session_id", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    session_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., session_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LoginFailed(_message.Message):
    __slots__ = ("member_id", "customer_id", "reason", "consecutive_failures", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    reason: LoginFailureReason
    consecutive_failures: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., reason: _Optional[_Union[LoginFailureReason, str]] = ..., consecutive_failures: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MemberLocked(_message.Message):
    __slots__ = ("member_id", "customer_id", "locked_until", "permanent", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    LOCKED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PERMANENT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    locked_until: _timestamp_pb2.Timestamp
    permanent: bool
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., locked_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., permanent: _Optional[bool] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MemberUnlocked(_message.Message):
    __slots__ = ("member_id", "customer_id", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MemberTerminated(_message.Message):
    __slots__ = ("member_id", "customer_id", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionsRevoked(_message.Message):
    __slots__ = ("member_id", "customer_id", "session_ids", "all_sessions", "reason", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    ALL_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    session_ids: _containers.RepeatedScalarFieldContainer[str]
    all_sessions: bool
    reason: RevocationReason
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., session_ids: _Optional[_Iterable[str]] = ..., all_sessions: _Optional[bool] = ..., reason: _Optional[_Union[RevocationReason, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PasswordChanged(_message.Message):
    __slots__ = ("member_id", "customer_id", "occurred_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    customer_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
