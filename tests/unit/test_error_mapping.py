"""Domain errors become google.rpc.Status with ErrorInfo and BadRequest."""

import grpc
from google.rpc import error_details_pb2, status_pb2

from likeness_common.errors import FieldViolation, InvalidArgument, PermissionDenied
from likeness_common.interceptors import ERROR_DOMAIN, to_status


def _status(error) -> status_pb2.Status:
    status = to_status(error)
    (key, value), = [(k, v) for k, v in status.trailing_metadata if k == "grpc-status-details-bin"]
    return status.code, status_pb2.Status.FromString(value)


def test_invalid_argument_carries_error_info_and_field_violations():
    code, status = _status(
        InvalidArgument("bad", violations=[FieldViolation("display_name", "must not be empty")], metadata={"k": "v"})
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and status.details[1].Unpack(bad)
    assert (info.reason, info.domain, dict(info.metadata)) == ("INVALID_ARGUMENT", ERROR_DOMAIN, {"k": "v"})
    assert [(v.field, v.description) for v in bad.field_violations] == [("display_name", "must not be empty")]


def test_reason_can_be_specific():
    code, status = _status(PermissionDenied("no", reason="NO_MANDATE"))
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert code is grpc.StatusCode.PERMISSION_DENIED and info.reason == "NO_MANDATE"
    assert len(status.details) == 1
